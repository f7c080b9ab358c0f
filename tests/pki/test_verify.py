"""The pure verifier: ofdrw vectors, OFD packages, hostile input (issue: verifier services)."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.pki import _libcrypto, ofd, ses
from registry.pki import verify as pv
from registry.pki.keys import Algorithm, PrivateKey
from tests.support.data import VECTORS, vector

NOW = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
needs_vectors = pytest.mark.skipif(not (VECTORS / "UserV4.esl").exists(), reason="ofdrw vectors not present")


class NoTrust:
    """Trusts nothing and knows no revocation: what a verifier knows of a stranger's seal."""

    def issuers(self, cert):  # type: ignore[no-untyped-def]
        return []

    def is_anchor(self, cert):  # type: ignore[no-untyped-def]
        return False

    def status(self, cert, issuer):  # type: ignore[no-untyped-def]
        return pv.Status.unknown("test")

    def seal_record(self, seal):  # type: ignore[no-untyped-def]
        return None


def by_id(item: pv.SignatureReport) -> dict[str, pv.Check]:
    return {c.id: c for c in item.checks}


def text(check: pv.Check) -> str:
    return " ".join(m[1] for m in check.reasons + check.notes)


# ------------------------------------------------------------------------------------------------
# ofdrw vectors


ALL = [
    "UserV1.esl",
    "UserV4.esl",
    "UserV5.esl",
    "UserV5_ts.esl",
    "SESealData.DER",
    "SignedValueV4.dat",
    "SignedValueV5.dat",
    "V4RideRight.ofd",
    "SignScaleError.ofd",
]


@needs_vectors
@pytest.mark.parametrize("name", ALL)
def test_every_vector_is_read_and_reported_check_by_check(name: str) -> None:
    report = pv.verify_bytes(vector(name), NOW, NoTrust())
    assert report.items, name
    for item in report.items:
        ids = [c.id for c in item.checks]
        assert ids[0] == "format" and item.check("format").ok is True
        order = list(pv.CHECKS)
        assert ids == sorted(ids, key=order.index), "checks are reported in the GB/T 38540 order"
        for c in item.checks:
            j = c.to_json()
            assert j["reason_zh"] and j["reason_en"], (name, c.id)
    # nobody trusts the ofdrw test roots here: never valid, but never a crash either
    assert report.verdict == "invalid"
    assert report.to_json()["verdict"] == "invalid"


@needs_vectors
@pytest.mark.parametrize(
    "name",
    [
        "UserV1.esl",
        "UserV4.esl",
        "UserV5.esl",
        "UserV5_ts.esl",
        "SignedValueV4.dat",
        "SignedValueV5.dat",
        "V4RideRight.ofd",
        "SignScaleError.ofd",
    ],
)
def test_vector_signatures_are_cryptographically_intact(name: str) -> None:
    report = pv.verify_bytes(vector(name), NOW, NoTrust())
    for item in report.items:
        checks = by_id(item)
        assert checks["seal_signature"].ok is True, text(checks["seal_signature"])
        if item.kind == "signature":
            assert checks["signer_signature"].ok is True
            assert checks["signer_in_seal"].ok is True


@needs_vectors
def test_the_one_vector_whose_maker_signature_is_broken_says_so() -> None:
    item = pv.verify_bytes(vector("SESealData.DER"), NOW, NoTrust()).items[0]
    assert by_id(item)["seal_signature"].ok is False
    assert "does not verify" in text(by_id(item)["seal_signature"])


@needs_vectors
@pytest.mark.parametrize("name", ["UserV4.esl", "SignedValueV4.dat", "V4RideRight.ofd"])
def test_long_expired_test_certificates_are_reported_as_expired(name: str) -> None:
    item = pv.verify_bytes(vector(name), NOW, NoTrust()).items[0]
    found = " ".join(text(c) for c in item.checks)
    assert "expired" in found and "2022-04-21" in found
    maker = by_id(item)["maker_certificate"]
    assert maker.ok is False and "unknown issuer" in text(maker)


