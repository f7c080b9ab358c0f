"""Staff sign-in: password, TOTP enrolment and codes, lock-out, idle expiry, CSRF, languages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from registry.db.models import AuditEvent, User
from registry.pki import totp
from registry.services.context import ServiceContext
from tests.support.data import ADMIN
from tests.support.staff import NEW_PASSWORD, csrf, page_csrf, sign_in, staff


def test_first_sign_in_enrols_totp_then_forces_a_new_password(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    password = staff(ctx)
    assert client.get("/admin/").headers["Location"].startswith("/admin/login")
    sign_in(client, ctx, "sam", password)
    html = client.get("/admin/").get_data(as_text=True)
    assert "工作台" in html and "sam" in html
    with ctx.reader() as s:
        user = s.scalar(select(User).where(User.username == "sam"))
        assert user is not None and user.totp_enabled and not user.must_change_password
        assert user.totp_secret_blob is not None and b"JBSW" not in user.totp_secret_blob  # wrapped, not clear
        actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.target_id == "sam"))]
    assert actions[-3:] == ["totp.enrolled", "signin.succeeded", "user.password_changed"]


def test_second_sign_in_asks_for_a_code_and_refuses_a_replayed_one(client, app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    password = staff(ctx)
    secret = sign_in(client, ctx, "sam", password)
    used = totp.code_at(secret, ctx.clock.now())
    other = app.test_client()
    r = other.post(
        "/admin/login",
        data={"username": "sam", "password": NEW_PASSWORD, "csrf_token": page_csrf(other, "/admin/login")},
    )
    assert r.headers["Location"].endswith("/admin/login/code")
    token = page_csrf(other, "/admin/login/code")
    r = other.post("/admin/login/code", data={"code": used, "csrf_token": token})
    assert r.status_code == 401 and "已被使用" in r.get_data(as_text=True)
    ctx.clock.advance(seconds=30)
    r = other.post("/admin/login/code", data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")


def test_repeated_failures_lock_the_account_for_a_while(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    password = staff(ctx)
    for i in range(ctx.settings.login_max_failures):
        r = client.post(
            "/admin/login",
            data={"username": "sam", "password": f"wrong{i}", "csrf_token": page_csrf(client, "/admin/login")},
        )
        assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = client.post(
        "/admin/login", data={"username": "sam", "password": password, "csrf_token": page_csrf(client, "/admin/login")}
    )
    assert r.status_code == 423 and "锁定" in r.get_data(as_text=True)
    ctx.clock.advance(minutes=ctx.settings.login_lock_minutes + 1)
    r = client.post(
        "/admin/login", data={"username": "sam", "password": password, "csrf_token": page_csrf(client, "/admin/login")}
    )
    assert r.status_code == 302
    with ctx.reader() as s:
        actions = [a for (a,) in s.execute(select(AuditEvent.action).where(AuditEvent.target_id == "sam"))]
    assert actions.count("signin.failed") == ctx.settings.login_max_failures - 1 and "signin.locked" in actions


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/admin/login", data={"username": "nobody", "password": "x", "csrf_token": page_csrf(client, "/admin/login")}
    )
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)


def test_code_page_without_a_checked_password_goes_back_to_login(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/admin/login/code").headers["Location"].endswith("/admin/login")
    assert client.get("/admin/login/enrol").headers["Location"].endswith("/admin/login")


def test_password_step_expires(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    password = staff(ctx)
    client.post(
        "/admin/login", data={"username": "sam", "password": password, "csrf_token": page_csrf(client, "/admin/login")}
    )
    ctx.clock.advance(minutes=6)
    assert client.get("/admin/login/enrol").headers["Location"].endswith("/admin/login")


def test_idle_session_ends(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, ctx, "sam", staff(ctx))
    ctx.clock.advance(minutes=ctx.settings.session_idle_minutes - 1)
    assert client.get("/admin/").status_code == 200  # activity keeps it alive
    ctx.clock.advance(minutes=ctx.settings.session_idle_minutes - 1)
    assert client.get("/admin/").status_code == 200
    ctx.clock.advance(minutes=ctx.settings.session_idle_minutes + 1)
    r = client.get("/admin/")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]
    assert "无操作" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_deactivated_user_is_signed_out_at_the_next_request(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, ctx, "sam", staff(ctx))
    with ctx.transaction() as s:
        s.scalar(select(User).where(User.username == "sam")).active = False  # type: ignore[union-attr]
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("path", ["/admin/login", "/admin/logout", "/admin/language/en"])
def test_posts_without_or_with_a_stale_csrf_token_are_400(client, path: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post(path, data={"username": "sam", "password": "x"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    r = client.post(path, data={"username": "sam", "password": "x", "csrf_token": "IjEyMyI.forged.token"})
    assert r.status_code == 400


def test_sign_out_needs_a_post(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, ctx, "sam", staff(ctx))
    assert client.get("/admin/logout").status_code == 405
    token = page_csrf(client, "/admin/")
    r = client.post("/admin/logout", data={"csrf_token": token})
    assert r.status_code == 302 and client.get("/admin/").status_code == 302


def test_language_chinese_by_default_english_on_request(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    assert "工作人员登录" in client.get("/admin/login").get_data(as_text=True)
    en = client.get("/admin/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Staff sign-in" in en and 'lang="en"' in en
    token = page_csrf(client, "/admin/login")
    r = client.post("/admin/language/en", data={"csrf_token": token, "next": "/admin/login"})
    assert r.status_code == 302
    assert "Staff sign-in" in client.get("/admin/login").get_data(as_text=True)
    # the saved setting of a signed-in user wins over the browser's
    sign_in(client, ctx, "sam", staff(ctx))
    html = client.get("/admin/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Dashboard" in html


def test_security_headers_and_no_inline_script(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/admin/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in r.get_data(as_text=True)
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_open_redirect_is_refused(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    password = staff(ctx)
    client.post(
        "/admin/login?next=//evil.example/x",
        data={"username": "sam", "password": password, "csrf_token": page_csrf(client, "/admin/login")},
    )
    html = client.get("/admin/login/enrol").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")  # type: ignore[union-attr]
    r = client.post(
        "/admin/login/enrol", data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": csrf(html)}
    )
    assert r.headers["Location"].endswith("/admin/")


def test_every_portal_message_has_a_chinese_translation() -> None:
    from babel.messages.pofile import read_po

    from registry.web.i18n import TRANSLATIONS

    pot = {m.id for m in read_po((TRANSLATIONS / "messages.pot").open("rb")) if m.id}
    zh = {m.id: m.string for m in read_po((TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po").open("rb")) if m.id}
    assert pot and pot <= set(zh), f"untranslated: {sorted(pot - set(zh))[:5]}"
    assert all(zh[m] for m in pot), "empty Chinese translations"


def test_catalog_is_up_to_date_with_the_source(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Strings added to templates or views without re-extracting (scripts/update_catalogs.py) fail here."""
    import subprocess
    import sys
    from pathlib import Path

    from babel.messages.pofile import read_po

    from registry.web.i18n import TRANSLATIONS

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "fresh.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(out),
            "--no-location",
            "--omit-header",
            ".",
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )
    fresh = {m.id for m in read_po(out.open("rb")) if m.id}
    kept = {m.id for m in read_po((TRANSLATIONS / "messages.pot").open("rb")) if m.id}
    assert fresh == kept, (
        f"run scripts/update_catalogs.py: new {sorted(fresh - kept)[:5]}, gone {sorted(kept - fresh)[:5]}"
    )


def test_dashboard_figures(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    from registry.services import revocation
    from tests.support.seals import issue

    r = issue(ctx)
    ctx.clock.advance(days=1)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    sign_in(client, ctx, "sam", staff(ctx))
    html = client.get("/admin/").get_data(as_text=True)
    assert "财务专用章" in html and "<svg" in html
    assert html.count('class="bar-issued"') == 30
    today = ctx.clock.now().strftime("%Y-%m-%d")
    assert f"{today} · 吊销 1" in html
