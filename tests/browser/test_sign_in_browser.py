"""Issue 11 in a real browser: a single-role staff account (the role boxes carried HTML
``required``, so only all four could be submitted), role boxes inline with their labels, the
enrolment QR code unchanged by a reload, staff password reset, confirmation of irreversible person
actions, and the idle sign-out that says why and comes back to the page."""

from __future__ import annotations

import re

from sqlalchemy import select

from registry.db.models import EnterprisePerson, User
from registry.domain.roles import Role
from registry.pki import totp
from registry.services import elicence, enterprise_people, users
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.portal import legal

from .support import expect, expect_console_error, shot
from .test_admin_browser import sign_in_first_time


def test_an_admin_creates_a_single_role_account_and_narrows_roles(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    sign_in_first_time(page, live_server, ctx, "adam", Role.ADMIN)
    page.goto(live_server + "/admin/users")
    page.get_by_text("新建工作人员账号").click()
    page.get_by_label("用户名").fill("rosa")
    reviewer = page.get_by_label(re.compile("审核："))
    reviewer.check()
    # the box sits on its label's line, left of it (not above, where it reads as the next one's)
    box, label = reviewer.bounding_box(), page.locator("label.check", has=reviewer).locator("span").bounding_box()
    assert box is not None and label is not None
    assert abs((box["y"] + box["height"] / 2) - (label["y"] + label["height"] / 2)) < label["height"]
    assert box["x"] + box["width"] <= label["x"]
    shot(page, "single-role")
    page.get_by_role("button", name="创建账号").click()
    expect(page.locator("#one-time-password")).to_be_visible()
    with ctx.reader() as s:
        rosa = s.scalar(select(User).where(User.username == "rosa"))
        assert rosa is not None and rosa.roles == {Role.REVIEWER}
    # narrowing: reviewer → operator only
    page.goto(live_server + "/admin/users/rosa")
    page.get_by_label(re.compile("审核：")).uncheck()
    page.get_by_label(re.compile("经办：")).check()
    page.get_by_role("button", name="保存角色").click()
    with ctx.reader() as s:
        rosa = s.scalar(select(User).where(User.username == "rosa"))
        assert rosa is not None and rosa.roles == {Role.OPERATOR}
    # none at all is refused by the server, with a message
    page.get_by_label(re.compile("经办：")).uncheck()
    page.get_by_role("button", name="保存角色").click()
    expect(page.get_by_text("请至少选择一个角色")).to_be_visible()
    expect_console_error(page, r"status of 400")


def test_the_enrolment_qr_code_survives_a_reload(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    _user, one_time = users.add_user(ctx, ADMIN, "olga", [Role.OPERATOR])
    page.goto(live_server + "/admin/login")
    page.get_by_label("用户名").fill("olga")
    page.get_by_label("密码").fill(one_time)
    page.get_by_role("button", name="继续").click()
    first = page.locator("#totp-secret").inner_text()
    qr = page.get_by_alt_text("身份验证器应用的二维码").get_attribute("src")
    page.reload()
    assert page.locator("#totp-secret").inner_text() == first
    assert page.get_by_alt_text("身份验证器应用的二维码").get_attribute("src") == qr
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{1,4}", first)
    page.get_by_label("6 位动态码").fill(totp.code_at(first.replace(" ", ""), ctx.clock.now()))
    page.get_by_role("button", name="确认并登录").click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()


def test_an_admin_resets_a_staff_password(page, live_server: str, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    users.add_user(ctx, ADMIN, "oscar", [Role.OPERATOR])
    sign_in_first_time(page, live_server, ctx, "adam", Role.ADMIN)
    page.goto(live_server + "/admin/users/oscar")
    page.get_by_text("重置密码", exact=True).first.click()
    page.get_by_label("是的，为该账号生成新的一次性密码").check()
    page.get_by_role("button", name="重置密码").click()
    expect(page.get_by_role("heading", name=re.compile("oscar 的新一次性密码"))).to_be_visible()
    password = page.locator("#one-time-password").inner_text()
    with ctx.reader() as s:
        oscar = s.scalar(select(User).where(User.username == "oscar"))
        assert oscar is not None and oscar.must_change_password and users.check_password(oscar, password)


def test_person_actions_ask_for_the_username_and_idle_sign_out_keeps_the_page(
    page,
    live_server: str,  # type: ignore[no-untyped-def]
    ctx: ServiceContext,
) -> None:
    elicence.ensure_demo_issuer(ctx)
    pid, _ = enterprise_people.create_person(ctx, legal(ctx), "li.lei", "李雷")
    page.goto(live_server + "/portal/login")
    challenge = page.locator("#challenge").inner_text()
    page.get_by_label(re.compile("凭证")).fill(elicence.demo_credential(ctx, SHENZHEN_USCC, challenge))
    page.get_by_role("button", name=re.compile("登录")).first.click()
    page.goto(f"{live_server}/portal/people/{pid}")
    page.get_by_text("停用", exact=True).click()
    page.get_by_role("button", name="停用此账号").click()  # nothing typed: refused, said why
    expect(page.get_by_role("alert")).to_contain_text("请输入用户名 li.lei 以确认")
    with ctx.reader() as s:
        assert s.scalar(select(EnterprisePerson.active).where(EnterprisePerson.id == pid))
    page.get_by_text("停用", exact=True).click()
    page.get_by_placeholder("li.lei").first.fill("li.lei")
    page.get_by_role("button", name="停用此账号").click()
    expect(page.locator(".flash")).to_have_text("账号已停用。")
    with ctx.reader() as s:
        assert not s.scalar(select(EnterprisePerson.active).where(EnterprisePerson.id == pid))
    # idle: the next click says why and comes back to the page after signing in again
    ctx.clock.advance(minutes=ctx.settings.session_idle_minutes + 1)
    page.goto(f"{live_server}/portal/people/{pid}")
    expect(page.get_by_text(re.compile("分钟无操作，已自动退出"))).to_be_visible()
    challenge = page.locator("#challenge").inner_text()
    page.get_by_label(re.compile("凭证")).fill(elicence.demo_credential(ctx, SHENZHEN_USCC, challenge))
    page.get_by_role("button", name=re.compile("登录")).first.click()
    expect(page).to_have_url(f"{live_server}/portal/people/{pid}")
    expect_console_error(page, r"status of 400")
