"""The enterprise portal in a real browser, end to end: an enterprise signs in with its e-licence
credential and applies for the set of four; an operator and a reviewer approve them in the admin
portal; the enterprise downloads its .esl, then reports one seal lost and sees it revoked; another
enterprise gets nothing of it."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from registry.db.models import SealApplication, User
from registry.domain.roles import Role
from registry.domain.seal_types import STANDARD_SET
from registry.pki import ses, totp
from registry.pki.keys import unwrap_secret
from registry.services import elicence
from registry.services.context import ServiceContext
from tests.support.data import OTHER_USCC, SHENZHEN_USCC
from tests.support.portal import csr

from .support import expect, expect_console_error, shot
from .test_admin_browser import NEW_PASSWORD, sign_in_first_time, sign_out


def portal_sign_in(page, base: str, ctx: ServiceContext, uscc: str) -> None:  # type: ignore[no-untyped-def]
    """What the legal representative does: open the login page, let the e-licence app answer the
    challenge shown there (we play the app), paste the credential."""
    elicence.ensure_demo_issuer(ctx)
    page.goto(base + "/portal/login")
    challenge = page.locator("#challenge").inner_text()
    expect(page.get_by_alt_text("供电子营业执照应用扫描的挑战码")).to_be_visible()
    page.locator("#credential").fill(elicence.demo_credential(ctx, uscc, challenge))
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()


def staff_again(page, base: str, ctx: ServiceContext, name: str) -> None:  # type: ignore[no-untyped-def]
    ctx.clock.advance(seconds=30)  # a new TOTP time step
    page.goto(base + "/admin/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="继续").click()
    with ctx.reader() as s:
        user = s.scalars(select(User).where(User.username == name)).one()
        secret = unwrap_secret(
            user.totp_secret_blob or b"", ctx.require_keyring().keys, f"totp:{user.id}:{name}"
        ).decode()
    page.get_by_label("6 位动态码").fill(totp.code_at(secret, ctx.clock.now()))
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()


def test_enterprise_applies_staff_approve_enterprise_downloads_and_reports_loss(  # type: ignore[no-untyped-def]
    page, live_server: str, ctx: ServiceContext, tmp_path: Path
) -> None:
    base = live_server
    # 1. the enterprise signs in with its e-licence and applies for the set of four
    portal_sign_in(page, base, ctx, SHENZHEN_USCC)
    shot(page, "portal-home-empty")
    page.goto(base + "/portal/apply")
    for t in STANDARD_SET:
        f = tmp_path / f"{t.code}.csr"
        f.write_bytes(csr(SHENZHEN_USCC))
        page.locator(f"#csr_{t.code}").set_input_files(str(f))
    # the previews are real pictures drawn by the server
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure.preview img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(page, "portal-apply")
    page.locator('button[value="submit"]').click()
    expect(page.get_by_text("已提交 4 份申请")).to_be_visible()
    with ctx.reader() as s:
        ids = s.scalars(
            select(SealApplication.id).where(SealApplication.state == "submitted").order_by(SealApplication.id)
        ).all()
    assert len(ids) == 4
    page.get_by_role("link", name=str(ids[0]), exact=True).click()
    expect(page.locator(".timeline")).to_be_visible()
    shot(page, "portal-application-timeline")
    page.get_by_role("button", name="退出登录").click()

    # 2. an operator checks the licence, a reviewer approves, the operator issues (admin portal)
    sign_in_first_time(page, base, ctx, "opal", Role.OPERATOR)
    for app_id in ids:
        page.goto(f"{base}/admin/applications/{app_id}")
        page.get_by_role("button", name="执照已核验：标记为已审核").click()
        expect(page.get_by_text("已记录执照核验")).to_be_visible()
    sign_out(page)
    sign_in_first_time(page, base, ctx, "ruth", Role.REVIEWER)
    for app_id in ids:
        page.goto(f"{base}/admin/applications/{app_id}")
        page.get_by_role("button", name="批准").click()
        expect(page.get_by_text("申请已批准")).to_be_visible()
    sign_out(page)
    staff_again(page, base, ctx, "opal")
    for app_id in ids:
        page.goto(f"{base}/admin/applications/{app_id}")
        page.get_by_role("button", name="签发印章").click()
        expect(page.get_by_text(re.compile("印章 .* 已签发"))).to_be_visible()
    sign_out(page)

    # 3. the enterprise sees its four seals and downloads one .esl
    portal_sign_in(page, base, ctx, SHENZHEN_USCC)
    links = page.locator("a[href*='/portal/seals/']")
    expect(links).to_have_count(4)
    shot(page, "portal-home-seals")
    codes = [h.rsplit("/", 1)[-1] for h in links.evaluate_all("els => els.map(e => e.getAttribute('href'))")]
    lost = codes[0]
    links.first.click()
    expect(page.locator("#seal-status")).to_have_text("有效")
    shot(page, "portal-seal")
    with page.expect_download() as dl:
        page.get_by_role("link", name="电子印章（.esl）").click()
    path = dl.value.path()
    seal = ses.parse_seal(Path(path).read_bytes())
    assert seal.es_id == lost
    page.get_by_role("link", name="可打印的印章证明").click()
    expect(page.locator("#status-qr")).to_be_visible()
    shot(page, "portal-certificate")
    page.go_back()

    # 4. it reports the seal lost: revoked at once, the public status page agrees
    page.locator("#loss_confirm").fill(lost)
    page.get_by_role("button", name="挂失并立即吊销").click()
    expect(page.locator("#seal-status")).to_have_text("已吊销")
    shot(page, "portal-seal-revoked")
    page.goto(f"{base}/seals/{lost}")
    expect(page.locator("body")).to_contain_text("keyCompromise")
    page.goto(base + "/portal/")
    page.get_by_role("button", name="退出登录").click()

    # 5. another enterprise gets nothing of it
    portal_sign_in(page, base, ctx, OTHER_USCC)
    for code in codes:
        expect(page.locator("body")).not_to_contain_text(code)
    r = page.goto(f"{base}/portal/seals/{codes[1]}")
    assert r is not None and r.status == 404
    expect_console_error(page, rf"status of 404 .* @ .*/portal/seals/{codes[1]}$")
    r = page.goto(f"{base}/portal/seals/{codes[1]}/seal.esl")
    assert r is not None and r.status == 404
    expect_console_error(page, rf"status of 404 .* @ .*/portal/seals/{codes[1]}/seal.esl$")
    r = page.goto(f"{base}/portal/applications/{ids[1]}")
    assert r is not None and r.status == 404
    expect_console_error(page, rf"status of 404 .* @ .*/portal/applications/{ids[1]}$")
    shot(page, "other-enterprise-404")