@needs_vectors
@pytest.mark.parametrize("name", ["V4RideRight.ofd", "SignScaleError.ofd"])
def test_ofd_vectors_verify_signature_and_every_reference(name: str) -> None:
    report = pv.verify_ofd(vector(name), NOW, NoTrust())
    (item,) = report.items
    checks = by_id(item)
    for cid in ("signer_signature", "signer_in_seal", "seal_signature", "document_digest", "document_parts"):
        assert checks[cid].ok is True, (cid, text(checks[cid]))
    assert item.location == "Doc_0/Signs/Sign_0"
    assert "protected parts match" in text(checks["document_parts"])
    # the signing time is inside the seal's window for both documents
    assert checks["seal_validity"].ok is True


def _rezip(data: bytes, change: dict[str, bytes | None], extra: dict[str, bytes] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in change:
                if change[info.filename] is None:
                    continue
                dst.writestr(info.filename, change[info.filename])  # type: ignore[arg-type]
            else:
                dst.writestr(info, src.read(info))
        for name, body in (extra or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


@needs_vectors
@pytest.mark.parametrize("name", ["V4RideRight.ofd", "SignScaleError.ofd"])
def test_changing_one_byte_of_a_referenced_part_is_detected_and_named(name: str) -> None:
    data = vector(name)
    pkg = ofd.open_package(data)
    (entry,) = ofd.signatures(pkg)
    for ref in entry.references:
        if ref.path == entry.signature_xml_path:
            continue
        body = bytearray(pkg.read(ref.path))
        # one byte: a digit after the middle becomes another digit (XML stays well-formed)
        i = next(j for j in range(len(body) // 2, len(body)) if 0x30 <= body[j] <= 0x39)
        body[i] = 0x30 + (body[i] - 0x30 + 1) % 10
        item = pv.verify_ofd(_rezip(data, {ref.path: bytes(body)}), NOW, NoTrust()).items[0]
        parts = by_id(item)["document_parts"]
        assert parts.ok is False, ref.path
        assert f"/{ref.path}" in text(parts) and "changed after signing" in text(parts)
        others = [r.path for r in entry.references if r.path != ref.path]
        assert not any(f"/{p}," in text(parts) or text(parts).endswith(f"/{p}") for p in others)


@needs_vectors
def test_changed_signature_xml_breaks_the_document_digest() -> None:
    data = vector("V4RideRight.ofd")
    pkg = ofd.open_package(data)
    (entry,) = ofd.signatures(pkg)
    xml = pkg.read(entry.signature_xml_path).replace(b"2021-05-19", b"2021-05-18")
    item = pv.verify_ofd(_rezip(data, {entry.signature_xml_path: xml}), NOW, NoTrust()).items[0]
    assert by_id(item)["document_digest"].ok is False
    assert "Signature.xml" in text(by_id(item)["document_digest"])


@needs_vectors
def test_missing_referenced_part_and_unprotected_added_part() -> None:
    data = vector("V4RideRight.ofd")
    item = pv.verify_ofd(_rezip(data, {"Doc_0/Pages/Page_3/Content.xml": None}), NOW, NoTrust()).items[0]
    assert "missing: /Doc_0/Pages/Page_3/Content.xml" in text(by_id(item)["document_parts"])
    item = pv.verify_ofd(_rezip(data, {}, {"Doc_0/Res/added.png": b"x"}), NOW, NoTrust()).items[0]
    parts = by_id(item)["document_parts"]
    assert parts.ok is True and "not protected by this signature: /Doc_0/Res/added.png" in text(parts)


# ------------------------------------------------------------------------------------------------
# Hostile packages and XML


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, body in entries.items():
            z.writestr(name, body)
    return out.getvalue()


def test_zip_bomb_is_stopped_by_the_ratio_limit_while_inflating() -> None:
    bomb = _zip({"OFD.xml": b"<a/>", "Doc_0/bomb.xml": b"\x00" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(ofd.OfdError, match="expands more than 200 times"):
        ofd.open_package(bomb)


def test_entry_and_total_size_limits() -> None:
    data = _zip({"a": os.urandom(3000), "b": os.urandom(3000)}, zipfile.ZIP_STORED)
    with pytest.raises(ofd.OfdError, match="entry 'a' declares 3000 bytes"):
        ofd.open_package(data, ofd.Limits(max_entry_bytes=2000))
    with pytest.raises(ofd.OfdError, match="inflates to more than the limit of 5000 bytes"):
        ofd.open_package(data, ofd.Limits(max_total_bytes=5000))


def test_lying_size_header_does_not_get_past_the_limit() -> None:
    data = bytearray(_zip({"a": b"A" * 50_000}))
    # patch the declared uncompressed size (local header and central directory) to 10 bytes
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = data.find(sig)
        data[i + off : i + off + 4] = (10).to_bytes(4, "little")
    with pytest.raises(ofd.OfdError):
        ofd.open_package(bytes(data), ofd.Limits(max_entry_bytes=1000))


def test_too_many_entries() -> None:
    data = _zip({f"f{i}": b"" for i in range(30)})
    with pytest.raises(ofd.OfdError, match="30 entries, more than the limit of 10"):
        ofd.open_package(data, ofd.Limits(max_entries=10))


@pytest.mark.parametrize("name", ["../evil.xml", "/abs.xml", "C:/x.xml", "a\\b.xml"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ofd.OfdError, match="absolute|climbs out"):
        ofd.open_package(_zip({name: b"x"}))


def test_encrypted_entries_are_refused() -> None:
    data = bytearray(_zip({"a": b"x"}))
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        data[i + off] |= 0x01
    with pytest.raises(ofd.OfdError, match="encrypted"):
        ofd.open_package(bytes(data))


XXE = [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><r>&c;</r>',
    b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><r/>',
]


@pytest.mark.parametrize("xml", XXE, ids=["external", "laughs", "external-dtd", "parameter"])
def test_xml_with_entity_declarations_is_refused_unexpanded(xml: bytes) -> None:
    with pytest.raises(ofd.OfdError, match="DTD or entity declaration"):
        ofd.parse_xml(xml, "/OFD.xml")


@needs_vectors
def test_xxe_inside_a_signature_xml_is_a_clear_error() -> None:
    data = vector("V4RideRight.ofd")
    xml = XXE[0].replace(b"<r>&x;</r>", b"<ofd:Signature xmlns:ofd='http://www.ofdspec.org/2016'>&x;</ofd:Signature>")
    bad = _rezip(data, {"Doc_0/Signs/Sign_0/Signature.xml": xml})
    with pytest.raises(ofd.OfdError, match="Signature.xml contains a DTD"):
        pv.verify_ofd(bad, NOW, NoTrust())


def test_ofd_without_signatures_is_invalid_not_an_error() -> None:
    data = _zip(
        {
            "OFD.xml": b'<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"><ofd:DocBody>'
            b"<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        }
    )
    report = pv.verify_ofd(data, NOW, NoTrust())
    assert report.verdict == "invalid" and report.to_json()["problems_en"] == ["the document carries no signature"]


@needs_vectors
def test_digital_signature_type_sign_is_reported_not_verified() -> None:
    data = vector("V4RideRight.ofd")
    pkg = ofd.open_package(data)
    sigs = pkg.read("Doc_0/Signs/Signatures.xml").replace(b'Type="Seal"', b'Type="Sign"')
    item = pv.verify_ofd(_rezip(data, {"Doc_0/Signs/Signatures.xml": sigs}), NOW, NoTrust()).items[0]
    assert item.check("format").ok is False and "only those are verified" in text(item.check("format"))


# ------------------------------------------------------------------------------------------------
# SM2 verification backends


def test_libcrypto_backend_is_used_here_and_agrees_with_gmalglib() -> None:
    if os.environ.get("CI"):
        assert _libcrypto.backend_name() == "openssl", "the system libcrypto should verify SM2 on CI"
    script = (
        "import os, sys\n"
        "from registry.pki.keys import PrivateKey, Algorithm\n"
        "from registry.pki import _libcrypto\n"
        "k = PrivateKey.from_pem(sys.stdin.read())\n"
        "data = b'message'\n"
        "sig = bytes.fromhex(os.environ['SIG'])\n"
        "print(_libcrypto.backend_name(), k.public_key.verify(data, sig), k.public_key.verify(data + b'!', sig),"
        " k.public_key.verify(data, sig, sm2_uid=b''))\n"
    )
    key = PrivateKey.generate(Algorithm.SM2)
    sig = key.sign(b"message")
    outs = []
    for backend in ("", "gmalglib"):
        env = {**os.environ, "SIG": sig.hex(), "REGISTRY_SM2_VERIFY": backend}
        res = subprocess.run(
            [sys.executable, "-c", script], input=key.pem(), capture_output=True, text=True, env=env, check=True
        )
        outs.append(res.stdout.split())
    assert outs[1] == ["gmalglib", "True", "False", "False"]
    assert outs[0][1:] == outs[1][1:]


def test_libcrypto_rejects_what_gmalglib_rejects() -> None:
    key = PrivateKey.generate(Algorithm.SM2)
    sig = bytearray(key.sign(b"abc"))
    assert key.public_key.verify(b"abc", bytes(sig))
    sig[-1] ^= 1
    assert not key.public_key.verify(b"abc", bytes(sig))
    other = PrivateKey.generate(Algorithm.SM2)
    assert not other.public_key.verify(b"abc", key.sign(b"abc"))


# ------------------------------------------------------------------------------------------------
# Property: nothing escapes as an unhandled exception


def _own_signature() -> tuple[bytes, bytes]:
    """A seal and signature made here (maker and signer keys of our own, self-issued)."""
    from registry.pki import x509

    maker, holder = PrivateKey.generate(Algorithm.SM2), PrivateKey.generate(Algorithm.SM2)
    name = x509.Name.build(C="CN", CN="fuzz")
    certs = []
    for key in (maker, holder):
        certs.append(
            x509.sign_tbs(
                x509.build_tbs(
                    serial=7,
                    signature_alg=Algorithm.SM2,
                    issuer=name,
                    subject=name,
                    not_before=NOW - dt.timedelta(days=1),
                    not_after=NOW + dt.timedelta(days=1),
                    public_key=key.public_key,
                    extensions=[],
                ),
                maker,
            )
        )
    info = ses.encode_seal_info(
        es_id="FUZZ1",
        vid="T",
        prop=ses.SealProperty(
            type=1,
            name="测试",
            cert_list_type=1,
            cert_list=(certs[1],),
            create_date=NOW,
            valid_start=NOW,
            valid_end=NOW + dt.timedelta(days=1),
        ),
        picture=ses.SealPicture("PNG", b"\x89PNG\r\n\x1a\n", 1, 1),
    )
    seal = ses.make_seal(info, certs[0], maker)
    sig = ses.make_signature(
        seal=seal, signer_cert=certs[1], signer=holder, data_hash=b"\x00" * 32, property_info="x", signing_time=NOW
    )
    return seal, sig


SEAL, SIGNATURE = _own_signature()
SAMPLES = [SEAL, SIGNATURE] + ([vector(n) for n in ALL] if (VECTORS / "UserV4.esl").exists() else [])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "set"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif data:
            data[pos] = draw(st.sampled_from([0x00, 0x30, 0x80, 0x81, 0x84, 0xFF, 0xA0]))
    return bytes(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_seals_signatures_and_documents_never_crash_the_verifier(data: bytes) -> None:
    try:
        report = pv.verify_bytes(data, NOW, NoTrust())
    except (pv.InputError, ofd.OfdError) as exc:
        assert str(exc)
        return
    doc = report.to_json()
    assert doc["verdict"] in ("valid", "invalid", "indeterminate")
    assert doc["verdict"] != "valid"  # nothing here is trusted


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_verifier(data: bytes) -> None:
    try:
        pv.verify_bytes(data, NOW, NoTrust())
    except (pv.InputError, ofd.OfdError):
        pass


OFD_SAMPLES = (
    [vector(n) for n in ("V4RideRight.ofd", "SignScaleError.ofd")] if (VECTORS / "UserV4.esl").exists() else []
)


@st.composite
def mutated_package(draw: st.DrawFn) -> bytes:
    """A well-formed ZIP whose parts (XML, signature value, seal) are mutated: gets past the ZIP layer."""
    data = draw(st.sampled_from(OFD_SAMPLES))
    src = zipfile.ZipFile(io.BytesIO(data))
    names = [i.filename for i in src.infolist() if not i.is_dir()]
    target = draw(st.sampled_from(names))
    body = bytearray(src.read(target))
    for _ in range(draw(st.integers(1, 3))):
        pos = draw(st.integers(0, max(len(body) - 1, 0)))
        op = draw(st.sampled_from(["flip", "truncate", "insert"]))
        if op == "flip" and body:
            body[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del body[pos:]
        else:
            body[pos:pos] = draw(st.sampled_from([b"<", b"&x;", b"]]>", b"\x00", b"/..", b"\xff\xfe", b"0"]))
    return _rezip(data, {target: bytes(body)})


@pytest.mark.skipif(not OFD_SAMPLES, reason="ofdrw vectors not present")
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_package())
def test_mutated_ofd_parts_never_crash_the_verifier(data: bytes) -> None:
    try:
        report = pv.verify_bytes(data, NOW, NoTrust())
    except (pv.InputError, ofd.OfdError) as exc:
        assert str(exc)
        return
    assert report.to_json()["verdict"] in ("invalid", "indeterminate")


def test_unknown_xml_encoding_is_a_clear_error() -> None:
    """Found by the fuzzer: a mutated encoding name made expat raise LookupError."""
    with pytest.raises(ofd.OfdError, match="not well-formed XML: unknown encoding"):
        ofd.parse_xml(b'<?xml version="1.0" encoding="TTF-8"?><r/>', "/OFD.xml")


# ------------------------------------------------------------------------------------------------
# Caches and the SM2 table path never decide differently from a fresh, full check


needs_tables = pytest.mark.skipif(
    _libcrypto._library() is None or _libcrypto._curve is None, reason="no system libcrypto with the EC API here"
)


def _der_sig(r: int, s: int) -> bytes:
    from registry.pki import der

    return der.seq(der.integer(r), der.integer(s))


@needs_tables
def test_sm2_table_path_decides_as_evp_pkey_verify() -> None:
    from gmalglib.sm2 import SM2

    curve = _libcrypto._curve
    assert curve is not None
    n = _libcrypto._N
    for _ in range(4):
        sk, pk = SM2().generate_keypair()
        signer = SM2(sk=sk, uid=b"1234567812345678")
        key, table = _libcrypto._Key(curve.lib, pk), _libcrypto._Table(curve, pk)
        for e in (os.urandom(32), (n + 5).to_bytes(32, "big")):  # e >= n too
            raw = signer.sign_digest(e)
            r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            good = _der_sig(r, s)
            cases = [
                good,
                _der_sig(r + 1, s),
                _der_sig(r, s - 1),
                _der_sig(s, r),
                _der_sig(0, s),
                _der_sig(r, 0),
                _der_sig(n, s),
                _der_sig(r, n),
                _der_sig(r + n, s),
                _der_sig(n - s, s),
                _der_sig(-r, s),
                _der_sig(1, 1),
                good[:-1],
                good + b"\x00",
                b"\x30\x81" + good[1:],
            ]
            for digest in (e, bytes([e[0] ^ 1]) + e[1:]):
                for sig in cases:
                    decided = curve.verify(table, digest, sig)
                    assert decided is None or decided is key.verify_evp(digest, sig), sig.hex()
            assert curve.verify(table, e, good) is True


_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)


def _add(p1: tuple[int, int] | None, p2: tuple[int, int] | None) -> tuple[int, int] | None:
    """Affine addition on the SM2 curve (a = -3), None for the point at infinity (test use only)."""
    if p1 is None or p2 is None:
        return p1 or p2
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % _P == 0:
        return None
    lam = ((3 * x1 * x1 - 3) * pow(2 * y1, -1, _P) if p1 == p2 else (y2 - y1) * pow(x2 - x1, -1, _P)) % _P
    x3 = (lam * lam - x1 - x2) % _P
    return x3, (lam * (x1 - x3) - y1) % _P


def _mul(k: int, pt: tuple[int, int] | None) -> tuple[int, int] | None:
    out = None
    while k:
        if k & 1:
            out = _add(out, pt)
        pt, k = _add(pt, pt), k >> 1
    return out


@needs_tables
def test_sm2_table_path_at_the_point_at_infinity_and_at_doubling() -> None:
    """[s]G + [t]P = O is no signature (EVP decides: invalid); [s]G = [t]P needs a doubling, and a
    signature made for that case is valid on both paths (a reviewer's hand-built cases, kept)."""
    curve = _libcrypto._curve
    assert curve is not None
    n = _libcrypto._N
    d = int.from_bytes(os.urandom(32), "big") % (n - 1) + 1
    pub = _mul(d, _G)
    assert pub is not None
    point = b"\x04" + pub[0].to_bytes(32, "big") + pub[1].to_bytes(32, "big")
    key, table = _libcrypto._Key(curve.lib, point), _libcrypto._Table(curve, point)
    e = os.urandom(32)
    # infinity: s + t*d = 0 (mod n)
    s_ = 12345
    t = (-s_ * pow(d, -1, n)) % n
    r = (t - s_) % n
    sig = _der_sig(r, s_)
    assert curve.verify(table, e, sig) is None  # the table path does not decide...
    assert key.verify_evp(e, sig) is False  # ...and EVP says invalid
    # doubling: s = t*d, so [s]G = [t]P and the sum is [2s]G; choose e so that the signature is valid
    t = int.from_bytes(os.urandom(32), "big") % (n - 1) + 1
    s_ = (t * d) % n
    r = (t - s_) % n
    x1 = _mul(2 * s_ % n, _G)[0]  # type: ignore[index]
    e_valid = ((r - x1) % n).to_bytes(32, "big")
    sig = _der_sig(r, s_)
    assert curve.verify(table, e_valid, sig) is True and key.verify_evp(e_valid, sig) is True
    assert curve.verify(table, e, sig) is False and key.verify_evp(e, sig) is False


def _has_table(key: PrivateKey) -> bool:
    fast = key.public_key._fast  # type: ignore[attr-defined]
    return bool(fast) and fast.__self__.table is not None


@needs_tables
def test_a_key_in_steady_use_gets_a_table_and_verifies_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_libcrypto, "_TABLES_MAX", 2)
    keys = [PrivateKey.generate(Algorithm.SM2) for _ in range(4)]
    sigs = [k.sign(b"contract") for k in keys]
    for _round in range(3):
        for i, (k, sig) in enumerate(zip(keys, sigs, strict=True)):
            for _ in range(_libcrypto._TABLE_AFTER):  # in a row: the key gets a table
                assert k.public_key.verify(b"contract", sig)
                assert not k.public_key.verify(b"contracT", sig)
                assert not k.public_key.verify(b"contract", sigs[(i + 1) % len(keys)])
            assert _has_table(k)
    curve = _libcrypto._curve
    assert curve is not None
    assert sum(_has_table(k) for k in keys) == 2  # at most _TABLES_MAX keys hold one; the others gave it up


@needs_tables
def test_a_key_met_now_and_then_never_pays_for_a_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_libcrypto, "_TABLES_MAX", 2)
    keys = [PrivateKey.generate(Algorithm.SM2) for _ in range(4)]
    sigs = [k.sign(b"contract") for k in keys]
    for _round in range(4 * _libcrypto._TABLE_AFTER):
        for k, sig in zip(keys, sigs, strict=True):  # each key's uses are 4 verifications apart: more than 2
            assert k.public_key.verify(b"contract", sig)
    assert not any(_has_table(k) for k in keys)


def test_the_seal_signature_verdict_is_kept_by_the_bytes_it_was_computed_from() -> None:
    import dataclasses

    seal = ses.parse_seal(SEAL)
    assert pv.checks._seal_signature_check(seal).ok is True
    forged = dataclasses.replace(seal, signature=bytes(reversed(seal.signature)))  # same raw bytes
    assert forged.raw == seal.raw
    assert pv.checks._seal_signature_check(forged).ok is False
    assert pv.checks._seal_signature_check(seal).ok is True
