"""registry.pki.jws: the trust lists' JWS (general JSON serialization, ES256 + SM2-SM3).

What we sign is checked by code nobody here wrote: the ES256 signature by jwcrypto and by node's
``jose`` package, the SM2-SM3 one by ``openssl dgst -sm3 -sigopt distid:1234567812345678`` over
the JWS signing input; a changed payload, header or signature fails each of them. The reading side
is strict; each refusal has its code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from jwcrypto.common import JWException
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS

from registry.pki import jws
from registry.pki.keys import Algorithm, PrivateKey
from tests.support.jose import jose_verify, node_jose_dir, openssl_sm2_verifies
from tests.support.pki import ossl

PAYLOAD = '{"format": "cn-seal-trust-list/1",\n "name": "深圳市市场监督管理局"}\n'.encode()


@pytest.fixture(scope="module")
def p256() -> PrivateKey:
    return PrivateKey.generate(Algorithm.ECDSA)


@pytest.fixture(scope="module")
def sm2() -> PrivateKey:
    return PrivateKey.generate(Algorithm.SM2)


@pytest.fixture(scope="module")
def document(p256: PrivateKey, sm2: PrivateKey) -> bytes:
    return jws.sign(PAYLOAD, [sm2, p256])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def header(entry: dict[str, str]) -> dict[str, object]:
    return json.loads(unb64(entry["protected"]))


def signed(key: PrivateKey, hdr: dict[str, object] | bytes, payload: bytes = PAYLOAD) -> dict[str, str]:
    """A signature entry with any header we like, signed properly by ``key``."""
    raw_header = hdr if isinstance(hdr, bytes) else json.dumps(hdr).encode()
    protected = b64(raw_header)
    der_sig = key.sign(jws.signing_input(protected, b64(payload)))
    from registry.pki.keys import sig_from_der

    r, s = sig_from_der(der_sig)
    return {"protected": protected, "signature": b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}


def doc(*entries: dict[str, str], payload: bytes = PAYLOAD) -> bytes:
    return json.dumps({"payload": b64(payload), "signatures": list(entries)}).encode()


def own_header(key: PrivateKey) -> dict[str, object]:
    return {"alg": jws.alg_for(key.public_key), "kid": jws.kid_for(key.public_key)}


def code_of(excinfo: pytest.ExceptionInfo[jws.JwsError]) -> str | None:
    return excinfo.value.code


# -- round trip and shape -----------------------------------------------------------------------


def test_sign_and_verify_round_trip_over_the_exact_bytes(document: bytes, p256: PrivateKey, sm2: PrivateKey) -> None:
    got = jws.verify(document, [p256.public_key, sm2.public_key])
    assert got.payload == PAYLOAD
    assert got.verified_kids == (jws.kid_for(sm2.public_key), jws.kid_for(p256.public_key))
    assert all(r.verified and r.reason is None for r in got.signatures)
    # one key is enough: the verifier checks what it pinned
    assert jws.verify(document, [p256.public_key]).verified_kids == (jws.kid_for(p256.public_key),)
    assert jws.verify(document, [sm2.public_key]).verified_kids == (jws.kid_for(sm2.public_key),)


def test_the_document_is_the_general_json_serialization(document: bytes, p256: PrivateKey, sm2: PrivateKey) -> None:
    parsed = json.loads(document)
    assert set(parsed) == {"payload", "signatures"}
    assert unb64(parsed["payload"]) == PAYLOAD
    assert [header(s) for s in parsed["signatures"]] == [own_header(sm2), own_header(p256)]
    assert all(set(s) == {"protected", "signature"} for s in parsed["signatures"])
    assert all(len(unb64(s["signature"])) == 64 for s in parsed["signatures"])  # raw r || s
    assert b"=" not in document  # unpadded base64url


def test_kid_and_fingerprint_are_the_sha256_of_the_spki_openssl_derives(
    p256: PrivateKey, sm2: PrivateKey, openssl: str, tmp_path: Path
) -> None:
    for key in (p256, sm2):
        (tmp_path / "key.pem").write_text(key.pem())
        ossl(openssl, "pkey", "-in", tmp_path / "key.pem", "-pubout", "-outform", "DER", "-out", tmp_path / "spki.der")
        spki = (tmp_path / "spki.der").read_bytes()
        assert spki == key.public_key.spki()
        expected = hashlib.sha256(spki).hexdigest()
        assert jws.spki_fingerprint(spki) == expected
        assert jws.kid_for(key.public_key) == "sha256:" + expected


def test_fingerprints_as_typed_or_read_back_are_normalised() -> None:
    hexdigest = "3f" * 32
    assert jws.normalize_fingerprint(hexdigest.upper()) == hexdigest
    assert jws.normalize_fingerprint(" sha256:" + ":".join(hexdigest[i : i + 2] for i in range(0, 64, 2))) == hexdigest
    assert jws.normalize_fingerprint(" ".join(hexdigest[i : i + 4] for i in range(0, 64, 4))) == hexdigest
    for bad in ("", "3f" * 31, "3g" * 32, "3f" * 33):
        with pytest.raises(jws.JwsError) as e:
            jws.normalize_fingerprint(bad)
        assert code_of(e) == "jws.bad_fingerprint"


def test_signing_needs_distinct_keys(p256: PrivateKey) -> None:
    with pytest.raises(jws.JwsError) as e:
        jws.sign(PAYLOAD, [])
    assert code_of(e) == "jws.no_signer"
    with pytest.raises(jws.JwsError) as e:
        jws.sign(PAYLOAD, [p256, p256])
    assert code_of(e) == "jws.signer_twice"


# -- each signature judged on its own -----------------------------------------------------------


def test_one_bad_signature_is_reported_while_the_other_verifies(p256: PrivateKey, sm2: PrivateKey) -> None:
    good = signed(p256, own_header(p256))
    bad = signed(sm2, own_header(sm2))
    value = bytearray(unb64(bad["signature"]))
    value[5] ^= 1
    bad["signature"] = b64(bytes(value))
    got = jws.verify(doc(bad, good), [p256.public_key, sm2.public_key])
    assert got.verified_kids == (jws.kid_for(p256.public_key),)
    first, second = got.signatures
    assert (first.verified, first.reason and first.reason.code) == (False, "jws.signature_invalid")
    assert second.verified


@pytest.mark.parametrize(
    "case, code",
    [
        ("unknown alg", "jws.unsupported_alg"),
        ("unknown key", "jws.unknown_key"),
        ("alg not the key's", "jws.alg_not_key"),
        ("short value", "jws.signature_length"),
        ("other payload", "jws.signature_invalid"),
    ],
)
def test_reasons_per_signature(case: str, code: str, p256: PrivateKey, sm2: PrivateKey) -> None:
    stranger = PrivateKey.generate(Algorithm.SM2)
    if case == "unknown alg":
        entry = signed(sm2, {"alg": "SM2", "kid": jws.kid_for(sm2.public_key)})
    elif case == "unknown key":
        entry = signed(stranger, own_header(stranger))
    elif case == "alg not the key's":
        entry = signed(sm2, {"alg": "ES256", "kid": jws.kid_for(sm2.public_key)})
    elif case == "short value":
        entry = signed(sm2, own_header(sm2))
        entry["signature"] = b64(unb64(entry["signature"])[:60])
    else:
        entry = signed(sm2, own_header(sm2), payload=b"something else")
    ok = signed(p256, own_header(p256))
    got = jws.verify(doc(entry, ok), [p256.public_key, sm2.public_key])
    assert got.signatures[0].reason is not None and got.signatures[0].reason.code == code
    assert got.signatures[0].reason.label("zh") != got.signatures[0].reason.label("en")
    with pytest.raises(jws.JwsError) as e:
        jws.verify(doc(entry), [p256.public_key, sm2.public_key])
    assert code_of(e) == "jws.not_verified"
    assert [r.reason and r.reason.code for r in e.value.signatures] == [code]
    assert "#1" in str(e.value) and "#1" in e.value.text("zh")


def test_no_trusted_key_at_all(document: bytes) -> None:
    with pytest.raises(jws.JwsError) as e:
        jws.verify(document, [])
    assert code_of(e) == "jws.not_verified"
    assert [r.reason and r.reason.code for r in e.value.signatures] == ["jws.unknown_key", "jws.unknown_key"]


@pytest.mark.parametrize("part", ["payload", "protected", "signature"])
def test_tampering_fails_our_verifier(part: str, document: bytes, p256: PrivateKey, sm2: PrivateKey) -> None:
    with pytest.raises(jws.JwsError) as e:
        jws.verify(tamper(document, part), [p256.public_key, sm2.public_key])
    assert code_of(e) == "jws.not_verified"


def tamper(document: bytes, part: str, which: int | None = None) -> bytes:
    """The document with one bit of the payload, or of each (or one) signature's protected header
    or value, changed and re-encoded."""
    parsed = json.loads(document)
    if part == "payload":
        data = bytearray(unb64(parsed["payload"]))
        data[3] ^= 0x01
        parsed["payload"] = b64(bytes(data))
    else:
        for i, entry in enumerate(parsed["signatures"]):
            if which is not None and i != which:
                continue
            if part == "protected":
                hdr = header(entry)
                hdr["typ"] = "x"  # an ignored parameter: only the signature notices
                entry["protected"] = b64(json.dumps(hdr).encode())
            else:
                data = bytearray(unb64(entry["signature"]))
                data[40] ^= 0x80
                entry["signature"] = b64(bytes(data))
    return json.dumps(parsed).encode()


# -- strict reading ---------------------------------------------------------------------------


def _strict_cases(p256: PrivateKey) -> dict[str, tuple[bytes, str]]:
    ok = signed(p256, own_header(p256))
    kid = jws.kid_for(p256.public_key)
    payload_b64 = b64(PAYLOAD)
    return {
        "not json": (b"{not json", "jws.not_json"),
        "not utf-8": (b'{"payload": "\xff"}', "jws.not_json"),
        "a list": (b"[]", "jws.malformed"),
        "compact": (f'"{ok["protected"]}.{payload_b64}.{ok["signature"]}"'.encode(), "jws.malformed"),
        "flattened": (json.dumps({"payload": payload_b64, **ok}).encode(), "jws.malformed"),
        "extra member": (
            json.dumps({"payload": payload_b64, "signatures": [ok], "x": 1}).encode(),
            "jws.malformed",
        ),
        "no signatures": (json.dumps({"payload": payload_b64, "signatures": []}).encode(), "jws.malformed"),
        "payload twice": (
            f'{{"payload": "{payload_b64}", "payload": "e30", "signatures": [{json.dumps(ok)}]}}'.encode(),
            "jws.duplicate_key",
        ),
        "unprotected header": (doc({**ok, "header": {"kid": kid}}), "jws.signature_members"),
        "padded payload": (
            json.dumps({"payload": b64(b"ab") + "==", "signatures": [ok]}).encode(),
            "jws.not_base64url",
        ),
        "standard alphabet": (
            json.dumps({"payload": "+/+/", "signatures": [ok]}).encode(),
            "jws.not_base64url",
        ),
        "non-canonical base64url": (
            json.dumps({"payload": "YWJ", "signatures": [ok]}).encode(),  # "ab" is YWI; J sets unused bits
            "jws.not_base64url",
        ),
        "header not an object": (doc(signed(p256, b'["ES256"]')), "jws.header_not_object"),
        "header key twice": (
            doc(signed(p256, b'{"alg":"ES256","alg":"ES256","kid":"%s"}' % kid.encode())),
            "jws.duplicate_key",
        ),
        "nested header": (doc(signed(p256, {**own_header(p256), "jwk": {"kty": {"EC": 1}}})), "jws.too_deep"),
        "alg none": (doc(signed(p256, {"alg": "none", "kid": kid})), "jws.alg_none"),
        "alg None": (doc(signed(p256, {"alg": "None", "kid": kid})), "jws.alg_none"),
        "no alg": (doc(signed(p256, {"kid": kid})), "jws.no_alg"),
        "crit": (doc(signed(p256, {**own_header(p256), "crit": ["b64"], "b64": False})), "jws.crit"),
        "no kid": (doc(signed(p256, {"alg": "ES256"})), "jws.bad_kid"),
        "kid not ours": (doc(signed(p256, {"alg": "ES256", "kid": "key-1"})), "jws.bad_kid"),
        "kid upper case": (doc(signed(p256, {"alg": "ES256", "kid": kid.upper()})), "jws.bad_kid"),
        "kid twice": (doc(ok, ok), "jws.kid_twice"),
        "too many signatures": (doc(*([ok] * 17)), "jws.too_many_signatures"),
        "too deep": (b'{"payload": "", "signatures": [[[[[]]]]]}', "jws.too_deep"),
    }


CASES = [
    "not json",
    "not utf-8",
    "a list",
    "compact",
    "flattened",
    "extra member",
    "no signatures",
    "payload twice",
    "unprotected header",
    "padded payload",
    "standard alphabet",
    "non-canonical base64url",
    "header not an object",
    "header key twice",
    "nested header",
    "alg none",
    "alg None",
    "no alg",
    "crit",
    "no kid",
    "kid not ours",
    "kid upper case",
    "kid twice",
    "too many signatures",
    "too deep",
]


@pytest.mark.parametrize("case", CASES)
def test_strict_reading_refuses(case: str, p256: PrivateKey) -> None:
    data, code = _strict_cases(p256)[case]
    with pytest.raises(jws.JwsError) as e:
        jws.verify(data, [p256.public_key])
    assert code_of(e) == code, str(e.value)
    assert e.value.text("zh") != str(e.value)


def test_every_strict_case_is_run(p256: PrivateKey) -> None:
    assert sorted(_strict_cases(p256)) == sorted(CASES)


def test_size_limit(p256: PrivateKey) -> None:
    big = jws.sign(b"x" * 3000, [p256])
    assert jws.verify(big, [p256.public_key], max_size=len(big)).payload == b"x" * 3000
    with pytest.raises(jws.JwsError) as e:
        jws.verify(big, [p256.public_key], max_size=len(big) - 1)
    assert code_of(e) == "jws.too_large"
    with pytest.raises(jws.JwsError) as e:
        jws.verify(b" " * (jws.MAX_SIZE + 1), [p256.public_key])
    assert code_of(e) == "jws.too_large"


def test_an_ignored_header_parameter_is_still_signed(p256: PrivateKey) -> None:
    entry = signed(p256, {**own_header(p256), "typ": "JOSE+JSON"})
    assert jws.verify(doc(entry), [p256.public_key]).verified_kids == (jws.kid_for(p256.public_key),)


def test_sm2_signature_with_r_or_s_zero_is_refused(sm2: PrivateKey, p256: PrivateKey) -> None:
    entry = signed(sm2, own_header(sm2))
    entry["signature"] = b64(bytes(32) + unb64(entry["signature"])[32:])
    got = jws.verify(doc(entry, signed(p256, own_header(p256))), [sm2.public_key, p256.public_key])
    assert got.signatures[0].reason is not None and got.signatures[0].reason.code == "jws.signature_invalid"


# -- checked by jwcrypto ------------------------------------------------------------------------


def _jwcrypto_verifies(document: bytes, key: PrivateKey) -> bool:
    token = JWS()
    try:
        token.deserialize(document.decode(), key=JWK.from_pem(key.public_key.pem().encode()), alg="ES256")
    except JWException:
        return False
    return token.objects["payload"] == PAYLOAD


def test_jwcrypto_verifies_the_es256_signature(document: bytes, p256: PrivateKey) -> None:
    assert _jwcrypto_verifies(document, p256)
    other = PrivateKey.generate(Algorithm.ECDSA)
    assert not _jwcrypto_verifies(document, other)


@pytest.mark.parametrize("part", ["payload", "protected", "signature"])
def test_jwcrypto_refuses_a_tampered_document(part: str, document: bytes, p256: PrivateKey) -> None:
    assert not _jwcrypto_verifies(tamper(document, part), p256)


# -- checked by node's jose ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def node_jose() -> Path:
    return node_jose_dir()


def _jose(where: Path, document: bytes, key: PrivateKey, tmp_path: Path) -> dict[str, object]:
    return jose_verify(where, document, key.public_key.pem(), tmp_path)


def test_node_jose_verifies_the_es256_signature(
    node_jose: Path, document: bytes, p256: PrivateKey, tmp_path: Path
) -> None:
    result = _jose(node_jose, document, p256, tmp_path)
    assert result["ok"] is True, result
    assert base64.b64decode(str(result["payload"])) == PAYLOAD
    assert result["header"] == own_header(p256)


@pytest.mark.parametrize("part", ["payload", "protected", "signature"])
def test_node_jose_refuses_a_tampered_document(
    part: str, node_jose: Path, document: bytes, p256: PrivateKey, tmp_path: Path
) -> None:
    result = _jose(node_jose, tamper(document, part), p256, tmp_path)
    assert result["ok"] is False
    assert result["error"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"


# -- checked by OpenSSL -------------------------------------------------------------------------


def _openssl_sm2(openssl: str, document: bytes, key: PrivateKey, tmp_path: Path) -> bool:
    return openssl_sm2_verifies(openssl, document, key.public_key.pem(), tmp_path)


@pytest.mark.openssl
def test_openssl_verifies_the_sm2_signature(openssl: str, document: bytes, sm2: PrivateKey, tmp_path: Path) -> None:
    assert _openssl_sm2(openssl, document, sm2, tmp_path)
    assert not _openssl_sm2(openssl, document, PrivateKey.generate(Algorithm.SM2), tmp_path)


@pytest.mark.openssl
@pytest.mark.parametrize("part", ["payload", "protected", "signature"])
def test_openssl_refuses_a_tampered_sm2_signature(
    part: str, openssl: str, document: bytes, sm2: PrivateKey, tmp_path: Path
) -> None:
    assert not _openssl_sm2(openssl, tamper(document, part), sm2, tmp_path)


@pytest.mark.openssl
def test_openssl_checks_an_sm2_signature_made_by_openssl_that_we_verify(
    openssl: str, sm2: PrivateKey, tmp_path: Path
) -> None:
    """The other direction: OpenSSL signs the signing input, we read its signature as SM2-SM3."""
    protected = b64(json.dumps(own_header(sm2)).encode())
    (tmp_path / "input").write_bytes(jws.signing_input(protected, b64(PAYLOAD)))
    (tmp_path / "key.pem").write_text(sm2.pem())
    ossl(
        openssl,
        "dgst",
        "-sm3",
        "-sign",
        tmp_path / "key.pem",
        "-sigopt",
        "distid:1234567812345678",
        "-out",
        tmp_path / "sig.der",
        tmp_path / "input",
    )
    from registry.pki.keys import sig_from_der

    r, s = sig_from_der((tmp_path / "sig.der").read_bytes())
    entry = {"protected": protected, "signature": b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))}
    assert jws.verify(doc(entry), [sm2.public_key]).verified_kids == (jws.kid_for(sm2.public_key),)
