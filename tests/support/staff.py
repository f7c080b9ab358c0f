"""Staff accounts and the staff portal's whole first sign-in (password, TOTP enrolment, password
change) through the Flask test client."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from registry.domain.roles import Role
from registry.pki import totp
from registry.services import users
from registry.services.context import ServiceContext
from tests.support.data import ADMIN

NEW_PASSWORD = "correct horse battery staple"


def csrf(html: str) -> str:
    """The CSRF token of a staff page's form."""
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert m, "no CSRF token in the page"
    return m.group(1)


def page_csrf(client: FlaskClient, path: str) -> str:
    """The CSRF token of the page at ``path``."""
    return csrf(client.get(path).get_data(as_text=True))


def staff(ctx: ServiceContext, name: str = "sam", roles: tuple[Role, ...] = (Role.OPERATOR,)) -> str:
    """A new staff account with these roles; its one-time password."""
    _user, password = users.add_user(ctx, ADMIN, name, list(roles))
    return password


def sign_in(client: FlaskClient, ctx: ServiceContext, name: str, password: str, *, change_password: bool = True) -> str:
    """The whole first sign-in as a person does it; returns the TOTP secret they scanned."""
    r = client.post(
        "/admin/login", data={"username": name, "password": password, "csrf_token": page_csrf(client, "/admin/login")}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login/enrol"), r.get_data(as_text=True)[:500]
    html = client.get("/admin/login/enrol").get_data(as_text=True)
    assert 'src="data:image/png;base64,' in html
    secret = re.search(r'<code id="totp-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")  # type: ignore[union-attr]
    r = client.post(
        "/admin/login/enrol", data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": csrf(html)}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/"), r.get_data(as_text=True)[:500]
    if change_password:
        r = client.get("/admin/")
        assert r.status_code == 302 and r.headers["Location"].endswith("/admin/password")
        r = client.post(
            "/admin/password",
            data={
                "current": password,
                "new": NEW_PASSWORD,
                "confirm": NEW_PASSWORD,
                "csrf_token": page_csrf(client, "/admin/password"),
            },
        )
        assert r.status_code == 302
    return secret


def client_as(app: Flask, ctx: ServiceContext, name: str, *roles: Role) -> FlaskClient:
    """A client signed in as a new staff member with these roles (pages in Chinese, the default)."""
    client = app.test_client()
    sign_in(client, ctx, name, staff(ctx, name, roles))
    return client


def publish_now(client: FlaskClient) -> TestResponse:
    """Publish the CRLs from the CRL page (an operator's client)."""
    return client.post("/admin/crls/publish", data={"csrf_token": page_csrf(client, "/admin/crls")})


# -- at the command line (counter_auth) -----------------------------------------------------------

COUNTER_PASSWORD = "correct horse battery staple 42"


def enrolled(ctx: ServiceContext, name: str, *roles: Role) -> str:
    """A staff account that signed in, enrolled its authenticator and chose its own password
    (``COUNTER_PASSWORD``): one that may act at the command line. Returns its TOTP secret."""
    import datetime as dt

    from registry.services import staff_auth

    _u, one_time = users.add_user(ctx, ADMIN, name, list(roles))
    step = staff_auth.check_password_step(ctx, name, one_time)
    secret, _uri = staff_auth.start_enrolment(ctx, step.user_id)
    actor, _token = staff_auth.complete_sign_in(ctx, step.user_id, totp.code_at(secret, dt.datetime.now(dt.UTC)))
    staff_auth.change_password(ctx, actor, one_time, COUNTER_PASSWORD)
    return secret


def next_code(secret: str, steps: int = 1) -> str:
    """A code ``steps`` time steps ahead (the current one was used at enrolment; codes are used once)."""
    import datetime as dt

    return totp.code_at(secret, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * steps))
