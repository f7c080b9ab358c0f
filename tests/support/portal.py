"""The enterprise portal through the Flask test client: the legal representative's e-licence
sign-in, an authorised person's first sign-in, CSRF tokens, the error messages on a page."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from registry.db.models import Enterprise
from registry.pki import totp
from registry.services import elicence
from registry.services.context import ServiceContext
from registry.services.portal_access import Principal
from tests.support.data import SHENZHEN_USCC
from tests.support.pki import csr_for

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf(html: str) -> str:
    """The CSRF token of a portal page's form."""
    return TOKEN.search(html).group(1)  # type: ignore[union-attr]


def token(c: FlaskClient, path: str = "/portal/") -> str:
    """The CSRF token of the page at ``path``."""
    return csrf(c.get(path).get_data(as_text=True))


def alert(r: TestResponse) -> str:
    """The error messages shown on the page."""
    found = re.findall(r'<div class="error[^"]*" role="alert"[^>]*>(.*?)</div>', r.get_data(as_text=True), re.S)
    return unescape(" ".join(re.sub(r"<[^>]+>", " ", f) for f in found))


def post_files(c: FlaskClient, path: str, data: dict[str, Any], tok: str) -> TestResponse:
    return c.post(path, data={**data, "csrf_token": tok}, content_type="multipart/form-data")


# ------------------------------------------------------------------------------------------------
# The legal representative: e-licence sign-in


def login_page(client: FlaskClient) -> tuple[str, str]:
    """The sign-in page's challenge and CSRF token."""
    html = client.get("/portal/login").get_data(as_text=True)
    challenge = re.search(r'<code id="challenge">([^<]+)</code>', html).group(1)  # type: ignore[union-attr]
    return challenge, csrf(html)


def sign_in(client: FlaskClient, ctx: ServiceContext, uscc: str = SHENZHEN_USCC) -> TestResponse:
    """Sign in with the demo app's credential for the page's challenge (needs the demo issuer)."""
    challenge, token = login_page(client)
    cred = elicence.demo_credential(ctx, uscc, challenge)
    return client.post("/portal/login", data={"credential": cred, "csrf_token": token})


def client_for(app: Flask, ctx: ServiceContext, uscc: str = SHENZHEN_USCC) -> FlaskClient:
    """Signed in as the enterprise's legal representative, pages in English."""
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert sign_in(c, ctx, uscc).status_code == 302
    return c


def legal(ctx: ServiceContext, uscc: str = SHENZHEN_USCC) -> Principal:
    """The enterprise's legal representative as the portal's services see them."""
    with ctx.reader() as s:
        ent = s.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).one()
        return Principal(ent.id, ent.uscc, ent.name, ent.legal_representative)


def csr(uscc: str) -> bytes:
    """A PEM CSR of a fresh SM2 key, naming the enterprise (the key is not kept)."""
    return csr_for(uscc)[1]


# ------------------------------------------------------------------------------------------------
# Authorised persons


def one_time_password(r: TestResponse) -> str:
    """The one-time password a page shows once (a new person's, or after a reset)."""
    return re.search(r'<code id="one-time-password">([^<]+)</code>', r.get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def person_sign_in(
    app: Flask,
    ctx: ServiceContext,
    username: str,
    password: str,
    uscc: str = SHENZHEN_USCC,
    new_password: str = "a-much-longer-secret-42",
) -> tuple[FlaskClient, str]:
    """Password, enrolment, the forced password change: a signed-in client and the TOTP secret."""
    c = app.test_client()
    html = c.get("/portal/login/person").get_data(as_text=True)
    r = c.post(
        "/portal/login/person",
        data={"uscc": uscc, "username": username, "password": password, "csrf_token": csrf(html)},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/login/person/enrol"), r.get_data(
        as_text=True
    )
    html = c.get("/portal/login/person/enrol").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret"[^>]*>([A-Z2-7 ]+)</code>', html).group(1).replace(" ", "")  # type: ignore[union-attr]
    r = c.post(
        "/portal/login/person/enrol", data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": csrf(html)}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/")
    # a one-time password: every page leads to the password change first
    assert c.get("/portal/").headers["Location"].endswith("/portal/password")
    html = c.get("/portal/password").get_data(as_text=True)
    r = c.post(
        "/portal/password",
        data={"current": password, "new": new_password, "confirm": new_password, "csrf_token": csrf(html)},
    )
    assert r.status_code == 302
    return c, secret
