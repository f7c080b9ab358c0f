"""SM2 and ECDSA P-256 keys (registry.pki.keys), checked against the OpenSSL 3.0 command line.

OpenSSL 3.0 defaults the SM2 distinguishing ID to EMPTY (domain.md §6.3), so every SM2 check passes
``-sigopt distid:1234567812345678`` explicitly, and the empty-ID behaviour is checked on purpose.
Each test names the rule it checks.
"""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from asn1crypto import algos as a1_algos
from asn1crypto import keys as a1_keys
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.pki import der, oids
from registry.pki.keys import (
    SM2_DEFAULT_UID,
    Algorithm,
    KeyFormatError,
    PrivateKey,
    PublicKey,
    decrypt_private_key,
    encrypt_private_key,
    encrypted_key_id,
    sig_from_der,
    sig_to_der,
)
from tests.support.pki import ossl

DISTID = "distid:1234567812345678"
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ORDER = {Algorithm.SM2: SM2_N, Algorithm.ECDSA: P256_N}
# openssl dgst options per algorithm: digest, and the SM2 distinguishing ID (none for ECDSA)
DGST = {Algorithm.SM2: ["-sm3", "-sigopt", DISTID], Algorithm.ECDSA: ["-sha256"]}
GENPKEY_CURVE = {Algorithm.SM2: "SM2", Algorithm.ECDSA: "prime256v1"}
ALGS = [Algorithm.SM2, Algorithm.ECDSA]
MESSAGE = "企业电子印章 seal registry test message\n".encode()

