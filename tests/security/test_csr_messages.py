"""Issue 11 item 25: a malformed CSR gets a clear, coded message, never Python's own exception text."""

from __future__ import annotations

import io

import pytest

from registry.pki import x509
from registry.services.context import ServiceContext
from tests.support.portal import alert, client_for, post_files, token

pytestmark = pytest.mark.demo_issuer  # the app fixture sets up the demo e-licence issuer first


def _nest(depth: int) -> bytes:
    inner = b"\x05\x00"  # NULL
    for _ in range(depth):
        inner = b"\x30" + (bytes([len(inner)]) if len(inner) < 128 else b"\x82" + len(inner).to_bytes(2, "big")) + inner
    return inner


PYTHON_TEXT = ("not enough values", "unpack", "index out of range", "object has no attribute", "NoneType")


@pytest.mark.parametrize("data", [_nest(1), _nest(3), _nest(200), b"\x30\x03\x02\x01\x00"])
def test_a_malformed_csr_names_the_problem_in_both_languages(data: bytes) -> None:
    with pytest.raises(x509.CertificateError) as info:
        x509.CertificationRequest.load(data)
    text = str(info.value)
    assert not any(p in text for p in PYTHON_TEXT), text
    assert info.value.code and info.value.code.startswith("csr.")
    assert "证书请求" in info.value.text("zh")


def test_the_apply_form_shows_no_python_error_text(app, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    c = client_for(app, ctx)
    r = post_files(
        c,
        "/portal/apply/seal",
        {"seal_type": "03", "action": "submit", "csr_single": (io.BytesIO(_nest(50)), "r.csr")},
        token(c, "/portal/apply/seal"),
    )
    assert r.status_code == 400
    message = alert(r)
    assert "PKCS #10" in message or "PKCS #10" in r.get_data(as_text=True)
    assert not any(p in r.get_data(as_text=True) for p in PYTHON_TEXT)
