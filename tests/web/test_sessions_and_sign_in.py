"""Issue 11, sign-in and sessions: server-side sessions (sign-out, deactivation and resets end them
everywhere; idle and absolute lifetimes), the legal representative re-checked on every request, a
credential used once, one pending TOTP secret, staff password reset and confirmation, cookie and
header rules, password strength, lock-out under parallel requests (PostgreSQL)."""

from __future__ import annotations

import base64
import re
import threading
import zlib

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent, EnterprisePerson, User, WebSession
from registry.domain.roles import Role
from registry.pki import totp
from registry.services import elicence, enterprise_people, licences, passwords, staff_auth, web_sessions
from registry.services import person_sign_in as person_auth
from registry.services.context import ServiceContext
from registry.services.core.tx import begin, joined
from registry.web import create_app
from tests.support.data import ADMIN, SHENZHEN_USCC
from tests.support.portal import legal, login_page, one_time_password
from tests.support.portal import sign_in as portal_sign_in
from tests.support.staff import NEW_PASSWORD, csrf, page_csrf, sign_in, staff

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first


def cookie(client, name: str = "registry_session") -> str:  # type: ignore[no-untyped-def]
    c = client.get_cookie(name)
    assert c is not None, f"no {name} cookie"
    return c.value  # type: ignore[no-any-return]


def cookie_payload(value: str) -> str:
    """What a Flask session cookie carries (it is signed, not encrypted: anyone can read it)."""
    body = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return (zlib.decompress(raw) if value.startswith(".") else raw).decode()


def copied(app, client, name: str = "registry_session"):  # type: ignore[no-untyped-def]
    """Another browser holding a copy of ``client``'s cookie."""
    other = app.test_client()
    other.set_cookie(name, cookie(client, name))
    return other


def audit_actions(ctx: ServiceContext, action: str) -> list[AuditEvent]:
    with ctx.reader() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# -- staff -------------------------------------------------------------------------------------------


