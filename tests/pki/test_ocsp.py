"""OCSP encoding and decoding (RFC 6960): requests made by OpenSSL and by us are read; responses we
build are read back by `cryptography` (an independent decoder) with their signatures checked; bad
input is an OcspError naming what is wrong, never another exception."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as cocsp
from hypothesis import given
from hypothesis import strategies as st

from registry.pki import der, ocsp
from registry.pki.crl import CrlReason
from registry.pki.keys import Algorithm, PrivateKey
from registry.pki.x509 import Name
from tests.support.data import NOW
from tests.support.pki import PROPERTY, ossl

LATER = NOW + dt.timedelta(hours=24)
ISSUER_NAME = Name.build(C="CN", O="测试", CN="Issuing CA").der()
KEYS = {alg: PrivateKey.generate(alg) for alg in Algorithm}


def cid(
    serial: int = 0x4321, alg: ocsp.HashAlgorithm = ocsp.HashAlgorithm.SHA1, key: PrivateKey = KEYS[Algorithm.ECDSA]
) -> ocsp.CertId:
    return ocsp.cert_id(alg, ISSUER_NAME, key.public_key.point, serial)


def test_request_round_trip_with_every_hash_algorithm_and_a_nonce() -> None:
    for alg in ocsp.HashAlgorithm:
        c = cid(alg=alg)
        req = ocsp.parse_request(ocsp.build_request([c], nonce=b"\x01" * 16))
        (got,) = req.cert_ids
        assert got == c and got.issuer_name_hash == alg.digest(ISSUER_NAME)
        assert req.nonce == der.octet_string(b"\x01" * 16) and req.nonce_extension is not None
    assert ocsp.parse_request(ocsp.build_request([cid()])).nonce is None


def test_a_request_made_by_openssl_is_read(openssl: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = cx509.Name([cx509.NameAttribute(cx509.oid.NameOID.COMMON_NAME, "CA")])
    ca = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(LATER)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "ca.pem").write_bytes(
        ca.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM)
    )
    for extra, alg in ((["-sha1"], ocsp.HashAlgorithm.SHA1), (["-sha256"], ocsp.HashAlgorithm.SHA256)):
        out = tmp_path / f"{alg.value}.der"
        ossl(openssl, "ocsp", "-issuer", tmp_path / "ca.pem", *extra, "-serial", "0x1234ABCD", "-reqout", out)
        req = ocsp.parse_request(out.read_bytes())
        (c,) = req.cert_ids
        assert c.serial == 0x1234ABCD and c.hash_algorithm is alg
        assert c.issuer_name_hash == alg.digest(ca.subject.public_bytes())
        point = key.public_key().public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.X962,
            __import__(
                "cryptography.hazmat.primitives.serialization", fromlist=["PublicFormat"]
            ).PublicFormat.UncompressedPoint,
        )
        assert c.issuer_key_hash == alg.digest(point)
        assert req.nonce is not None and len(req.nonce) == 18  # OCTET STRING of 16 random octets


def _response(status: str, **kw: object) -> bytes:
    single = ocsp.single_response(cid(), status, NOW, LATER, **kw)  # type: ignore[arg-type]
    return ocsp.build_response(signer=KEYS[Algorithm.ECDSA], produced_at=NOW, responses=[single])


def test_good_revoked_and_unknown_read_back_by_cryptography_with_a_valid_signature() -> None:
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), KEYS[Algorithm.ECDSA].public_key.point)
    revoked_at = NOW - dt.timedelta(hours=3)
    cases = {
        "good": ({}, cocsp.OCSPCertStatus.GOOD),
        "unknown": ({}, cocsp.OCSPCertStatus.UNKNOWN),
        "revoked": ({"revoked_at": revoked_at, "reason": CrlReason.KEY_COMPROMISE}, cocsp.OCSPCertStatus.REVOKED),
    }
    for status, (kw, expected) in cases.items():
        resp = cocsp.load_der_ocsp_response(_response(status, **kw))
        assert resp.response_status is cocsp.OCSPResponseStatus.SUCCESSFUL
        assert resp.certificate_status is expected and resp.serial_number == 0x4321
        assert resp.this_update_utc == NOW and resp.next_update_utc == LATER and resp.produced_at_utc == NOW
        assert resp.responder_key_hash == ocsp.responder_key_hash(KEYS[Algorithm.ECDSA].public_key.point)
        assert isinstance(resp.hash_algorithm, hashes.SHA1)
        pub.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
        if status == "revoked":
            assert resp.revocation_time_utc == revoked_at
            assert resp.revocation_reason is cx509.ReasonFlags.key_compromise


def test_sm2_response_signature_verifies_with_the_gmt_0009_id() -> None:
    key = KEYS[Algorithm.SM2]
    single = ocsp.single_response(cid(key=key, alg=ocsp.HashAlgorithm.SM3), "good", NOW, LATER)
    parsed = ocsp.parse_response(ocsp.build_response(signer=key, produced_at=NOW, responses=[single]))
    assert parsed.signature_algorithm == "1.2.156.10197.1.501"
    assert key.public_key.verify(parsed.tbs, parsed.signature)
    assert not key.public_key.verify(parsed.tbs, parsed.signature, sm2_uid=b"")
    assert not key.public_key.verify(parsed.tbs[:-1] + b"\x00", parsed.signature)


def test_hold_invalidity_date_and_nonce_are_carried() -> None:
    single = ocsp.single_response(
        cid(),
        "revoked",
        NOW,
        LATER,
        revoked_at=NOW,
        reason=CrlReason.CERTIFICATE_HOLD,
        invalidity_date=NOW - dt.timedelta(days=1),
    )
    nonce_ext = ocsp.parse_request(ocsp.build_request([cid()], nonce=b"n" * 20)).nonce_extension
    parsed = ocsp.parse_response(
        ocsp.build_response(
            signer=KEYS[Algorithm.ECDSA], produced_at=NOW, responses=[single], nonce_extension=nonce_ext
        )
    )
    (s,) = parsed.responses
    assert s.status == "revoked" and s.reason is CrlReason.CERTIFICATE_HOLD
    assert s.invalidity_date == NOW - dt.timedelta(days=1) and parsed.nonce == der.octet_string(b"n" * 20)
    resp = cocsp.load_der_ocsp_response(
        ocsp.build_response(
            signer=KEYS[Algorithm.ECDSA], produced_at=NOW, responses=[single], nonce_extension=nonce_ext
        )
    )
    assert resp.extensions.get_extension_for_class(cx509.OCSPNonce).value.nonce == b"n" * 20  # RFC 8954 shape


def test_unspecified_reason_is_omitted_as_on_the_crls() -> None:
    (s,) = ocsp.parse_response(_response("revoked", revoked_at=NOW, reason=CrlReason.UNSPECIFIED)).responses
    assert s.status == "revoked" and s.reason is None


def test_error_responses_are_the_bare_status() -> None:
    assert ocsp.error_response(ocsp.ResponseStatus.MALFORMED_REQUEST) == bytes.fromhex("30030a0101")
    assert ocsp.error_response(ocsp.ResponseStatus.UNAUTHORIZED) == bytes.fromhex("30030a0106")
    for status in set(ocsp.ResponseStatus) - {ocsp.ResponseStatus.SUCCESSFUL}:
        assert ocsp.parse_response(ocsp.error_response(status)).status is status
        assert cocsp.load_der_ocsp_response(ocsp.error_response(status)).response_status.value == status
    with pytest.raises(ocsp.OcspError):
        ocsp.error_response(ocsp.ResponseStatus.SUCCESSFUL)


@pytest.mark.parametrize(
    "bad,message",
    [
        (b"", "empty"),
        (b"\x30", "malformed"),
        (b"\x30\x00", "tbsRequest"),
        (b"\x04\x03abc", "expected SEQUENCE"),
        (bytes.fromhex("3003300130"), "malformed"),
        (der.seq(der.seq(der.seq())), "requestList is empty"),
    ],
)
def test_garbage_is_an_ocsp_error_naming_the_problem(bad: bytes, message: str) -> None:
    with pytest.raises(ocsp.OcspError, match=message):
        ocsp.parse_request(bad)


def _request_with(cert_id_der: bytes, exts: bytes = b"") -> bytes:
    tbs = [der.seq(der.seq(cert_id_der))]
    if exts:
        tbs.append(der.explicit(2, der.seq(exts)))
    return der.seq(der.seq(*tbs))


def test_bad_cert_ids_and_extensions_are_refused() -> None:
    good = cid()
    md5 = der.seq(
        der.seq(der.oid("1.2.840.113549.2.5"), der.null()),
        der.octet_string(b"\x00" * 16),
        der.octet_string(b"\x00" * 16),
        der.integer(5),
    )
    with pytest.raises(ocsp.OcspError, match="unsupported CertID hash algorithm 1.2.840.113549.2.5"):
        ocsp.parse_request(_request_with(md5))
    short = der.seq(
        der.seq(der.oid(ocsp.SHA1)), der.octet_string(b"\x00" * 19), der.octet_string(b"\x00" * 20), der.integer(5)
    )
    with pytest.raises(ocsp.OcspError, match="20 octets"):
        ocsp.parse_request(_request_with(short))
    critical = der.seq(der.oid("1.2.3.4"), der.boolean(True), der.octet_string(b"\x05\x00"))
    with pytest.raises(ocsp.OcspError, match="critical request extension 1.2.3.4"):
        ocsp.parse_request(_request_with(good.der, critical))
    big_nonce = der.seq(der.oid(ocsp.OCSP_NONCE), der.octet_string(der.octet_string(b"x" * 200)))
    with pytest.raises(ocsp.OcspError, match="nonce"):
        ocsp.parse_request(_request_with(good.der, big_nonce))
    many = der.seq(der.seq(der.seq(*[der.seq(good.der)] * (ocsp.MAX_REQUESTS + 1))))
    with pytest.raises(ocsp.OcspError, match="at most"):
        ocsp.parse_request(many)
    # a request signature is accepted and ignored; trailing bytes are not
    signed = der.seq(
        der.seq(der.seq(der.seq(good.der))),
        der.explicit(0, der.seq(der.seq(der.oid("1.2.3")), der.bit_string(b"\x00"))),
    )
    assert ocsp.parse_request(signed).cert_ids == (good,)
    with pytest.raises(ocsp.OcspError, match="trailing"):
        ocsp.parse_request(ocsp.build_request([good]) + b"\x00")


def test_builder_arguments_are_checked() -> None:
    with pytest.raises(ocsp.OcspError, match="revocation time"):
        ocsp.single_response(cid(), "revoked", NOW, LATER)
    with pytest.raises(ocsp.OcspError, match="timezone-aware"):
        ocsp.single_response(cid(), "good", NOW.replace(tzinfo=None), LATER)
    with pytest.raises(ocsp.OcspError, match="later than thisUpdate"):
        ocsp.single_response(cid(), "good", NOW, NOW)
    with pytest.raises(ocsp.OcspError, match="status"):
        ocsp.single_response(cid(), "fine", NOW, LATER)
    with pytest.raises(ocsp.OcspError, match="serial"):
        cid(serial=0)


@PROPERTY
@given(st.binary(max_size=300))
def test_random_bytes_never_escape_as_anything_but_ocsp_error(data: bytes) -> None:
    try:
        ocsp.parse_request(data)
    except ocsp.OcspError:
        pass


@PROPERTY
@given(st.data())
def test_mutated_requests_parse_or_fail_cleanly(data: st.DataObject) -> None:
    base = bytearray(
        ocsp.build_request(
            [cid(serial=data.draw(st.integers(1, 2**127)))],
            nonce=data.draw(st.one_of(st.none(), st.binary(min_size=1, max_size=40))),
        )
    )
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(0, len(base) - 1)))
        if op == "flip" and base:
            base[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "truncate":
            del base[pos:]
        elif op == "insert":
            base[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        elif base:
            del base[pos]
    try:
        req = ocsp.parse_request(bytes(base))
    except ocsp.OcspError:
        return
    assert 1 <= len(req.cert_ids) <= ocsp.MAX_REQUESTS


@PROPERTY
@given(
    serial=st.integers(1, 2**159 - 1),
    alg=st.sampled_from(list(ocsp.HashAlgorithm)),
    status=st.sampled_from(["good", "revoked", "unknown"]),
    reason=st.sampled_from([r for r in CrlReason if r is not CrlReason.REMOVE_FROM_CRL]),
)
def test_responses_round_trip(serial: int, alg: ocsp.HashAlgorithm, status: str, reason: CrlReason) -> None:
    c = cid(serial=serial, alg=alg)
    kw = {"revoked_at": NOW, "reason": reason} if status == "revoked" else {}
    single = ocsp.single_response(c, status, NOW, LATER, **kw)  # type: ignore[arg-type]
    parsed = ocsp.parse_response(ocsp.build_response(signer=KEYS[Algorithm.ECDSA], produced_at=NOW, responses=[single]))
    (s,) = parsed.responses
    assert s.cert_id == c and s.status == status and s.this_update == NOW and s.next_update == LATER
    if status == "revoked":
        assert s.revoked_at == NOW and s.reason == (None if reason is CrlReason.UNSPECIFIED else reason)
