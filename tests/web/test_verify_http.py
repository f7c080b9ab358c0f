"""Verification and seal status over HTTP: the JSON API, the public page, OpenAPI, bad input."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.domain.esid import make_esid
from registry.domain.seal_types import SealType
from registry.services import revocation, seals
from registry.services.context import ServiceContext
from registry.web import create_app
from tests.support.data import ADMIN, SHENZHEN_USCC, VECTORS
from tests.support.seals import issue, sign

DOC = b"loan agreement 2026-77"


def _signed(ctx: ServiceContext) -> tuple[seals.IssueResult, bytes]:
    r = issue(ctx, "contract")
    ctx.clock.advance(minutes=1)
    return r, sign(ctx, r, DOC, "loan.txt")


def _post(client, path: str = "/api/v1/verify", **files: bytes):  # type: ignore[no-untyped-def]
    data = {k: (io.BytesIO(v), f"{k}.bin") for k, v in files.items()}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_api_verifies_a_signature_with_its_document(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r, sig = _signed(ctx)
    resp = _post(client, file=sig, document=DOC)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert body["verdict"] == "valid" and body["valid"] is True and body["kind"] == "signature"
    (item,) = body["signatures"]
    assert item["seal"]["es_id"] == r.es_id
    assert [c["id"] for c in item["checks"]] == [
        "format",
        "signer_signature",
        "signer_in_seal",
        "seal_signature",
        "maker_certificate",
        "seal_validity",
        "signer_certificate",
        "document_digest",
    ]
    assert all(c["result"] == "pass" and c["reason_zh"] and c["reason_en"] for c in item["checks"])
    bad = _post(client, file=sig, document=DOC + b"!").get_json()
    assert bad["verdict"] == "invalid" and bad["signatures"][0]["checks"][-1]["result"] == "fail"


def test_api_seal_and_ofd(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx, "contract")
    assert _post(client, file=r.seal_der).get_json()["verdict"] == "valid"
    if (VECTORS / "V4RideRight.ofd").exists():
        body = _post(client, file=(VECTORS / "V4RideRight.ofd").read_bytes()).get_json()
        assert body["kind"] == "ofd" and body["verdict"] == "invalid"
        checks = {c["id"]: c["result"] for c in body["signatures"][0]["checks"]}
        assert checks["document_parts"] == "pass" and checks["signer_signature"] == "pass"


@pytest.mark.parametrize(
    "payload, status, message",
    [
        (None, 400, "no file in the form field 'file'"),
        (b"", 400, "empty"),
        (b"not a seal", 400, "neither DER nor ZIP"),
        (b"\x30\x82\xff", 400, "neither an electronic seal"),
        (b"PK\x03\x04\x00\x00", 400, "not a readable ZIP"),
    ],
)
def test_api_bad_input_is_a_clear_json_error(client, payload, status, message) -> None:  # type: ignore[no-untyped-def]
    resp = _post(client) if payload is None else _post(client, file=payload)
    assert resp.status_code == status
    assert message in resp.get_json()["message"]


def test_upload_over_the_limit_is_413(ctx: ServiceContext) -> None:
    small = ServiceContext(
        ctx.settings.with_overrides(verify_max_bytes=4096),
        ctx.engine,
        ctx.session_factory,
        ctx.read_session_factory,
        ctx.clock,
        ctx.keyring,
    )
    client = create_app({"TESTING": True}, ctx=small).test_client()
    resp = _post(client, file=b"\x30" * 5000)
    assert resp.status_code == 413 and resp.is_json
    resp = _post(client, "/verify", file=b"\x30" * 5000)
    assert resp.status_code == 413 and "上传文件过大" in resp.get_data(as_text=True)
    # the whole request over MAX_CONTENT_LENGTH is refused before it is read
    big = create_app({"TESTING": True, "MAX_CONTENT_LENGTH": 1000}, ctx=small).test_client()
    assert _post(big, file=b"\x30" * 2000).status_code == 413


def test_seal_status_api(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx, "contract")
    body = client.get(f"/api/v1/seals/{r.es_id}").get_json()
    assert body["es_id"] == r.es_id and body["status"] == "active"
    assert body["type"] == {"code": "04", "name_en": "contract", "name_zh": "合同专用章"}
    assert body["holder"]["uscc"] == SHENZHEN_USCC and body["revoked_at"] is None
    assert body["valid_start"].endswith("Z") and body["certificates"][0]["status"] == "good"
    ctx.clock.advance(hours=2)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "keyCompromise")
    body = client.get(f"/api/v1/seals/{r.es_id.lower()}").get_json()
    assert body["status"] == "revoked" and body["revocation_reason"] == "keyCompromise"
    assert body["revoked_at"] == ctx.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["certificates"][0]["revocation_reason"] == "keyCompromise"


def test_seal_status_suspended_and_superseded(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx, "contract")
    ctx.clock.advance(minutes=3)
    revocation.suspend_seal(ctx, ADMIN, r.es_id)
    body = client.get(f"/api/v1/seals/{r.es_id}").get_json()
    assert body["status"] == "suspended" and body["suspended_at"] == ctx.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    revocation.resume_seal(ctx, ADMIN, r.es_id)
    new = seals.renew_seal(ctx, ADMIN, r.es_id, seals.KeyMaterial(generate=True))
    body = client.get(f"/api/v1/seals/{r.es_id}").get_json()
    assert body["status"] == "revoked" and body["revocation_reason"] == "superseded"
    assert body["superseded_by"] == new.es_id


def test_seal_status_unknown_is_404_and_malformed_is_400(client) -> None:  # type: ignore[no-untyped-def]
    unknown = make_esid("440300", SealType.FINANCE, 2026)
    resp = client.get(f"/api/v1/seals/{unknown}")
    assert resp.status_code == 404 and resp.get_json()["message"] == f"no seal with code {unknown}"
    resp = client.get("/api/v1/seals/NOT-A-CODE")
    assert resp.status_code == 400 and "not a seal code" in resp.get_json()["message"]


def test_openapi_describes_every_api_route(client) -> None:  # type: ignore[no-untyped-def]
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    app = client.application
    api_rules = {
        r.rule.replace("<code>", "{esId}")
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/") and r.rule != "/api/v1/openapi.json"
    }
    assert api_rules == set(doc["paths"])
    for ops in doc["paths"].values():
        for op in ops.values():
            assert "200" in op["responses"] and op["operationId"]
    # every $ref resolves
    refs = {v for v in _walk(doc) if isinstance(v, str) and v.startswith("#/")}
    for ref in refs:
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]


def _walk(node):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)
    else:
        yield node


def test_public_verify_page_renders_the_verdict_escaped(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r, sig = _signed(ctx)
    page = client.get("/verify")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    data = {"file": (io.BytesIO(sig), "<script>alert(1)</script>.dat"), "document": (io.BytesIO(DOC), "loan.txt")}
    resp = client.post("/verify", data=data, content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "有效 / Valid" in html and r.es_id in html and "签章人签名值" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    resp = client.post("/verify", data={"file": (io.BytesIO(b"<b>junk</b>"), "x")}, content_type="multipart/form-data")
    assert resp.status_code == 400 and "neither DER nor ZIP" in resp.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------
# Property: the endpoint never answers 500, whatever it is sent


@pytest.fixture
def fuzz_material(ctx: ServiceContext):  # type: ignore[no-untyped-def]
    r, sig = _signed(ctx)
    samples = [r.seal_der, sig]
    for name in ("V4RideRight.ofd", "SignedValueV5.dat", "UserV1.esl"):
        if (VECTORS / name).exists():
            samples.append((VECTORS / name).read_bytes())
    return create_app({"TESTING": True}, ctx=ctx).test_client(), samples


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_mutated_uploads_never_make_the_endpoint_fail(fuzz_material, data) -> None:  # type: ignore[no-untyped-def]
    client, samples = fuzz_material
    body = bytearray(data.draw(st.sampled_from(samples)))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(body) - 1)) if body else 0
        op = data.draw(st.sampled_from(["flip", "truncate", "insert"]))
        if op == "flip" and body:
            body[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "truncate":
            del body[pos:]
        else:
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=6))
    with_doc = data.draw(st.booleans())
    resp = _post(client, file=bytes(body), **({"document": DOC} if with_doc else {}))
    assert resp.status_code in (200, 400), resp.get_data(as_text=True)[:300]
    payload = json.loads(resp.get_data(as_text=True))
    assert ("verdict" in payload) if resp.status_code == 200 else payload["message"]


def test_public_seal_page_shows_revocation_reason_and_time(client, ctx: ServiceContext) -> None:  # type: ignore[no-untyped-def]
    r = issue(ctx, "contract")
    ctx.clock.advance(hours=1)
    revocation.revoke_seal(ctx, ADMIN, r.es_id, "affiliationChanged")
    html = client.get(f"/seals/{r.es_id}").get_data(as_text=True)
    assert "已吊销 revoked" in html and "affiliationChanged" in html
    assert ctx.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ") in html