PROPERTY = settings(
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def dsa_sig(r: int, s: int) -> bytes:
    """DER SEQUENCE { r, s } built by asn1crypto (not by the code under test)."""
    return a1_algos.DSASignature({"r": r, "s": s}).dump()


def scalar_of(key: PrivateKey) -> int:
    """The private scalar, read from the PKCS#8 by asn1crypto."""
    info = a1_keys.PrivateKeyInfo.load(key.pkcs8())
    return info["private_key"].parsed["private_key"].native


@pytest.fixture(scope="module", params=ALGS, ids=lambda a: a.value)
def alg(request: pytest.FixtureRequest) -> Algorithm:
    return request.param


@pytest.fixture(scope="module")
def keys() -> dict[Algorithm, PrivateKey]:
    return {a: PrivateKey.generate(a) for a in ALGS}


@pytest.fixture
def key(keys: dict[Algorithm, PrivateKey], alg: Algorithm) -> PrivateKey:
    return keys[alg]


# ================================================================================================
# SM2 and the distinguishing ID (design.md §4, §9; domain.md §6.2-6.3)


@pytest.mark.openssl
def test_sm2_signature_verifies_with_openssl_default_id(openssl: str, keys, tmp_path: Path) -> None:
    k = keys[Algorithm.SM2]
    pub, data = write(tmp_path / "pub.pem", k.public_key.pem()), write(tmp_path / "data", MESSAGE)
    sig = write(tmp_path / "sig", k.sign(MESSAGE))
    out = ossl(openssl, "dgst", "-sm3", "-verify", pub, "-sigopt", DISTID, "-signature", sig, data)
    assert "Verified OK" in out.stdout


@pytest.mark.openssl
def test_sm2_signature_fails_in_openssl_without_distid(openssl: str, keys, tmp_path: Path) -> None:
    # OpenSSL 3.0 verifies with the empty ID unless told otherwise: our GM/T 0009-ID signature must not pass.
    k = keys[Algorithm.SM2]
    pub, data = write(tmp_path / "pub.pem", k.public_key.pem()), write(tmp_path / "data", MESSAGE)
    sig = write(tmp_path / "sig", k.sign(MESSAGE))
    out = ossl(openssl, "dgst", "-sm3", "-verify", pub, "-signature", sig, data, check=False)
    assert out.returncode == 1 and "Verification failure" in out.stdout


@pytest.mark.openssl
def test_openssl_sm2_signature_with_distid_verifies_with_our_public_key(openssl: str, keys, tmp_path: Path) -> None:
    k = keys[Algorithm.SM2]
    priv, data = write(tmp_path / "k.pem", k.pem()), write(tmp_path / "data", MESSAGE)
    ossl(openssl, "dgst", "-sm3", "-sign", priv, "-sigopt", DISTID, "-out", tmp_path / "sig", data)
    sig = (tmp_path / "sig").read_bytes()
    pub = PublicKey.from_pem(k.public_key.pem())
    assert pub.verify(MESSAGE, sig)
    assert pub.verify(MESSAGE, sig, sm2_uid=SM2_DEFAULT_UID)
    assert not pub.verify(MESSAGE, sig, sm2_uid=b"")
    assert not pub.verify(MESSAGE + b"x", sig)


@pytest.mark.openssl
def test_openssl_sm2_empty_id_signature_verifies_only_with_empty_uid(openssl: str, keys, tmp_path: Path) -> None:
    k = keys[Algorithm.SM2]
    priv, data = write(tmp_path / "k.pem", k.pem()), write(tmp_path / "data", MESSAGE)
    ossl(openssl, "dgst", "-sm3", "-sign", priv, "-out", tmp_path / "sig", data)
    sig = (tmp_path / "sig").read_bytes()
    assert k.public_key.verify(MESSAGE, sig, sm2_uid=b"")
    assert not k.public_key.verify(MESSAGE, sig)
    assert not k.public_key.verify(MESSAGE, sig, sm2_uid=b"1234567812345679")


def test_sm2_signature_is_bound_to_the_user_id(keys) -> None:
    k = keys[Algorithm.SM2]
    sig = k.sign(MESSAGE)
    assert k.public_key.verify(MESSAGE, sig)
    assert not k.public_key.verify(MESSAGE, sig, sm2_uid=b"")
    assert not k.public_key.verify(MESSAGE, sig, sm2_uid=b"1234567812345679")


# ================================================================================================
# Signatures both ways with OpenSSL (SM2 with the ID, ECDSA with SHA-256)


@pytest.mark.openssl
def test_our_signature_verifies_with_openssl_dgst(
    openssl: str, key: PrivateKey, alg: Algorithm, tmp_path: Path
) -> None:
    pub, data = write(tmp_path / "pub.pem", key.public_key.pem()), write(tmp_path / "data", MESSAGE)
    sig = write(tmp_path / "sig", key.sign(MESSAGE))
    assert "Verified OK" in ossl(openssl, "dgst", *DGST[alg], "-verify", pub, "-signature", sig, data).stdout
    other = write(tmp_path / "other", MESSAGE + b"!")
    bad = ossl(openssl, "dgst", *DGST[alg], "-verify", pub, "-signature", sig, other, check=False)
    assert bad.returncode == 1 and "Verification failure" in bad.stdout


@pytest.mark.openssl
def test_openssl_dgst_signature_verifies_with_our_public_key(
    openssl: str, key: PrivateKey, alg: Algorithm, tmp_path: Path
) -> None:
    priv, data = write(tmp_path / "k.pem", key.pem()), write(tmp_path / "data", MESSAGE)
    ossl(openssl, "dgst", *DGST[alg], "-sign", priv, "-out", tmp_path / "sig", data)
    sig = (tmp_path / "sig").read_bytes()
    assert key.public_key.verify(MESSAGE, sig)
    assert not key.public_key.verify(MESSAGE + b"!", sig)


# ================================================================================================
# Key files: ours in OpenSSL, OpenSSL's in ours


@pytest.mark.openssl
def test_pkcs8_private_key_loads_in_openssl_with_identical_public_key(
    openssl: str, key: PrivateKey, alg: Algorithm, tmp_path: Path
) -> None:
    priv = write(tmp_path / "k.pem", key.pem())
    assert key.pem().startswith("-----BEGIN PRIVATE KEY-----\n")
    assert ossl(openssl, "pkey", "-in", priv, "-pubout").stdout == key.public_key.pem()
    ossl(openssl, "pkey", "-in", priv, "-pubout", "-outform", "DER", "-out", tmp_path / "pub.der")
    assert (tmp_path / "pub.der").read_bytes() == key.public_key.spki()
    # OpenSSL re-serialises our PKCS#8 byte for byte: same structure, no stripped zeros. (PEM output:
    # `pkey -outform DER` writes the traditional SEC1 form in OpenSSL 3.0, even for SM2.)
    assert ossl(openssl, "pkey", "-in", priv).stdout == key.pem()
    assert "Key is valid" in ossl(openssl, "pkey", "-in", priv, "-check", "-noout").stdout
    text = ossl(openssl, "pkey", "-in", priv, "-text", "-noout").stdout
    assert ("ASN1 OID: SM2" if alg is Algorithm.SM2 else "ASN1 OID: prime256v1") in text


@pytest.mark.openssl
def test_public_key_pem_is_what_openssl_writes(openssl: str, key: PrivateKey, tmp_path: Path) -> None:
    pub = write(tmp_path / "pub.pem", key.public_key.pem())
    assert ossl(openssl, "pkey", "-pubin", "-in", pub, "-pubout").stdout == key.public_key.pem()


def _check_loaded_openssl_key(openssl: str, alg: Algorithm, pem_path: Path, tmp_path: Path) -> None:
    """``pem_path`` (made by OpenSSL) loads, has OpenSSL's public key, and signs verifiably."""
    key = PrivateKey.from_pem(pem_path.read_text())
    assert key.algorithm is alg
    openssl_pub = ossl(openssl, "pkey", "-in", pem_path, "-pubout").stdout
    assert key.public_key.pem() == openssl_pub
    pub, data = write(tmp_path / "pub.pem", openssl_pub), write(tmp_path / "data", MESSAGE)
    sig = write(tmp_path / "sig", key.sign(MESSAGE))
    assert "Verified OK" in ossl(openssl, "dgst", *DGST[alg], "-verify", pub, "-signature", sig, data).stdout


@pytest.mark.openssl
def test_openssl_genpkey_pkcs8_key_loads_and_signs(openssl: str, alg: Algorithm, tmp_path: Path) -> None:
    path = tmp_path / "gen.pem"
    ossl(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{GENPKEY_CURVE[alg]}", "-out", path)
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    _check_loaded_openssl_key(openssl, alg, path, tmp_path)


@pytest.mark.openssl
def test_openssl_ecparam_genkey_output_loads_and_signs(openssl: str, alg: Algorithm, tmp_path: Path) -> None:
    # The file starts with a PARAMETERS block; the key block follows. (OpenSSL 3.0 writes the SM2 key as
    # PKCS#8 "PRIVATE KEY" here, the P-256 key as SEC1 "EC PRIVATE KEY".)
    path = tmp_path / "gen.pem"
    ossl(openssl, "ecparam", "-name", GENPKEY_CURVE[alg], "-genkey", "-out", path)
    assert "PARAMETERS-----" in path.read_text().splitlines()[0]
    _check_loaded_openssl_key(openssl, alg, path, tmp_path)


@pytest.mark.openssl
@pytest.mark.parametrize("no_public", [False, True], ids=["with-public", "no-public"])
def test_openssl_sec1_private_key_loads_and_signs(
    openssl: str, alg: Algorithm, no_public: bool, tmp_path: Path
) -> None:
    # RFC 5915 ECPrivateKey with the named curve in [0]; OpenSSL labels SM2 ones "SM2 PRIVATE KEY".
    p8 = tmp_path / "p8.pem"
    ossl(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{GENPKEY_CURVE[alg]}", "-out", p8)
    sec1 = tmp_path / "sec1.pem"
    ossl(openssl, "ec", "-in", p8, "-out", sec1, *(["-no_public"] if no_public else []))
    label = "SM2 PRIVATE KEY" if alg is Algorithm.SM2 else "EC PRIVATE KEY"
    assert sec1.read_text().startswith(f"-----BEGIN {label}-----")
    _check_loaded_openssl_key(openssl, alg, sec1, tmp_path)


def test_pkcs8_round_trips_through_from_pem(key: PrivateKey) -> None:
    again = PrivateKey.from_pem(key.pem())
    assert again.pkcs8() == key.pkcs8()
    assert again.public_key == key.public_key
    assert PublicKey.from_pem(key.public_key.pem()) == key.public_key
    assert PublicKey.from_spki(key.public_key.spki()) == key.public_key


def test_pkcs8_scalar_with_leading_zero_byte_stripped_still_loads(alg: Algorithm) -> None:
    # RFC 5915 wants ceiling(log2(n)/8) = 32 octets; some old writers drop a leading zero octet.
    scalar = (0x00ABCDEF << 224 | 0x1234).to_bytes(32, "big")
    assert scalar[0] == 0
    ref = PrivateKey(alg, scalar)
    ec_priv = der.seq(der.integer(1), der.octet_string(scalar[1:]))
    p8 = der.seq(
        der.integer(0), der.seq(der.oid(oids.EC_PUBLIC_KEY), der.oid(alg.curve_oid)), der.octet_string(ec_priv)
    )
    loaded = PrivateKey.from_der(p8)
    assert loaded.public_key == ref.public_key


# ================================================================================================
# Keys we refuse


@pytest.fixture(scope="module")
def foreign_keys(openssl: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str, str]]:
    """name -> (private PEM, public PEM, the OID the refusal must name), all made by OpenSSL."""
    d = tmp_path_factory.mktemp("foreign")
    specs = {
        "secp384r1": (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp384r1"], "1.3.132.0.34"),
        "secp256k1": (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"], "1.3.132.0.10"),
        "secp384r1-sec1": (["ecparam", "-name", "secp384r1", "-genkey", "-noout"], "1.3.132.0.34"),
        "secp256k1-sec1": (["ecparam", "-name", "secp256k1", "-genkey", "-noout"], "1.3.132.0.10"),
        "rsa": (["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], "1.2.840.113549.1.1.1"),
        "ed25519": (["genpkey", "-algorithm", "ED25519"], "1.3.101.112"),
    }
    out = {}
    for name, (cmd, oid) in specs.items():
        path = d / f"{name}.pem"
        ossl(openssl, *cmd, "-out", path)
        pub = ossl(openssl, "pkey", "-in", path, "-pubout").stdout
        out[name] = (path.read_text(), pub, oid)
    return out


FOREIGN = ["secp384r1", "secp256k1", "secp384r1-sec1", "secp256k1-sec1", "rsa", "ed25519"]


@pytest.mark.openssl
@pytest.mark.parametrize("name", FOREIGN)
def test_unsupported_private_key_is_refused_naming_its_curve_or_algorithm(foreign_keys, name: str) -> None:
    priv, _pub, oid = foreign_keys[name]
    with pytest.raises(KeyFormatError) as exc:
        PrivateKey.from_pem(priv)
    assert oid in str(exc.value)


@pytest.mark.openssl
@pytest.mark.parametrize("name", ["secp384r1", "secp256k1", "rsa", "ed25519"])
def test_unsupported_public_key_is_refused_naming_its_curve_or_algorithm(foreign_keys, name: str) -> None:
    _priv, pub, oid = foreign_keys[name]
    with pytest.raises(KeyFormatError) as exc:
        PublicKey.from_pem(pub)
    assert oid in str(exc.value)
    if name.startswith("secp"):
        assert "unsupported curve" in str(exc.value)
    else:
        assert "not an EC key" in str(exc.value)


@pytest.mark.openssl
@pytest.mark.parametrize("curve", ["prime256v1", "SM2"])
def test_explicit_parameter_keys_are_refused(openssl: str, curve: str, tmp_path: Path) -> None:
    named = tmp_path / "named.pem"
    ossl(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out", named)
    sec1, p8, pub = tmp_path / "sec1.pem", tmp_path / "p8.pem", tmp_path / "pub.pem"
    ossl(openssl, "ec", "-in", named, "-param_enc", "explicit", "-out", sec1)
    ossl(openssl, "pkey", "-in", sec1, "-out", p8)
    ossl(openssl, "pkey", "-in", sec1, "-pubout", "-out", pub)
    assert "prime-field" in ossl(openssl, "asn1parse", "-in", pub).stdout  # really explicit parameters
    for path in (sec1, p8):
        with pytest.raises(KeyFormatError):
            PrivateKey.from_pem(path.read_text())
    with pytest.raises(KeyFormatError, match="explicit curve parameters"):
        PublicKey.from_pem(pub.read_text())


def test_public_key_point_must_lie_on_the_named_curve(keys) -> None:
    sm2_point = keys[Algorithm.SM2].public_key.point
    p256_point = keys[Algorithm.ECDSA].public_key.point
    with pytest.raises(KeyFormatError, match="P-256"):
        PublicKey(Algorithm.ECDSA, sm2_point)
    with pytest.raises(KeyFormatError, match="SM2"):
        PublicKey(Algorithm.SM2, p256_point)
    for alg, point in ((Algorithm.SM2, sm2_point), (Algorithm.ECDSA, p256_point)):
        y = int.from_bytes(point[33:], "big")
        off_curve = point[:33] + ((y + 1) % 2**256).to_bytes(32, "big")
        with pytest.raises(KeyFormatError):
            PublicKey(alg, off_curve)
        spki = der.seq(der.seq(der.oid(oids.EC_PUBLIC_KEY), der.oid(alg.curve_oid)), der.bit_string(off_curve))
        with pytest.raises(KeyFormatError):
            PublicKey.from_spki(spki)


@pytest.mark.openssl
def test_compressed_points_are_refused(openssl: str, key: PrivateKey, tmp_path: Path) -> None:
    priv = write(tmp_path / "k.pem", key.pem())
    ossl(openssl, "ec", "-in", priv, "-pubout", "-conv_form", "compressed", "-out", tmp_path / "c.pem")
    with pytest.raises(KeyFormatError, match="uncompressed"):
        PublicKey.from_pem((tmp_path / "c.pem").read_text())


@pytest.mark.openssl
def test_encrypted_pem_private_key_is_refused_with_advice(openssl: str, key: PrivateKey, tmp_path: Path) -> None:
    priv = write(tmp_path / "k.pem", key.pem())
    ossl(openssl, "pkey", "-in", priv, "-aes256", "-passout", "pass:secret", "-out", tmp_path / "enc.pem")
    with pytest.raises(KeyFormatError, match="encrypted PEM keys are not supported"):
        PrivateKey.from_pem((tmp_path / "enc.pem").read_text())


def test_pem_of_the_wrong_kind_is_refused(key: PrivateKey) -> None:
    with pytest.raises(KeyFormatError, match="not a PEM public key"):
        PublicKey.from_pem(key.pem())
    with pytest.raises(KeyFormatError, match="no PEM private key found"):
        PrivateKey.from_pem(key.public_key.pem())
    with pytest.raises(KeyFormatError, match="no PEM private key found"):
        PrivateKey.from_pem(b"hello")
    with pytest.raises(KeyFormatError, match="malformed"):
        PrivateKey.from_der(b"\x30\x03\x02\x01\x00")


def test_private_scalar_must_be_32_bytes_and_in_range(alg: Algorithm) -> None:
    n = ORDER[alg]
    for bad in (b"\x00" * 32, n.to_bytes(32, "big"), (2**256 - 1).to_bytes(32, "big")):
        with pytest.raises(KeyFormatError, match="out of range"):
            PrivateKey(alg, bad)
    with pytest.raises(KeyFormatError, match="32 bytes"):
        PrivateKey(alg, b"\x01" * 31)
    PrivateKey(alg, (n - 2).to_bytes(32, "big"))  # the top of the range is fine


def test_algorithm_parse_accepts_names_and_refuses_others() -> None:
    assert Algorithm.parse(" SM2 ") is Algorithm.SM2
    assert Algorithm.parse("ecdsa") is Algorithm.ECDSA
    with pytest.raises(KeyFormatError, match="unknown algorithm 'rsa'"):
        Algorithm.parse("rsa")


def test_spki_with_empty_algorithm_identifier_is_a_key_format_error(keys) -> None:
    point = keys[Algorithm.ECDSA].public_key.point
    with pytest.raises(KeyFormatError):
        PublicKey.from_spki(der.seq(der.seq(), der.bit_string(point)))


def _mutations(data: bytes):
    return st.lists(
        st.tuples(
            st.sampled_from(["flip", "cut", "insert", "delete"]), st.integers(0, len(data) - 1), st.integers(1, 255)
        ),
        min_size=1,
        max_size=3,
    )


def _mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, i, v in ops:
        if not buf:
            break
        i %= len(buf)
        if op == "flip":
            buf[i] ^= v
        elif op == "cut":
            del buf[i:]
        elif op == "insert":
            buf.insert(i, v)
        else:
            del buf[i]
    return bytes(buf)


_SPKI = PrivateKey.generate(Algorithm.SM2).public_key.spki()
_P8 = PrivateKey.generate(Algorithm.ECDSA).pkcs8()


@PROPERTY
@given(_mutations(_SPKI))
def test_mutated_spki_loads_or_raises_key_format_error(ops) -> None:
    try:
        PublicKey.from_spki(_mutate(_SPKI, ops))
    except KeyFormatError:
        pass


@PROPERTY
@given(_mutations(_P8))
def test_mutated_pkcs8_loads_or_raises_key_format_error(ops) -> None:
    try:
        PrivateKey.from_der(_mutate(_P8, ops))
    except KeyFormatError:
        pass


# ================================================================================================
# Identifiers


def test_key_identifier_is_sha1_of_the_subject_public_key_bits(key: PrivateKey) -> None:
    # RFC 5280 §4.2.1.2 method (1), over the BIT STRING value as asn1crypto reads it from the SPKI.
    info = a1_keys.PublicKeyInfo.load(key.public_key.spki())
    assert key.public_key.key_identifier() == hashlib.sha1(info["public_key"].contents[1:]).digest()


def test_p256_key_identifier_matches_cryptography(keys) -> None:
    pub = keys[Algorithm.ECDSA].public_key
    theirs = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub.point)
    assert pub.key_identifier() == cx509.SubjectKeyIdentifier.from_public_key(theirs).digest


# ================================================================================================
# Encryption at rest

KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))


def test_encrypted_key_round_trips(key: PrivateKey) -> None:
    blob = encrypt_private_key(key, KEK, "kek-1")
    assert encrypted_key_id(blob) == "kek-1"
    back = decrypt_private_key(blob, {"kek-0": OTHER_KEK, "kek-1": KEK})
    assert back.pkcs8() == key.pkcs8() and back.algorithm is key.algorithm
    assert key.public_key.verify(MESSAGE, back.sign(MESSAGE))


def test_encrypted_key_does_not_open_under_the_wrong_kek(key: PrivateKey) -> None:
    blob = encrypt_private_key(key, KEK, "kek-1")
    with pytest.raises(KeyFormatError, match="does not open"):
        decrypt_private_key(blob, {"kek-1": OTHER_KEK})


def test_encrypted_key_needs_its_kek_id_configured(key: PrivateKey) -> None:
    blob = encrypt_private_key(key, KEK, "kek-1")
    with pytest.raises(KeyFormatError, match="'kek-1' is not configured"):
        decrypt_private_key(blob, {"kek-2": KEK})


def test_encrypted_key_cannot_be_relabelled_to_another_kek_id(key: PrivateKey) -> None:
    # The KEK id is associated data: rewriting the header to another id with the same KEK fails.
    blob = encrypt_private_key(key, KEK, "kek-1")
    relabelled = blob.replace(b"kek-1", b"kek-2", 1)
    assert encrypted_key_id(relabelled) == "kek-2"
    with pytest.raises(KeyFormatError, match="does not open"):
        decrypt_private_key(relabelled, {"kek-1": KEK, "kek-2": KEK})


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_encrypted_key_with_any_byte_tampered_is_a_key_format_error(keys, mask: int) -> None:
    blob = encrypt_private_key(keys[Algorithm.SM2], KEK, "kek-1")
    failures = []
    for i in range(len(blob)):
        tampered = blob[:i] + bytes([blob[i] ^ mask]) + blob[i + 1 :]
        try:
            decrypt_private_key(tampered, {"kek-1": KEK, "kek-0": KEK})
            failures.append(f"byte {i}: opened")
        except KeyFormatError:
            pass
        except Exception as exc:  # noqa: BLE001 - the point is to catch any other type
            failures.append(f"byte {i}: {type(exc).__name__}: {exc}")
    assert not failures, failures


def test_truncated_encrypted_key_is_a_key_format_error(keys) -> None:
    blob = encrypt_private_key(keys[Algorithm.ECDSA], KEK, "kek-1")
    failures = []
    for n in range(len(blob)):
        try:
            decrypt_private_key(blob[:n], {"kek-1": KEK})
            failures.append(f"{n} bytes: opened")
        except KeyFormatError:
            pass
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{n} bytes: {type(exc).__name__}: {exc}")
    assert not failures, failures


def test_encrypted_blob_does_not_contain_the_private_scalar(key: PrivateKey) -> None:
    scalar = scalar_of(key).to_bytes(32, "big")
    blob = encrypt_private_key(key, KEK, "kek-1")
    assert scalar not in blob
    assert scalar.hex().encode() not in blob.lower()
    assert key.pkcs8() not in blob
    assert encrypt_private_key(key, KEK, "kek-1") != blob  # fresh nonce each time


def test_encryption_refuses_a_kek_that_is_not_32_bytes(key: PrivateKey) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_private_key(key, KEK[:16], "kek-1")


def test_private_key_repr_does_not_reveal_the_scalar(key: PrivateKey) -> None:
    scalar = scalar_of(key)
    hex_ = scalar.to_bytes(32, "big").hex()
    for text in (repr(key), str(key), f"{key!r:}", repr([key])):
        assert hex_ not in text.lower()
        assert str(scalar) not in text
        assert hex_[:16] not in text.lower()


# ================================================================================================
# Signature encoding and range checks


def test_sm2_signature_is_a_canonical_der_sequence_of_r_and_s(keys) -> None:
    k = keys[Algorithm.SM2]
    for i in range(40):
        sig = k.sign(MESSAGE + bytes([i]))
        parsed = a1_algos.DSASignature.load(sig)
        r, s = parsed["r"].native, parsed["s"].native
        assert 0 < r < SM2_N and 0 < s < SM2_N
        assert sig == dsa_sig(r, s)  # canonical: asn1crypto re-encodes to the same bytes
        assert len(sig) <= 72
        assert sig_from_der(sig) == (r, s)


def test_sm2_signature_length_is_70_to_72_when_r_and_s_fill_32_bytes() -> None:
    hi, lo = 2**255 + 12345, 2**250 + 6789  # top bit set (needs a 0x00 pad) / 32 significant bytes
    assert len(sig_to_der(hi.to_bytes(32, "big") + hi.to_bytes(32, "big"))) == 72
    assert len(sig_to_der(hi.to_bytes(32, "big") + lo.to_bytes(32, "big"))) == 71
    assert len(sig_to_der(lo.to_bytes(32, "big") + lo.to_bytes(32, "big"))) == 70


def test_sig_to_der_keeps_values_with_leading_zero_bytes() -> None:
    raw = (5).to_bytes(32, "big") + (2**248).to_bytes(32, "big")
    enc = sig_to_der(raw)
    assert enc == dsa_sig(5, 2**248)
    assert sig_from_der(enc) == (5, 2**248)


@pytest.mark.openssl
def test_openssl_asn1parse_reads_our_sm2_signature_as_two_integers(openssl: str, keys, tmp_path: Path) -> None:
    sig = write(tmp_path / "sig", keys[Algorithm.SM2].sign(MESSAGE))
    lines = ossl(openssl, "asn1parse", "-inform", "DER", "-in", sig).stdout.strip().splitlines()
    assert len(lines) == 3 and "SEQUENCE" in lines[0]
    assert all("prim: INTEGER" in line for line in lines[1:])


def _bad_signatures(sig: bytes, n: int) -> dict[str, bytes]:
    r, s = sig_from_der(sig)
    return {
        "r=0": dsa_sig(0, s),
        "s=0": dsa_sig(r, 0),
        "r=n": dsa_sig(n, s),
        "s=n": dsa_sig(r, n),
        "r=-r": dsa_sig(-r, s),
        "s=-s": dsa_sig(r, -s),
        "r+2^256": dsa_sig(r + 2**256, s),
        "s+2^256": dsa_sig(r, s + 2**256),
        "r+s=n": dsa_sig(r, n - r),
        "raw r||s": r.to_bytes(32, "big") + s.to_bytes(32, "big"),
        "trailing byte": sig + b"\x00",
        "three integers": der.seq(der.integer(r), der.integer(s), der.integer(1)),
        "one integer": der.seq(der.integer(r)),
        "empty": b"",
        "SET": b"\x31" + sig[1:],
        "swapped": dsa_sig(s, r),
        "s flipped": dsa_sig(r, s ^ 1),
    }


def test_verify_rejects_out_of_range_or_malformed_signatures(key: PrivateKey, alg: Algorithm) -> None:
    sig = key.sign(MESSAGE)
    assert key.public_key.verify(MESSAGE, sig)
    accepted = [
        name
        for name, bad in _bad_signatures(sig, ORDER[alg]).items()
        if key.public_key.verify(MESSAGE, bad) is not False
    ]
    assert not accepted


def test_sm2_signature_is_not_malleable_by_negating_s(keys) -> None:
    # ECDSA accepts (r, n - s) alongside (r, s); SM2's t = r + s binds s, so the twin must fail.
    k = keys[Algorithm.SM2]
    sig = k.sign(MESSAGE)
    r, s = sig_from_der(sig)
    assert not k.public_key.verify(MESSAGE, dsa_sig(r, SM2_N - s))


def _p256_key_with_small_s(message: bytes, s: int) -> tuple[PrivateKey, int]:
    """A P-256 key whose valid ECDSA signature on ``message`` has the tiny ``s``: pick the nonce k,
    then solve s = k^-1 (e + r d) for d. Returns the key and r."""
    e = int.from_bytes(hashlib.sha256(message).digest(), "big")
    for k in itertools.count(2):
        r = ec.derive_private_key(k, ec.SECP256R1()).public_key().public_numbers().x % P256_N
        d = (s * k - e) * pow(r, -1, P256_N) % P256_N
        if r and d:
            return PrivateKey(Algorithm.ECDSA, d.to_bytes(32, "big")), r
    raise AssertionError("unreachable")


@pytest.mark.openssl
def test_ecdsa_signature_with_s_plus_n_is_rejected(openssl: str, tmp_path: Path) -> None:
    # s and s + n are the same residue; only the range check [1, n-1] (SEC 1 §4.1.4 step 1) refuses it.
    key, r = _p256_key_with_small_s(MESSAGE, 7)
    good, high = dsa_sig(r, 7), dsa_sig(r, 7 + P256_N)
    assert (7 + P256_N).bit_length() == 256
    assert key.public_key.verify(MESSAGE, good)
    assert not key.public_key.verify(MESSAGE, high)
    pub, data = write(tmp_path / "pub.pem", key.public_key.pem()), write(tmp_path / "data", MESSAGE)
    ok = ossl(openssl, "dgst", "-sha256", "-verify", pub, "-signature", write(tmp_path / "g", good), data)
    assert "Verified OK" in ok.stdout
    assert (
        ossl(
            openssl, "dgst", "-sha256", "-verify", pub, "-signature", write(tmp_path / "h", high), data, check=False
        ).returncode
        == 1
    )


def _non_canonical_encodings(sig: bytes) -> dict[str, bytes]:
    r, s = sig_from_der(sig)

    def padded(v: int) -> bytes:  # one superfluous leading zero octet
        body = b"\x00" + der.integer(v)[2:]
        return der.tlv(der.INTEGER, body)

    return {
        "non-minimal r": der.seq(padded(r), der.integer(s)),
        "non-minimal s": der.seq(der.integer(r), padded(s)),
        "ENUMERATED": der.seq(der.enumerated(r), der.enumerated(s)),
        "long-form length": b"\x30\x81" + bytes([len(sig) - 2]) + sig[2:],
    }


@pytest.mark.openssl
def test_signature_must_be_canonical_der_as_openssl_requires(
    openssl: str, key: PrivateKey, alg: Algorithm, tmp_path: Path
) -> None:
    # OpenSSL re-encodes (r, s) and refuses a signature whose bytes differ (no malleable encodings);
    # a verifier that accepts them lets anyone make a second valid signature value for the same data.
    sig = key.sign(MESSAGE)
    pub, data = write(tmp_path / "pub.pem", key.public_key.pem()), write(tmp_path / "data", MESSAGE)
    problems = []
    for name, variant in _non_canonical_encodings(sig).items():
        theirs = ossl(
            openssl, "dgst", *DGST[alg], "-verify", pub, "-signature", write(tmp_path / "v", variant), data, check=False
        )
        assert theirs.returncode == 1, name  # OpenSSL refuses each of these
        if key.public_key.verify(MESSAGE, variant):
            problems.append(name)
    assert not problems, f"{alg.value} verify accepted non-canonical encodings: {problems}"


_RANDOM_SIG_KEYS = [PrivateKey.generate(a) for a in ALGS]


@PROPERTY
@given(st.binary(max_size=80))
def test_verify_returns_false_never_raises_on_arbitrary_signature_bytes(sig: bytes) -> None:
    for k in _RANDOM_SIG_KEYS:
        assert k.public_key.verify(MESSAGE, sig) is False


def test_sig_from_der_explains_malformed_values() -> None:
    with pytest.raises(KeyFormatError, match="malformed signature value"):
        sig_from_der(b"\x30\x03\x02\x01")
    with pytest.raises(KeyFormatError, match="exactly r and s"):
        sig_from_der(der.seq(der.integer(1)))
    with pytest.raises(KeyFormatError, match="out of range"):
        sig_from_der(dsa_sig(0, 1))


# ================================================================================================
# Nonces


def test_signing_the_same_message_twice_gives_different_signatures(key: PrivateKey) -> None:
    sigs = [key.sign(MESSAGE) for _ in range(16)]
    assert len(set(sigs)) == 16
    # A repeated nonce shows up as a repeated r (and would reveal the private key).
    assert len({sig_from_der(s)[0] for s in sigs}) == 16
    assert all(key.public_key.verify(MESSAGE, s) for s in sigs)


def test_generated_keys_are_distinct(alg: Algorithm) -> None:
    assert len({PrivateKey.generate(alg).public_key.point for _ in range(8)}) == 8
