"""Issue 11 item 25: a credential signed by the trusted issuer with a hostile payload is refused
with a clear message (it gave a 500: RecursionError in json.loads)."""

from __future__ import annotations

import base64

import pytest

from registry.pki import credential
from registry.pki.keys import PrivateKey
from registry.services.context import ServiceContext
from registry.web import create_app
from tests.support.portal import login_page


def _signed(ctx: ServiceContext, payload: bytes) -> str:
    key = PrivateKey.from_pem(ctx.settings.elicence_key.read_bytes())
    signed = f"ELC1.{base64.urlsafe_b64encode(payload).decode().rstrip('=')}"
    return f"{signed}.{base64.urlsafe_b64encode(key.sign(signed.encode())).decode().rstrip('=')}"


PAYLOADS = [
    (b'{"v":1,"x":' + b"[" * 2900 + b"]" * 2900 + b"}", "nested more than"),
    (b'{"v":1,"v":1}', "key 'v' twice"),
    (b'{"v":1' + b"0" * 5000 + b"}", "not JSON"),
    (b"\xff\xfe", "not JSON"),
]


@pytest.mark.parametrize("payload,message", PAYLOADS)
def test_hostile_payloads_are_credential_errors(issuer: ServiceContext, payload: bytes, message: str) -> None:
    key = PrivateKey.from_pem(issuer.settings.elicence_key.read_bytes())
    with pytest.raises(credential.CredentialError, match=message) as info:
        credential.parse_credential(_signed(issuer, payload), key.public_key)
    assert info.value.code and "电子营业执照凭证" in info.value.text("zh")


def test_a_deep_credential_at_the_portal_is_refused_not_a_500(issuer: ServiceContext) -> None:
    app = create_app({"TESTING": True}, ctx=issuer)
    c = app.test_client()
    _challenge, token = login_page(c)
    deep = _signed(issuer, b'{"v":1,"x":' + b"[" * 2900 + b"]" * 2900 + b"}")
    resp = c.post("/portal/login", data={"credential": deep, "csrf_token": token})
    assert resp.status_code in (400, 401), resp.status_code
    assert "nested" in resp.get_data(as_text=True) or "嵌套" in resp.get_data(as_text=True)
