"""The admin portal in a real browser: TOTP sign-in, dual control, revocation, CRLs, language."""

from __future__ import annotations

import re

from registry.domain.roles import Role
from registry.pki import totp
from registry.services import users
from registry.services.context import ServiceContext
from tests.support.applications import submit
from tests.support.data import ADMIN

from .support import expect, shot

NEW_PASSWORD = "a much longer passphrase 2026"


def sign_in_first_time(page, base: str, ctx: ServiceContext, name: str, *roles: Role) -> None:  # type: ignore[no-untyped-def]
    """Create the account, then do what the person does: password, scan the QR (read the key off
    the page), type the code, choose a new password."""
    _user, one_time = users.add_user(ctx, ADMIN, name, list(roles))
    page.goto(base + "/admin/login")
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(one_time)
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_role("heading", name="设置第二重验证")).to_be_visible()
    expect(page.get_by_alt_text("身份验证器应用的二维码")).to_be_visible()
    shot(page, f"enrol-{name}")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6 位动态码").fill(totp.code_at(secret, ctx.clock.now()))
    page.get_by_role("button", name="确认并登录").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    page.get_by_label("当前密码").fill(one_time)
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()


def sign_out(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_load_state("networkidle")  # the page's pictures loaded first
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_text("您已退出登录。")).to_be_visible()


def test_dual_control_issue_then_revoke_in_the_browser(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    app_id = submit(ctx)
    sign_in_first_time(page, live_server, ctx, "opal", Role.OPERATOR)
    shot(page, "dashboard")
    expect(page.locator("#kpi-submitted")).to_have_text("1")

    page.get_by_role("link", name="申请").click()
    page.get_by_role("link", name=str(app_id), exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(f"申请 #{app_id}"))).to_be_visible()
    expect(page.get_by_alt_text("印模图片")).to_be_visible()
    # the picture really loads (drawn by the server from the licence data) before the screenshot
    page.wait_for_function(
        "() => { const i = document.querySelector('img[alt=\"印模图片\"]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    shot(page, "application")
    page.get_by_role("button", name="执照已核验：标记为已审核").click()
    expect(page.get_by_text("已记录执照核验")).to_be_visible()
    sign_out(page)

    sign_in_first_time(page, live_server, ctx, "ruth", Role.REVIEWER)
    page.goto(f"{live_server}/admin/applications/{app_id}")
    page.get_by_role("button", name="批准").click()
    expect(page.get_by_text("申请已批准")).to_be_visible()
    sign_out(page)

    ctx.clock.advance(seconds=30)  # the operator's next code belongs to a new time step
    page.get_by_label("用户名").fill("opal")
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="继续").click()
    expect(page.get_by_role("heading", name="输入动态码")).to_be_visible()
    # the secret was shown once at enrolment; a person reads the code off their phone, we recompute it
    from sqlalchemy import select

    from registry.db.models import User
    from registry.pki.keys import unwrap_secret

    with ctx.reader() as s:
        user = s.scalar(select(User).where(User.username == "opal"))
        assert user is not None and user.totp_secret_blob is not None
        secret = unwrap_secret(user.totp_secret_blob, ctx.require_keyring().keys, f"totp:{user.id}:opal").decode()
    page.get_by_label("6 位动态码").fill(totp.code_at(secret, ctx.clock.now()))
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server}/admin/applications/{app_id}")
    page.get_by_role("button", name="签发印章").click()
    expect(page.get_by_text(re.compile("印章 .* 已签发"))).to_be_visible()
    code = page.url.rsplit("/", 1)[-1]
    shot(page, "issued-seal")
    sign_out(page)

    ctx.clock.advance(seconds=30)
    page.get_by_label("用户名").fill("ruth")
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="继续").click()
    with ctx.reader() as s:
        user = s.scalar(select(User).where(User.username == "ruth"))
        assert user is not None and user.totp_secret_blob is not None
        secret = unwrap_secret(user.totp_secret_blob, ctx.require_keyring().keys, f"totp:{user.id}:ruth").decode()
    page.get_by_label("6 位动态码").fill(totp.code_at(secret, ctx.clock.now()))
    page.get_by_role("button", name="登录").click()
    from registry.services import crl_publish

    before = {p.path: p.number for p in crl_publish.publish(ctx, ADMIN)}["sm2-issuing.crl"]
    page.goto(f"{live_server}/admin/seals/{code}")
    page.locator("details.danger summary", has_text="吊销").click()
    page.locator("#reason").select_option("keyCompromise")
    page.locator("#revoke-confirm").fill(code)
    shot(page, "revoke-confirm")
    page.get_by_role("button", name="吊销此印章").click()
    expect(page.get_by_text("印章已吊销")).to_be_visible()
    expect(page.locator("h1 .status")).to_have_text("已吊销")

    # an admin publishes now and the CRL page shows the SM2 issuing CA's next CRL number
    sign_out(page)
    sign_in_first_time(page, live_server, ctx, "ada", Role.ADMIN)
    page.get_by_role("link", name="证书撤销列表").click()
    page.locator("#publish-now").click()
    expect(page.locator("#published")).to_be_visible()
    number = page.locator('#crls a.crl-number[data-path="sm2-issuing.crl"]')
    expect(number).not_to_have_text(str(before))
    # one number series per issuer across full, delta and shard CRLs: the full CRL's number moved up
    assert int(number.inner_text()) > before
    shot(page, "crls")

    # language: English on request, remembered for this user
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("link", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    shot(page, "dashboard-en")


def test_the_trust_list_page_shows_the_pins_and_an_admin_publishes(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from registry.services import trust_lists

    trust_lists.publish(ctx, ADMIN)
    pins = dict(trust_lists.fingerprints(ctx))
    sign_in_first_time(page, live_server, ctx, "ida", Role.ADMIN)
    page.get_by_role("link", name="信任列表").click()
    expect(page.get_by_role("heading", name="本机构的信任列表")).to_be_visible()
    expect(page.locator("#sequence")).to_have_text("1")
    for alg, hexdigest in pins.items():
        row = page.locator(f'#keys tr[data-alg="{alg}"][data-status="current"]')
        expect(row.locator("code.fingerprint")).to_have_text(hexdigest)
        # the grouped form someone reads out over the phone: sixteen groups of four
        expect(row.locator(".grouped")).to_have_text(" ".join(hexdigest[i : i + 4] for i in range(0, 64, 4)))
    expect(page.locator("#services tr")).to_have_count(7)  # the header and six services
    shot(page, "trust-list")
    page.locator("#publish-now").click()
    expect(page.locator("#published")).to_contain_text("刚刚发布：第 2 版列表")
    expect(page.locator("#sequence")).to_have_text("2")
    expect(page.locator("#versions tr")).to_have_count(3)
    # the link to the signed list opens the file the page describes
    href = page.get_by_role("link", name="list.jws", exact=True).get_attribute("href")
    body = page.request.get(live_server + href)
    assert body.status == 200 and body.headers["content-type"] == "application/jose+json"
    assert trust_lists.current(ctx).jws == body.body()  # type: ignore[union-attr]