def test_sign_out_ends_the_session_for_a_copied_cookie_too(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    sign_in(c, ctx, "sam", staff(ctx))
    thief = copied(app, c)
    assert thief.get("/admin/").status_code == 200  # a copied cookie works while the session does
    r = c.post("/admin/logout", data={"csrf_token": page_csrf(c, "/admin/")})
    assert r.status_code == 302
    r = thief.get("/admin/")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    assert "此会话已退出登录" in thief.get(r.headers["Location"]).get_data(as_text=True)
    assert [e.actor for e in audit_actions(ctx, "signout")] == ["sam"]


def test_deactivation_and_password_reset_end_every_session(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = app.test_client()
    sign_in(adm, ctx, "adm", staff(ctx, "adm", (Role.ADMIN,)))
    phone, desk = app.test_client(), app.test_client()
    secret = sign_in(phone, ctx, "sam", staff(ctx))
    ctx.clock.advance(seconds=31)
    r = desk.post(
        "/admin/login",
        data={"username": "sam", "password": NEW_PASSWORD, "csrf_token": page_csrf(desk, "/admin/login")},
    )
    r = desk.post(
        "/admin/login/code",
        data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": page_csrf(desk, "/admin/login/code")},
    )
    assert r.status_code == 302 and desk.get("/admin/").status_code == 200
    html = adm.get("/admin/users/sam").get_data(as_text=True)
    # the reset needs its box ticked
    r = adm.post("/admin/users/sam/reset-password", data={"csrf_token": csrf(html)})
    assert r.status_code == 400 and phone.get("/admin/").status_code == 200
    r = adm.post("/admin/users/sam/reset-password", data={"csrf_token": csrf(html), "confirm": "y"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    one_time = one_time_password(r)
    for browser in (phone, desk):
        r = browser.get("/admin/")
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    # the old password no longer works; the one-time one does, with the code, then must be changed
    with pytest.raises(staff_auth.SignInFailed):
        staff_auth.check_password_step(ctx, "sam", NEW_PASSWORD)
    checked = staff_auth.check_password_step(ctx, "sam", one_time)
    assert not checked.needs_enrolment
    with ctx.reader() as s:
        user = s.scalar(select(User).where(User.username == "sam"))
        assert user is not None and user.must_change_password
    [event] = audit_actions(ctx, "user.password_reset")
    assert event.actor == "adm" and event.details == {"sessions_ended": 2}
    # an admin cannot reset their own this way
    r = adm.post("/admin/users/adm/reset-password", data={"csrf_token": csrf(html), "confirm": "y"})
    assert r.status_code == 409 and "修改密码" in r.get_data(as_text=True)


def test_a_session_ends_after_the_absolute_lifetime_however_active(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    sign_in(c, ctx, "sam", staff(ctx))
    hours = ctx.settings.session_max_hours
    for _ in range(hours * 6 - 1):  # a request every ten minutes, for just under the cap
        ctx.clock.advance(minutes=10)
        assert c.get("/admin/").status_code == 200
    ctx.clock.advance(minutes=10)
    r = c.get("/admin/seals")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    assert f"登录 {hours} 小时后会话已结束" in c.get(r.headers["Location"]).get_data(as_text=True)


def test_idle_sign_out_says_why_and_comes_back_to_the_page(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    password = staff(ctx)
    secret = sign_in(c, ctx, "sam", password)
    ctx.clock.advance(minutes=ctx.settings.session_idle_minutes + 1)
    r = c.get("/admin/seals?q=abc")
    assert r.status_code == 302
    assert r.headers["Location"] == "/admin/login?next=/admin/seals?q%3Dabc"
    html = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "分钟无操作" in html
    r = c.post(r.headers["Location"], data={"username": "sam", "password": NEW_PASSWORD, "csrf_token": csrf(html)})
    r = c.post(
        "/admin/login/code",
        data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": page_csrf(c, "/admin/login/code")},
    )
    assert r.status_code == 302 and r.headers["Location"] == "/admin/seals?q=abc"


def test_the_enrolment_secret_survives_a_reload_and_never_travels_in_the_cookie(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    password = staff(ctx)
    c.post("/admin/login", data={"username": "sam", "password": password, "csrf_token": page_csrf(c, "/admin/login")})
    first = c.get("/admin/login/enrol").get_data(as_text=True)
    again = c.get("/admin/login/enrol").get_data(as_text=True)
    shown = re.search(r'<code id="totp-secret"[^>]*>([A-Z2-7 ]+)</code>', first).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{1,4}", shown), shown  # grouped by four
    assert shown in again  # the same after a reload
    secret = shown.replace(" ", "")
    assert secret not in cookie_payload(cookie(c)) and shown not in cookie_payload(cookie(c))
    # the code from an authenticator that scanned the first page signs in
    r = c.post("/admin/login/enrol", data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": csrf(again)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")


def test_a_reused_and_a_wrong_code_get_the_same_answer(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    secret = sign_in(c, ctx, "sam", staff(ctx))
    used = totp.code_at(secret, ctx.clock.now())
    answers = []
    for code in (used, "000000" if used != "000000" else "111111"):
        other = app.test_client()
        other.post(
            "/admin/login",
            data={"username": "sam", "password": NEW_PASSWORD, "csrf_token": page_csrf(other, "/admin/login")},
        )
        r = other.post("/admin/login/code", data={"code": code, "csrf_token": page_csrf(other, "/admin/login/code")})
        assert r.status_code == 401
        answers.append(re.search(r'<div class="error"[^>]*>([^<]+)</div>', r.get_data(as_text=True)).group(1))  # type: ignore[union-attr]
    assert answers[0] == answers[1] == "动态码错误或已被使用，请等待下一个动态码"


def test_unknown_names_and_locked_accounts_do_the_same_work_and_are_audited(ctx: ServiceContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    real = passwords.dummy_work
    monkeypatch.setattr(passwords, "dummy_work", lambda p: (calls.append(p), real(p))[1])
    with pytest.raises(staff_auth.SignInFailed):
        staff_auth.check_password_step(ctx, "nobody", "guess-1")
    with pytest.raises(staff_auth.SignInFailed):
        staff_auth.check_password_step(ctx, "evil\x00name", "guess-2")  # PostgreSQL refuses a NUL: no 500
    assert [(e.actor, e.target_id) for e in audit_actions(ctx, "signin.unknown")] == [("nobody", "nobody"), ("-", "-")]
    staff(ctx)
    for _ in range(ctx.settings.login_max_failures):
        with pytest.raises(staff_auth.SignInFailed):
            staff_auth.check_password_step(ctx, "sam", "wrong")
    with pytest.raises(staff_auth.AccountLocked) as locked:
        staff_auth.check_password_step(ctx, "sam", "wrong-again")
    assert calls == ["guess-1", "guess-2", "wrong-again"]
    assert "北京时间" in locked.value.text("zh") and "分钟" in locked.value.text("zh")


@pytest.mark.parametrize(
    "weak,reason",
    [
        ("aaaaaaaaaaaa", "重复的字符"),
        ("abcdefghijklmnop", "连续序列"),
        ("password1234", "常见密码"),
        ("qwertyuiop[]", "键盘"),
        ("short", "至少需要 12 个字符"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason_in_chinese(
    app, ctx: ServiceContext, weak: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    password = staff(ctx)
    sign_in(c, ctx, "sam", password, change_password=False)
    html = c.get("/admin/password").get_data(as_text=True)
    r = c.post("/admin/password", data={"current": password, "new": weak, "confirm": weak, "csrf_token": csrf(html)})
    assert r.status_code == 400 and reason in r.get_data(as_text=True), r.get_data(as_text=True)[-2000:]
    with ctx.reader() as s:
        assert s.scalar(select(User.must_change_password).where(User.username == "sam"))


def test_the_new_password_is_typed_twice(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    password = staff(ctx)
    sign_in(c, ctx, "sam", password, change_password=False)
    html = c.get("/admin/password").get_data(as_text=True)
    assert 'name="confirm"' in html
    r = c.post(
        "/admin/password",
        data={"current": password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x", "csrf_token": csrf(html)},
    )
    assert r.status_code == 400 and "两次输入的新密码不一致" in r.get_data(as_text=True)


def test_changing_ones_password_ends_the_other_sessions_only(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    password = staff(ctx)
    sign_in(c, ctx, "sam", password, change_password=False)
    other = copied(app, c)
    with ctx.transaction() as s:  # a second browser signed in as sam
        user = s.scalar(select(User).where(User.username == "sam"))
        second = web_sessions.start(joined(ctx, s), "staff", user_id=user.id)  # type: ignore[union-attr]
    with other.session_transaction() as sess:
        sess["sid"] = second.token
    html = c.get("/admin/password").get_data(as_text=True)
    r = c.post(
        "/admin/password",
        data={"current": password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf(html)},
    )
    assert r.status_code == 302
    assert c.get("/admin/").status_code == 200
    assert other.get("/admin/").status_code == 302


def test_a_single_role_account_can_be_created_and_roles_narrowed(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    adm = app.test_client()
    sign_in(adm, ctx, "adm", staff(ctx, "adm", (Role.ADMIN,)))
    html = adm.get("/admin/users").get_data(as_text=True)
    assert not re.search(r'<input[^>]*name="roles"[^>]*required', html)  # no box demands to be ticked
    assert re.search(r'<label class="check" for="roles-0"><input[^>]*id="roles-0"[^>]*> <span>', html)  # inline
    r = adm.post("/admin/users", data={"username": "ruth", "roles": ["reviewer"], "csrf_token": csrf(html)})
    assert r.status_code == 200
    r = adm.post("/admin/users", data={"username": "nobody", "csrf_token": csrf(html)})
    assert r.status_code == 400 and "请至少选择一个角色" in r.get_data(as_text=True)
    with ctx.reader() as s:
        rita = s.scalar(select(User).where(User.username == "ruth"))
        assert rita is not None and rita.roles == {Role.REVIEWER}
        assert s.scalar(select(User).where(User.username == "nobody")) is None


# -- cookies, headers, redirects ---------------------------------------------------------------------


def test_secure_cookies_and_hsts_for_https(ctx: ServiceContext) -> None:
    from registry.config import Settings

    secure = ctx.settings.with_overrides(base_url="https://seal.example.cn", secure_cookies=True)
    assert Settings.from_env({"REGISTRY_BASE_URL": "https://seal.example.cn"}).secure_cookies
    assert not Settings.from_env({"REGISTRY_BASE_URL": "http://127.0.0.1:5000"}).secure_cookies
    assert not Settings.from_env(
        {"REGISTRY_BASE_URL": "https://x.cn", "REGISTRY_SECURE_COOKIES": "false"}
    ).secure_cookies
    with pytest.raises(SystemExit, match="REGISTRY_SECURE_COOKIES"):
        Settings.from_env({"REGISTRY_SECURE_COOKIES": "maybe"})
    original = ctx.settings
    ctx.settings = secure  # type: ignore[misc]
    try:
        app = create_app({"TESTING": True}, ctx=ctx)
        c = app.test_client()
        r = c.get("/admin/login", base_url="https://seal.example.cn")
        assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
        assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        ctx.settings = original  # type: ignore[misc]
    r = create_app({"TESTING": True}, ctx=ctx).test_client().get("/admin/login")
    assert "Secure" not in r.headers["Set-Cookie"] and "Strict-Transport-Security" not in r.headers


def test_portal_pages_are_not_cached_and_public_ones_may_be(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    assert c.get("/admin/login").headers["Cache-Control"] == "no-store"
    assert c.get("/portal/login").headers["Cache-Control"] == "no-store"
    assert c.get("/ca/nonexistent.cer").status_code == 404
    assert "no-store" not in (c.get("/").headers.get("Cache-Control") or "")


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
    ],
)
def test_the_language_switch_does_not_redirect_off_site(app, target: str) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    r = c.post("/admin/language/en", data={"csrf_token": page_csrf(c, "/admin/login"), "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/login"


def test_the_sign_in_next_is_local_only(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    password = staff(ctx)
    html = c.get("/admin/login?next=/%09/evil.example").get_data(as_text=True)
    r = c.post(
        "/admin/login?next=/%09/evil.example", data={"username": "sam", "password": password, "csrf_token": csrf(html)}
    )
    assert "next" not in cookie_payload(cookie(c))
    assert r.headers["Location"].endswith("/admin/login/enrol")


# -- the enterprise portal ---------------------------------------------------------------------------


def test_portal_sign_out_ends_a_copied_session(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    assert portal_sign_in(c, ctx).status_code == 302
    thief = copied(app, c)
    assert thief.get("/portal/").status_code == 200
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', c.get("/portal/").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert c.post("/portal/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/portal/").headers["Location"].endswith("/portal/login")


def test_a_credential_signs_in_once_even_with_the_cookie_of_its_page(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    challenge, token = login_page(c)
    pre_login = cookie(c)
    cred = elicence.demo_credential(ctx, SHENZHEN_USCC, challenge)
    assert c.post("/portal/login", data={"credential": cred, "csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("registry_session", pre_login)
    r = replay.post("/portal/login", data={"credential": cred, "csrf_token": token})
    assert r.status_code == 401 and "该凭证已用于登录过" in r.get_data(as_text=True)
    assert replay.get("/portal/").status_code == 302
    assert len(audit_actions(ctx, "signin.succeeded")) == 1


def _change_representative(ctx: ServiceContext, name: str) -> None:
    licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "active", legal_representative=name)


def test_a_change_of_legal_representative_signs_the_old_one_out(app, ctx: ServiceContext, fingerprint) -> None:  # type: ignore[no-untyped-def]
    old = app.test_client()
    portal_sign_in(old, ctx)
    html = old.get("/portal/people").get_data(as_text=True)
    assert (
        old.post(
            "/portal/people", data={"username": "li.lei", "display_name": "李雷", "csrf_token": csrf(html)}
        ).status_code
        == 200
    )
    settings_html = old.get("/portal/settings").get_data(as_text=True)
    _change_representative(ctx, "李四")
    before = fingerprint(ctx)
    for path, data in (
        ("/portal/people", {"username": "wang.wu", "display_name": "王五"}),
        ("/portal/settings", {"email": "old@example.cn"}),
    ):
        r = old.post(path, data={**data, "csrf_token": csrf(settings_html)})
        assert r.status_code == 302 and "/portal/login" in r.headers["Location"], path
    assert fingerprint(ctx) == before
    assert old.get("/portal/apply").status_code == 302
    # the new legal representative signs in and sees the old one's account, marked
    new = app.test_client()
    assert portal_sign_in(new, ctx).status_code == 302
    html = new.get("/portal/people").get_data(as_text=True)
    assert "其中 1 个账号由前任法定代表人创建" in html and "li.lei" in html
    with ctx.reader() as s:
        assert s.scalar(select(EnterprisePerson.active).where(EnterprisePerson.username == "li.lei"))


def test_the_old_representatives_services_refuse_in_their_own_transaction(ctx: ServiceContext, fingerprint) -> None:
    principal = legal(ctx)  # signed in as 张三 ...
    _change_representative(ctx, "李四")  # ... who stops being the legal representative meanwhile
    before = fingerprint(ctx)
    with pytest.raises(enterprise_people.PermissionDenied) as refused:
        enterprise_people.create_person(ctx, principal, "wang.wu", "王五")
    assert "已不是" in refused.value.text("zh")
    with pytest.raises(enterprise_people.PermissionDenied):
        enterprise_people.set_contact_email(ctx, principal, "x@example.cn")
    assert fingerprint(ctx) == before


def test_a_cancelled_licence_signs_the_representative_out(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    portal_sign_in(c, ctx)
    licences.set_licence_status(ctx, ADMIN, SHENZHEN_USCC, "cancelled")
    r = c.get("/portal/people")
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]
    assert "营业执照已不在有效状态" in c.get(r.headers["Location"]).get_data(as_text=True)
    with ctx.reader() as s:
        row = s.scalar(select(WebSession).where(WebSession.kind == "representative"))
        assert row is not None and row.end_reason == web_sessions.LICENCE_INACTIVE


def test_the_portal_idle_sign_out_keeps_the_page(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    portal_sign_in(c, ctx)
    ctx.clock.advance(minutes=ctx.settings.session_idle_minutes + 1)
    r = c.get("/portal/people")
    assert r.headers["Location"] == "/portal/login?next=/portal/people"
    html = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "分钟无操作，已自动退出" in html
    challenge = re.search(r'<code id="challenge">([^<]+)</code>', html).group(1)  # type: ignore[union-attr]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    r = c.post(
        "/portal/login",
        data={"credential": elicence.demo_credential(ctx, SHENZHEN_USCC, challenge), "csrf_token": token},
    )
    assert r.status_code == 302 and r.headers["Location"] == "/portal/people"


def test_resetting_a_person_ends_their_sessions(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from tests.support.portal import person_sign_in

    pid, password = enterprise_people.create_person(ctx, legal(ctx), "li.lei", "李雷")
    person, _secret = person_sign_in(app, ctx, "li.lei", password)
    thief = copied(app, person)
    assert thief.get("/portal/").status_code == 200
    enterprise_people.reset_second_factor(ctx, legal(ctx), pid)
    for browser in (person, thief):
        assert browser.get("/portal/").headers["Location"].endswith("/portal/login")


# -- parallel attempts on PostgreSQL -------------------------------------------------------------------


def _parallel(n: int, fn) -> list[object]:  # type: ignore[no-untyped-def]
    results: list[object] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_parallel_wrong_passwords_are_all_counted(ctx: ServiceContext) -> None:
    staff(ctx)
    limit = ctx.settings.login_max_failures
    results = _parallel(limit, lambda i: staff_auth.check_password_step(ctx, "sam", f"wrong-{i}"))
    assert all(isinstance(r, staff_auth.SignInFailed) for r in results), results
    with ctx.reader() as s:
        user = s.scalar(select(User).where(User.username == "sam"))
        assert user is not None and user.locked_until is not None  # every failure counted: locked
    assert len(audit_actions(ctx, "signin.failed")) == limit - 1 and len(audit_actions(ctx, "signin.locked")) == 1


def test_a_code_used_in_parallel_signs_in_once(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    secret = sign_in(c, ctx, "sam", staff(ctx))
    ctx.clock.advance(seconds=30)
    code = totp.code_at(secret, ctx.clock.now())
    with ctx.reader() as s:
        uid = s.scalar(select(User.id).where(User.username == "sam"))
    results = _parallel(4, lambda i: staff_auth.complete_sign_in(ctx, uid, code))  # type: ignore[arg-type]
    assert sum(isinstance(r, tuple) for r in results) == 1, results
    assert sum(isinstance(r, staff_auth.SignInFailed) for r in results) == 3


def test_people_parallel_wrong_passwords_are_all_counted(ctx: ServiceContext) -> None:
    enterprise_people.create_person(ctx, legal(ctx), "li.lei", "李雷")
    limit = ctx.settings.login_max_failures
    _parallel(limit, lambda i: person_auth.check_password_step(ctx, SHENZHEN_USCC, "li.lei", f"wrong-{i}"))
    with ctx.reader() as s:
        p = s.scalar(select(EnterprisePerson).where(EnterprisePerson.username == "li.lei"))
        assert p is not None and p.locked_until is not None


def test_web_sessions_purge_forgets_old_rows(ctx: ServiceContext) -> None:
    staff(ctx)
    with ctx.reader() as s:
        uid = s.scalar(select(User.id).where(User.username == "sam"))
    with begin(ctx, ADMIN) as tx:
        started = web_sessions.start(tx, "staff", user_id=uid)
    web_sessions.end(ctx, started.token)
    ctx.clock.advance(days=31)
    assert web_sessions.purge(ctx) >= 1
    with ctx.reader() as s:
        assert s.scalars(select(WebSession)).all() == []
    assert web_sessions.load(ctx, started.token, "staff") is None


def test_a_picture_left_behind_after_sign_out_does_not_eat_the_notice(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = app.test_client()
    sign_in(c, ctx, "sam", staff(ctx))
    assert c.post("/admin/logout", data={"csrf_token": page_csrf(c, "/admin/")}).status_code == 302
    # the previous page's picture arrives late: no sign-in page for it (which would show the notice)
    r = c.get("/admin/seals/x/picture", headers={"Sec-Fetch-Dest": "image"})
    assert r.status_code == 401
    assert "您已退出登录" in c.get("/admin/login").get_data(as_text=True)
    assert c.get("/admin/seals").status_code == 302  # a page still leads to the sign-in


def test_a_refused_sign_in_step_says_which_by_a_code(ctx: ServiceContext) -> None:
    """What the views act on is the refusal's reason code, never its English text."""
    from registry.services import sign_in as rules

    password = staff(ctx, "quentin")
    with pytest.raises(staff_auth.SignInFailed) as refused:
        staff_auth.check_password_step(ctx, "quentin", password + "x")
    assert refused.value.reason == rules.PASSWORD
    with pytest.raises(staff_auth.SignInFailed) as refused:
        staff_auth.check_password_step(ctx, "nobody", password)
    assert refused.value.reason == rules.PASSWORD
    checked = staff_auth.check_password_step(ctx, "quentin", password)
    secret, _uri = staff_auth.start_enrolment(ctx, checked.user_id)
    wrong = "000000" if totp.code_at(secret, ctx.clock.now()) != "000000" else "111111"
    with pytest.raises(staff_auth.SignInFailed) as refused:
        staff_auth.complete_sign_in(ctx, checked.user_id, wrong)
    assert refused.value.reason == rules.CODE
    assert rules.SignInFailed(rules.START_AGAIN).reason == rules.RESTART
    assert rules.SignInFailed(person_auth.WRONG_LOGIN).reason == rules.PASSWORD
    assert rules.AccountLocked(rules.LOCKED, minutes=1, until="-").reason == rules.LOCKED_OUT
