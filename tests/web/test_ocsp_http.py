"""OCSP over HTTP (RFC 6960 Appendix A, RFC 5019): GET and POST, caching headers, errors as OCSP
statuses with HTTP 200, and thousands of mutated requests that never end in a 500."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import urllib.parse
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.pki import ocsp as pki_ocsp
from registry.pki import x509
from registry.services import authorities, ocsp, revocation, seals
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, NOW
from tests.support.seals import issue_with_algorithm

CT = "application/ocsp-response"


def _request(ctx: ServiceContext, alg: str = "ecdsa", nonce: bytes | None = None) -> tuple[bytes, seals.IssueResult]:
    res = issue_with_algorithm(ctx, alg)
    with ctx.reader() as s:
        ca = authorities.chain(ctx, s, f"{alg}-issuing")[0]
    serial = x509.Certificate.from_der(res.certificate_der).serial
    cid = pki_ocsp.cert_id(pki_ocsp.HashAlgorithm.SHA1, ca.subject_der, ca.public_key.point, serial)
    return pki_ocsp.build_request([cid], nonce), res


def _status(body: bytes) -> pki_ocsp.ResponseStatus:
    return pki_ocsp.parse_response(body).status


def test_post_and_get_serve_the_presigned_response_with_rfc5019_caching_headers(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    req, _res = _request(ctx)
    ctx.clock.advance(hours=2)
    post = client.post("/ocsp", data=req, content_type="application/ocsp-request")
    b64 = base64.b64encode(req).decode()
    get = client.get("/ocsp/" + urllib.parse.quote(b64, safe=""))
    for r in (post, get):
        assert r.status_code == 200 and r.mimetype == CT
        assert r.headers["Cache-Control"] == f"max-age={22 * 3600}, public, no-transform, must-revalidate"
        assert parsedate_to_datetime(r.headers["Last-Modified"]) == NOW
        assert parsedate_to_datetime(r.headers["Expires"]) == NOW + dt.timedelta(hours=24)
        assert r.headers["ETag"] == '"' + hashlib.sha256(r.data).hexdigest()[:40] + '"'
        (single,) = pki_ocsp.parse_response(r.data).responses
        assert single.status == "good"
    assert post.data == get.data
    # unencoded, URL-safe and unpadded forms of the same request
    for path in ("/ocsp/" + b64, "/ocsp/" + base64.urlsafe_b64encode(req).decode().rstrip("="), "/ocsp//" + b64):
        assert client.get(path).data == get.data
    again = client.get("/ocsp/" + b64, headers={"If-None-Match": get.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    head = client.head("/ocsp/" + b64)
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == get.headers["ETag"]


def test_nonce_responses_and_errors_are_not_cacheable(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    req, _res = _request(ctx, nonce=b"0123456789abcdef")
    r = client.post("/ocsp", data=req, content_type="application/ocsp-request")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store" and "ETag" not in r.headers
    assert pki_ocsp.parse_response(r.data).nonce is not None
    bad = client.post("/ocsp", data=b"garbage", content_type="application/ocsp-request")
    assert bad.status_code == 200 and bad.mimetype == CT and bad.headers["Cache-Control"] == "no-store"
    assert _status(bad.data) is pki_ocsp.ResponseStatus.MALFORMED_REQUEST


def test_a_revocation_is_served_at_once(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    req, res = _request(ctx, "sm2")
    assert pki_ocsp.parse_response(client.post("/ocsp", data=req).data).responses[0].status == "good"
    ctx.clock.advance(minutes=5)
    revocation.revoke_seal(ctx, ADMIN, res.es_id, "affiliationChanged")
    single = pki_ocsp.parse_response(client.post("/ocsp", data=req).data).responses[0]
    assert single.status == "revoked" and single.revoked_at == ctx.clock.now()


@pytest.mark.parametrize(
    "how",
    ["truncated", "garbage", "oversized", "empty", "bad base64", "no request", "unknown issuer", "unsupported hash"],
)
def test_bad_input_is_an_ocsp_error_status_never_a_500(ctx: ServiceContext, client, how: str) -> None:  # type: ignore[no-untyped-def]
    req, _res = _request(ctx)
    expected = pki_ocsp.ResponseStatus.MALFORMED_REQUEST
    if how == "truncated":
        r = client.post("/ocsp", data=req[:-5])
    elif how == "garbage":
        r = client.post("/ocsp", data=b"\x00\xff" * 40)
    elif how == "oversized":
        r = client.post("/ocsp", data=req + b"\x00" * (64 * 1024))
    elif how == "empty":
        r = client.post("/ocsp", data=b"")
    elif how == "bad base64":
        r = client.get("/ocsp/@@not*base64@@")
    elif how == "no request":
        r = client.get("/ocsp")
    elif how == "unknown issuer":
        cid = pki_ocsp.cert_id(pki_ocsp.HashAlgorithm.SHA1, b"\x30\x00", b"\x04" + b"\x07" * 64, 99)
        r = client.post("/ocsp", data=pki_ocsp.build_request([cid]))
        expected = pki_ocsp.ResponseStatus.UNAUTHORIZED  # RFC 5019 §2.2.3
    else:
        r = client.post("/ocsp", data=req.replace(bytes.fromhex("2b0e03021a"), bytes.fromhex("2b0e03021b")))
    assert r.status_code == 200 and r.mimetype == CT
    assert _status(r.data) is expected


def test_other_methods_get_405_and_other_paths_are_untouched(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    r = client.put("/ocsp", data=b"x")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    assert client.get("/ocspx").status_code == 404
    assert client.get("/crl/index.json").status_code == 200


def test_an_internal_failure_is_an_internal_error_status_not_a_500(ctx: ServiceContext, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    req, _res = _request(ctx)

    def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("database gone")

    monkeypatch.setattr(ocsp, "answer", broken)
    r = client.post("/ocsp", data=req)
    assert r.status_code == 200 and _status(r.data) is pki_ocsp.ResponseStatus.INTERNAL_ERROR


_FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


@pytest.mark.slow
def test_thousands_of_mutated_requests_never_escape(ctx: ServiceContext, client) -> None:  # type: ignore[no-untyped-def]
    req, _res = _request(ctx)
    nonce_req, _ = _request(ctx, "sm2", nonce=b"n" * 16)
    seen: dict[str, int] = {}

    @_FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        body = bytearray(data.draw(st.sampled_from([req, nonce_req])))
        for _ in range(data.draw(st.integers(1, 5))):
            op = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete", "replace"]))
            pos = data.draw(st.integers(0, max(0, len(body) - 1)))
            if op == "flip" and body:
                body[pos] ^= 1 << data.draw(st.integers(0, 7))
            elif op == "truncate":
                del body[pos:]
            elif op == "insert":
                body[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
            elif op == "delete" and body:
                del body[pos : pos + data.draw(st.integers(1, 4))]
            elif body:
                body[pos] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            r = client.post("/ocsp", data=bytes(body), content_type="application/ocsp-request")
        else:
            r = client.get("/ocsp/" + urllib.parse.quote(base64.b64encode(bytes(body)).decode(), safe=""))
        assert r.status_code == 200 and r.mimetype == CT
        status = _status(r.data)
        seen[status.name] = seen.get(status.name, 0) + 1
        assert status is not pki_ocsp.ResponseStatus.INTERNAL_ERROR

    run()
    assert sum(seen.values()) >= 1000 and "MALFORMED_REQUEST" in seen and "SUCCESSFUL" in seen
