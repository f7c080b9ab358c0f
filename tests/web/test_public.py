"""Public pages through the Flask test client."""

from __future__ import annotations

from registry.pki import x509
from registry.services.context import ServiceContext
from tests.support.data import SHENZHEN_USCC
from tests.support.seals import issue


def test_home_page_lists_the_ca_certificates_with_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert "电子印章登记系统" in body and "/ca/sm2-root.cer" in body and "/ca/ecdsa-issuing.cer" in body
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"


def test_ca_certificate_named_in_aia_is_served_as_der(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    res = issue(ctx, "official")
    holder = x509.Certificate.from_der(res.certificate_der)
    r = client.get("/ca/sm2-issuing.cer")
    assert r.status_code == 200 and r.mimetype == "application/pkix-cert"
    issuing = x509.Certificate.from_der(r.data)
    assert holder.verify_signature(issuing.public_key)
    assert client.get("/ca/nope.cer").status_code == 404


def test_seal_status_page_and_json(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    res = issue(ctx, "official")
    r = client.get(f"/seals/{res.es_id}")
    assert r.status_code == 200 and res.es_id in r.get_data(as_text=True) and "active" in r.get_data(as_text=True)
    j = client.get(f"/seals/{res.es_id}", headers={"Accept": "application/json"}).get_json()
    assert j["es_id"] == res.es_id and j["status"] == "active" and j["uscc"] == SHENZHEN_USCC


def test_unknown_and_malformed_seal_codes_are_clear_errors_not_500(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/seals/440300022026AAAAAAAAAAAAA")
    assert r.status_code in (400, 404)
    r = client.get("/seals/<img src=x onerror=alert(1)>")
    assert r.status_code == 400
    body = r.get_data(as_text=True)
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
