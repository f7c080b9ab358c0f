"""Tests for registry.pki.ses: SES seal/signature encoding (GB/T 38540 v4), decoding of all three
generations, and maker/signer signature verification.

Interoperability vectors come from ofdrw (Java/BouncyCastle), see ../shared/vectors/ofdrw/NOTICE.md.
Independent checks use the OpenSSL 3 command line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from gmalglib.sm3 import SM3
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.pki import der, oids, ses, x509
from registry.pki.keys import Algorithm, KeyFormatError, PrivateKey, sig_from_der
from registry.pki.ses import (
    CertDigest,
    ExtData,
    SealPicture,
    SealProperty,
    SesError,
    encode_seal_info,
    make_seal,
    parse_seal,
    parse_signature,
    verify_seal_signature,
    verify_signature_value,
)
from tests.support.data import VECTORS, vector

# The vectors live in ../shared beside the repository; in CI their absence fails the run (conftest).
needs_vectors = pytest.mark.skipif(
    not (VECTORS / "UserV4.esl").exists(), reason=f"ofdrw vectors not found in {VECTORS}"
)
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
needs_openssl = pytest.mark.skipif(not Path(OPENSSL).exists(), reason="openssl binary not available")

UTC = dt.UTC
# 1×1 transparent PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63fcffff3f0300050001ff2a8f6b5a0000000049454e44ae426082"
)


def ofd_member(ofd: str, member: str) -> bytes:
    with zipfile.ZipFile(VECTORS / ofd) as zf:
        return zf.read(member)


def sm3(data: bytes) -> bytes:
    h = SM3()
    h.update(data)
    return h.digest()


# ----------------------------------------------------------------------------------------------
# A tiny test PKI: root CA → seal maker (制章者) certificate, and a holder (签章者) certificate


def _cert(issuer_key: PrivateKey, issuer: x509.Name, subject: x509.Name, key: PrivateKey, exts: list[bytes]) -> bytes:
    tbs = x509.build_tbs(
        serial=x509.random_serial(),
        signature_alg=issuer_key.algorithm,
        issuer=issuer,
        subject=subject,
        not_before=dt.datetime(2025, 1, 1, tzinfo=UTC),
        not_after=dt.datetime(2030, 1, 1, tzinfo=UTC),
        public_key=key.public_key,
        extensions=exts,
    )
    return x509.sign_tbs(tbs, issuer_key)


class Pki:
    def __init__(self, alg: Algorithm) -> None:
        self.root_key = PrivateKey.generate(alg)
        root_name = x509.Name.build(C="CN", O="Test Market Regulation", CN=f"Test Root {alg.value}")
        self.root_cert = _cert(
            self.root_key,
            root_name,
            root_name,
            self.root_key,
            [x509.basic_constraints(True), x509.key_usage(x509.KU_KEY_CERT_SIGN, x509.KU_CRL_SIGN)],
        )
        self.maker_key = PrivateKey.generate(alg)
        self.maker_cert = _cert(
            self.root_key,
            root_name,
            x509.Name.build(C="CN", O="深圳市市场监督管理局", CN="电子印章制章者"),
            self.maker_key,
            [x509.basic_constraints(False), x509.key_usage(x509.KU_DIGITAL_SIGNATURE, x509.KU_NON_REPUDIATION)],
        )
        self.holder_key = PrivateKey.generate(alg)
        self.holder_cert = _cert(
            self.root_key,
            root_name,
            x509.Name.build(C="CN", O="深圳市测试科技有限公司", CN="深圳市测试科技有限公司"),
            self.holder_key,
            [x509.basic_constraints(False), x509.key_usage(x509.KU_DIGITAL_SIGNATURE)],
        )


@pytest.fixture(scope="module")
def sm2_pki() -> Pki:
    return Pki(Algorithm.SM2)


@pytest.fixture(scope="module")
def ecdsa_pki() -> Pki:
    return Pki(Algorithm.ECDSA)


def make_prop(holder_cert: bytes, **kw: object) -> SealProperty:
    fields: dict[str, object] = dict(
        type=1,
        name="深圳市测试科技有限公司",
        cert_list_type=1,
        cert_list=(holder_cert,),
        create_date=dt.datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC),
        valid_start=dt.datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC),
        valid_end=dt.datetime(2028, 6, 1, 8, 0, 0, tzinfo=UTC),
    )
    fields.update(kw)
    return SealProperty(**fields)  # type: ignore[arg-type]


PICTURE = SealPicture(type="PNG", data=PNG, width=42, height=42)
EXTS = (
    ExtData("1.3.6.1.4.1.61156.2.1", False, b"91440300MA5XXXXXX1"),
    ExtData("1.3.6.1.4.1.61156.2.2", True, "法定名称章".encode()),
)


def build_seal(pki: Pki, **kw: object) -> tuple[bytes, bytes]:
    """(seal_info, seal) for our standard test seal."""
    info = encode_seal_info(
        es_id=str(kw.pop("es_id", "440300012025000001")),
        vid="SZAMR-RA",
        prop=make_prop(pki.holder_cert, **kw),
        picture=PICTURE,
        ext_datas=EXTS,
    )
    return info, make_seal(info, pki.maker_cert, pki.maker_key)


@pytest.fixture(scope="module")
def sm2_seal(sm2_pki: Pki) -> tuple[bytes, bytes]:
    return build_seal(sm2_pki)


def run_openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, timeout=60)


# ----------------------------------------------------------------------------------------------
# ofdrw seal vectors


SEAL_VECTORS = {
    # file: (generation, header version, vid, esID, type, name, createDate, validEnd, picture, w, h, len(certList))
    "UserV1.esl": (
        "2014",
        1,
        "OFDR&WTest",
        "40C8CDD24DEF43388B86E62CCE1D6832",
        1,
        "OFDRW测试用印章",
        dt.datetime(2020, 4, 22, 2, 18, 7, tzinfo=UTC),
        dt.datetime(2022, 4, 22, 2, 18, 7, tzinfo=UTC),
        "PNG",
        40,
        40,
        1,
    ),
    "UserV4.esl": (
        "v4",
        4,
        "OFDR&WTest",
        "51f044b76510434e9bc67a1185c2fba5",
        3,
        "OFD R&W 测试用印章",
        dt.datetime(2020, 4, 22, 2, 9, 0, tzinfo=UTC),
        dt.datetime(2022, 4, 22, 2, 9, 0, tzinfo=UTC),
        "PNG",
        40,
        40,
        1,
    ),
    "UserV5.esl": (
        "v5",
        5,
        "OFDR&WTestV5",
        "09aaf39291e049e4b3d716414590937e",
        3,
        "OFD R&W V5测试用印章",
        dt.datetime(2026, 4, 24, 8, 53, 23, tzinfo=UTC),
        dt.datetime(2028, 4, 24, 8, 53, 23, tzinfo=UTC),
        "PNG",
        40,
        40,
        1,
    ),
    "UserV5_ts.esl": (
        "v5",
        5,
        "OFDR&WTestV5",
        "55a4a957189a48f596706fb431e962c5",
        3,
        "OFD R&W V5测试用印章",
        dt.datetime(2026, 4, 24, 8, 53, 22, tzinfo=UTC),
        dt.datetime(2028, 4, 24, 8, 53, 22, tzinfo=UTC),
        "PNG",
        40,
        40,
        1,
    ),
    "SESealData.DER": (
        "v4",
        4,
        "Vid HebeiGede",
        "esID130600",
        4,
        "测试单位名称 合同专用章",
        dt.datetime(2020, 10, 13, 9, 45, 58, tzinfo=UTC),
        dt.datetime(2021, 4, 16, 9, 45, 58, tzinfo=UTC),
        "GIF",
        42,
        42,
        2,
    ),
}
# ofdrw's own seals; SESealData.DER (from a third-party vendor) is handled separately below.
OFDRW_SIGNED_SEALS = ["UserV1.esl", "UserV4.esl", "UserV5.esl", "UserV5_ts.esl"]


@needs_vectors
@pytest.mark.parametrize("name", sorted(SEAL_VECTORS))
def test_vector_seal_generation_is_detected_by_structure(name: str) -> None:
    seal = parse_seal(vector(name))
    assert seal.generation == SEAL_VECTORS[name][0]
    assert seal.header_id == "ES"
    assert seal.raw == vector(name)


@needs_vectors
@pytest.mark.parametrize("name", sorted(SEAL_VECTORS))
def test_vector_seal_fields_match_openssl_asn1parse(name: str) -> None:
    (gen, version, vid, es_id, type_, seal_name, created, valid_end, pic_type, width, height, n_certs) = SEAL_VECTORS[
        name
    ]
    seal = parse_seal(vector(name))
    assert (seal.version, seal.vid, seal.es_id) == (version, vid, es_id)
    assert (seal.property.type, seal.property.name) == (type_, seal_name)
    assert seal.property.cert_list_type == 1
    assert len(seal.property.cert_list) == n_certs
    assert seal.property.create_date == created == seal.property.valid_start
    assert seal.property.valid_end == valid_end
    assert (seal.picture.type, seal.picture.width, seal.picture.height) == (pic_type, width, height)
    magic = {"PNG": b"\x89PNG", "GIF": b"GIF89a"}[pic_type]
    assert seal.picture.data.startswith(magic)
    assert seal.signature_algorithm == oids.SM2_WITH_SM3


@needs_vectors
@needs_openssl
@pytest.mark.parametrize("name", sorted(SEAL_VECTORS))
def test_vector_seal_fields_agree_with_openssl_asn1parse_output(name: str) -> None:
    """Cross-check against OpenSSL's own decoding: the SES_SealInfo scalars appear in asn1parse
    output, in order, with the values we decode."""
    out = run_openssl("asn1parse", "-inform", "DER", "-in", VECTORS / name)
    assert out.returncode == 0, out.stderr
    # certificates sit inside OCTET STRINGs (shown as hex dumps), so the printable scalars OpenSSL
    # lists are exactly the SES_SealInfo ones, in order
    values = [
        v.strip()
        for v in re.findall(
            r"prim:\s+(?:IA5STRING|UTF8STRING|INTEGER|UTCTIME|GENERALIZEDTIME)\s+:(.*)$", out.stdout, re.M
        )
    ]
    seal = parse_seal(vector(name))
    fmt = "%y%m%d%H%M%SZ" if seal.generation == "2014" else "%Y%m%d%H%M%SZ"
    p = seal.property
    expected = ["ES", f"{seal.version:02X}", seal.vid, seal.es_id, f"{p.type:02X}", p.name]
    if seal.generation != "2014":
        expected.append(f"{p.cert_list_type:02X}")
    expected += [
        p.create_date.strftime(fmt),
        p.valid_start.strftime(fmt),
        p.valid_end.strftime(fmt),
        seal.picture.type,
        f"{seal.picture.width:02X}",
        f"{seal.picture.height:02X}",
    ]
    assert values == expected


@needs_vectors
@pytest.mark.parametrize("name", OFDRW_SIGNED_SEALS)
def test_vector_maker_signature_is_valid(name: str) -> None:
    seal = parse_seal(vector(name))
    assert verify_seal_signature(seal) is True
    assert seal.maker_certificate().subject.get(oids.COMMON_NAME) == "Test Certificate"


@needs_vectors
def test_ofd_package_seal_maker_signature_is_valid() -> None:
    data = ofd_member("V4RideRight.ofd", "Doc_0/Signs/Sign_0/Seal.esl")
    seal = parse_seal(data)
    assert seal.generation == "v4"
    assert verify_seal_signature(seal) is True


@needs_vectors
def test_vector_sesealdata_maker_signature_does_not_verify() -> None:
    """SESealData.DER (a third-party 'Vid HebeiGede' seal in ofdrw-sign's resources, never verified by
    ofdrw's tests) parses as v4, but its signedValue does not verify under its maker certificate —
    neither over SES_SealInfo (v4 rule) nor over the 2014 triple, with the default or the empty SM2 ID.
    Its maker certificate had also expired (2019-01-02) before the seal's createDate (2020-10-13).
    The verifier must say False, not crash and not pretend."""
    data = vector("SESealData.DER")
    seal = parse_seal(data)
    assert verify_seal_signature(seal) is False
    maker = seal.maker_certificate()
    assert maker.not_after < seal.property.create_date
    top = der.parse(data).children()
    triple = der.seq(top[0].raw, top[1].raw, top[2].raw)
    for uid in (b"1234567812345678", b""):
        assert not maker.public_key.verify(triple, seal.signature, sm2_uid=uid)
        assert not maker.public_key.verify(seal.signed_bytes, seal.signature, sm2_uid=uid)


@needs_vectors
def test_vector_sesealdata_tolerates_explicit_default_critical_flag() -> None:
    """Its extDatas encode critical FALSE explicitly (not DER) and TRUE as 0xFF; both decode."""
    seal = parse_seal(vector("SESealData.DER"))
    assert [(e.oid, e.critical) for e in seal.ext_datas] == [
        ("1.2.156.112600.7.1", False),
        ("1.2.156.112600.7.2", True),
        ("1.2.156.112600.7.3", False),
    ]
    assert seal.ext_datas[2].value == b"HeBeiBaoDingShiCeShiDanWeiMingCheng"
    assert seal.property.cert_list[0] == seal.property.cert_list[1] == seal.maker_cert


@needs_vectors
def test_2014_maker_signs_sealinfo_cert_and_algorithm_triple() -> None:
    data = vector("UserV1.esl")
    seal = parse_seal(data)
    top = der.parse(data).children()
    sign_info = top[1].children()
    assert seal.signed_bytes == der.seq(top[0].raw, sign_info[0].raw, sign_info[1].raw)
    key = seal.maker_certificate().public_key
    assert not key.verify(top[0].raw, seal.signature)  # SES_SealInfo alone is NOT what was signed
    assert seal.property.create_date.year == 2020  # UTCTime decoded


@needs_vectors
@pytest.mark.parametrize("name", ["UserV4.esl", "UserV5.esl", "UserV5_ts.esl"])
def test_v4_v5_maker_signs_raw_sealinfo_only(name: str) -> None:
    data = vector(name)
    seal = parse_seal(data)
    node = der.parse(data)
    info = node.children()[0]
    assert seal.signed_bytes == data[node.header_len : node.header_len + len(info.raw)] == info.raw
    key = seal.maker_certificate().public_key
    triple = der.seq(*(c.raw for c in node.children()[:3]))
    assert not key.verify(triple, seal.signature)  # the 2014 triple is NOT what was signed


@needs_vectors
def test_v5_seal_timestamp_explicit_tag_is_decoded() -> None:
    seal = parse_seal(vector("UserV5_ts.esl"))
    assert seal.timestamp == b"\x01\x02\x03"  # ofdrw's placeholder token: [0] { BIT STRING 00 010203 }
    assert parse_seal(vector("UserV5.esl")).timestamp is None


@needs_vectors
def test_v5_seal_timestamp_untagged_and_implicit_variants_are_accepted() -> None:
    data = vector("UserV5_ts.esl")
    kids = der.parse(data).children()
    body = b"".join(k.raw for k in kids[:4])
    untagged = der.tlv(0x30, body + der.bit_string(b"\x01\x02\x03"))
    implicit = der.tlv(0x30, body + der.implicit(0, b"\x00\x01\x02\x03"))
    for variant in (untagged, implicit):
        seal = parse_seal(variant)
        assert seal.generation == "v5" and seal.timestamp == b"\x01\x02\x03"
        assert verify_seal_signature(seal) is True


@needs_vectors
def test_vector_holder_certs_are_parsed_certificates() -> None:
    certs = parse_seal(vector("UserV4.esl")).holder_certs()
    assert len(certs) == 1
    assert certs[0].issuer.get(oids.COMMON_NAME) == "OFD Reader and WriterROOT Certificate"


@needs_vectors
def test_vector_raw_rs_signature_is_accepted() -> None:
    """Some producers store the SM2 signature as raw 64-byte r‖s (domain §1.6)."""
    data = vector("UserV4.esl")
    kids = der.parse(data).children()
    r, s = sig_from_der(parse_seal(data).signature)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    seal = parse_seal(der.seq(*(k.raw for k in kids[:3]), der.bit_string(raw)))
    assert seal.signature == raw
    assert verify_seal_signature(seal) is True
    bad = raw[:-1] + bytes([raw[-1] ^ 1])
    assert verify_seal_signature(parse_seal(der.seq(*(k.raw for k in kids[:3]), der.bit_string(bad)))) is False


# ----------------------------------------------------------------------------------------------
# ofdrw signature vectors (SES_Signature)


SIGNATURE_VECTORS = {
    "SignedValueV4.dat": ("v4", 4, dt.datetime(2020, 10, 12, 11, 14, 3, tzinfo=UTC)),
    "SignedValueV5.dat": ("v5", 5, dt.datetime(2026, 4, 24, 8, 53, 26, tzinfo=UTC)),
    "V4RideRight.ofd": ("v4", 4, dt.datetime(2021, 5, 19, 12, 53, 44, tzinfo=UTC)),
    "SignScaleError.ofd": ("v4", 4, dt.datetime(2022, 10, 31, 6, 16, 35, tzinfo=UTC)),
}


def signature_bytes(name: str) -> bytes:
    if name.endswith(".ofd"):
        return ofd_member(name, "Doc_0/Signs/Sign_0/SignedValue.dat")
    return vector(name)


@needs_vectors
@pytest.mark.parametrize("name", sorted(SIGNATURE_VECTORS))
def test_vector_signature_parses_and_signer_signature_is_valid(name: str) -> None:
    generation, version, when = SIGNATURE_VECTORS[name]
    data = signature_bytes(name)
    sig = parse_signature(data)
    assert (sig.generation, sig.version, sig.time_info) == (generation, version, when)
    assert sig.time_info_raw == when.strftime("%Y%m%d%H%M%SZ").encode()
    assert sig.property_info == "/Doc_0/Signs/Sign_0/Signature.xml"
    assert len(sig.data_hash) == 32
    assert sig.signature_algorithm == oids.SM2_WITH_SM3
    assert sig.timestamp is None and sig.ext_datas == ()
    assert verify_signature_value(sig) is True


@needs_vectors
@pytest.mark.parametrize("name", sorted(SIGNATURE_VECTORS))
def test_vector_signature_embedded_seal_is_valid_and_lists_the_signer(name: str) -> None:
    sig = parse_signature(signature_bytes(name))
    assert sig.seal.generation == SIGNATURE_VECTORS[name][0]
    assert verify_seal_signature(sig.seal) is True
    assert sig.seal.lists_certificate(sig.signer_cert)  # GM/T 0031-2014 §6.2.2 c) binary compare


@needs_vectors
@pytest.mark.parametrize("name", sorted(SIGNATURE_VECTORS))
def test_v4_v5_signature_covers_raw_tbs_sign_with_cert_outside(name: str) -> None:
    data = signature_bytes(name)
    node = der.parse(data)
    kids = node.children()
    sig = parse_signature(data)
    assert sig.signed_bytes == kids[0].raw == data[node.header_len : node.header_len + len(kids[0].raw)]
    # the signer's cert and algorithm follow TBS_Sign (GB/T 38540), unlike 2014 where they are inside
    assert kids[1].offset == node.header_len + len(sig.signed_bytes)
    assert sig.signer_cert == kids[1].content


@needs_vectors
@pytest.mark.parametrize("ofd", ["V4RideRight.ofd", "SignScaleError.ofd"])
def test_ofd_signature_data_hash_is_sm3_of_signature_xml(ofd: str) -> None:
    sig = parse_signature(ofd_member(ofd, "Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert sig.data_hash == sm3(ofd_member(ofd, sig.property_info.lstrip("/")))


@needs_vectors
def test_ofd_package_seal_file_equals_the_seal_inside_the_signature() -> None:
    seal_file = ofd_member("V4RideRight.ofd", "Doc_0/Signs/Sign_0/Seal.esl")
    sig = parse_signature(ofd_member("V4RideRight.ofd", "Doc_0/Signs/Sign_0/SignedValue.dat"))
    assert sig.seal.raw == seal_file


@needs_vectors
def test_vector_tax_seal_keeps_lowercase_picture_type_as_received() -> None:
    """The Zhejiang tax seal in SignScaleError.ofd (Vid 'antchain') carries picture type 'ofd'."""
    seal = parse_signature(ofd_member("SignScaleError.ofd", "Doc_0/Signs/Sign_0/SignedValue.dat")).seal
    assert (seal.vid, seal.es_id, seal.property.type) == ("antchain", "ZhelibanTaxSeal", 4)
    assert (seal.picture.type, seal.picture.width, seal.picture.height) == ("ofd", 34, 26)
    assert seal.picture.data.startswith(b"PK\x03\x04")
    assert seal.maker_cert == seal.property.cert_list[0]


@needs_vectors
def test_v4_signature_timestamp_and_extdatas_tag_variants_are_accepted() -> None:
    data = vector("SignedValueV4.dat")
    kids = der.parse(data).children()
    tbs = kids[0].children()
    ext = der.seq(der.seq(der.oid("1.2.3.4"), der.octet_string(b"x")))
    for ext_enc in (der.explicit(0, ext), ext):
        tbs2 = der.seq(*(t.raw for t in tbs), ext_enc)
        for ts in (der.explicit(0, der.bit_string(b"TS")), der.bit_string(b"TS")):
            sig = parse_signature(der.seq(tbs2, *(k.raw for k in kids[1:4]), ts))
            assert sig.ext_datas == (ExtData("1.2.3.4", False, b"x"),)
            assert sig.timestamp == b"TS"
            assert sig.signed_bytes == tbs2
            assert verify_signature_value(sig) is False  # TBS_Sign changed: old signature is void
            assert verify_seal_signature(sig.seal) is True


# ----------------------------------------------------------------------------------------------
# 2014 SES_Signature (no public vector: built here with our keys, per the GM/T 0031-2014 ASN.1)


def test_2014_signature_covers_tbs_sign_including_cert_and_algorithm(sm2_pki: Pki) -> None:
    pki = sm2_pki
    info = der.seq(
        der.seq(der.ia5("ES"), der.integer(1), der.ia5("TEST")),
        der.ia5("SEAL2014"),
        der.seq(
            der.integer(1),
            der.utf8("公章"),
            der.seq(der.octet_string(pki.holder_cert)),
            der.utc_time(dt.datetime(2020, 1, 1, tzinfo=UTC)),
            der.utc_time(dt.datetime(2020, 1, 1, tzinfo=UTC)),
            der.utc_time(dt.datetime(2030, 1, 1, tzinfo=UTC)),
        ),
        der.seq(der.ia5("PNG"), der.octet_string(PNG), der.integer(40), der.integer(40)),
    )
    cert_el, alg_el = der.octet_string(pki.maker_cert), der.oid(oids.SM2_WITH_SM3)
    seal = der.seq(info, der.seq(cert_el, alg_el, der.bit_string(pki.maker_key.sign(der.seq(info, cert_el, alg_el)))))
    tbs = der.seq(
        der.integer(1),
        seal,
        der.bit_string(b"200422021807Z"),
        der.bit_string(sm3(b"document")),
        der.ia5("/Doc_0/Signs/Sign_0/Signature.xml"),
        der.octet_string(pki.holder_cert),
        der.oid(oids.SM2_WITH_SM3),
    )
    data = der.seq(tbs, der.bit_string(pki.holder_key.sign(tbs)))
    sig = parse_signature(data)
    assert (sig.generation, sig.version, sig.seal.generation) == ("2014", 1, "2014")
    assert sig.time_info == dt.datetime(2020, 4, 22, 2, 18, 7, tzinfo=UTC)
    assert sig.time_info_raw == b"200422021807Z"
    assert sig.signed_bytes == tbs and sig.signer_cert == pki.holder_cert
    assert verify_signature_value(sig) is True
    assert verify_seal_signature(sig.seal) is True
    assert sig.seal.lists_certificate(pki.holder_cert)
    # a timestamp token instead of a time text is kept raw and not decoded
    tbs_tok = der.seq(
        der.integer(1),
        seal,
        der.bit_string(b"\x30\x03\x02\x01\x01"),
        der.bit_string(sm3(b"document")),
        der.ia5("p"),
        der.octet_string(pki.holder_cert),
        der.oid(oids.SM2_WITH_SM3),
    )
    sig2 = parse_signature(der.seq(tbs_tok, der.bit_string(pki.holder_key.sign(tbs_tok))))
    assert sig2.time_info is None and sig2.time_info_raw == b"\x30\x03\x02\x01\x01"
    assert verify_signature_value(sig2) is True


# ----------------------------------------------------------------------------------------------
# Our v4 encoding


def test_v4_round_trip_preserves_every_field(sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]) -> None:
    info, data = sm2_seal
    seal = parse_seal(data)
    assert (seal.generation, seal.header_id, seal.version, seal.vid, seal.es_id) == (
        "v4",
        "ES",
        4,
        "SZAMR-RA",
        "440300012025000001",
    )
    assert seal.property == make_prop(sm2_pki.holder_cert)
    assert seal.picture == PICTURE
    assert seal.ext_datas == EXTS
    assert seal.maker_cert == sm2_pki.maker_cert
    assert seal.signature_algorithm == oids.SM2_WITH_SM3
    assert seal.timestamp is None
    assert seal.holder_certs()[0].der == sm2_pki.holder_cert
    assert seal.lists_certificate(sm2_pki.holder_cert) and not seal.lists_certificate(sm2_pki.maker_cert)


def test_v4_signed_value_covers_seal_info_only(sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]) -> None:
    info, data = sm2_seal
    seal = parse_seal(data)
    assert seal.signed_bytes == info
    assert verify_seal_signature(seal) is True
    assert sm2_pki.maker_key.public_key.verify(info, seal.signature)
    sig_from_der(seal.signature)  # stored as GB/T 35276 DER SEQUENCE { r, s }


def test_v4_encoding_is_canonical_der_layout(sm2_seal: tuple[bytes, bytes]) -> None:
    """SESeal = SEQUENCE { SEQUENCE, OCTET STRING, OID, BIT STRING }; extDatas untagged; dates are
    GeneralizedTime; the default critical FALSE is omitted."""
    info, data = sm2_seal
    top = der.parse(data)
    assert [k.tag_byte for k in top.children()] == [0x30, 0x04, 0x06, 0x03]
    kids = der.parse(info).children()
    assert [k.tag_byte for k in kids] == [0x30, 0x16, 0x30, 0x30, 0x30]
    prop = kids[2].children()
    assert [k.tag_byte for k in prop] == [0x02, 0x0C, 0x02, 0x30, 0x18, 0x18, 0x18]
    assert prop[4].content == b"20250601080000Z"
    first_ext, second_ext = kids[4].children()
    assert len(first_ext.children()) == 2 and second_ext.children()[1].raw == b"\x01\x01\xff"
    assert kids[0].raw == der.seq(der.ia5("ES"), der.integer(4), der.ia5("SZAMR-RA"))


def test_v4_any_flipped_byte_in_signed_region_breaks_the_seal(sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]) -> None:
    info, data = sm2_seal
    start = data.index(info)
    assert start == der.parse(data).header_len
    for pos in range(start, start + len(info)):
        mutated = bytearray(data)
        mutated[pos] ^= 0xFF
        try:
            seal = parse_seal(bytes(mutated))
        except SesError:
            continue
        try:
            assert verify_seal_signature(seal) is False, f"flip at offset {pos} still verifies"
        except SesError:
            pass


def test_v4_flips_outside_signed_region_never_raise_other_exceptions(sm2_seal: tuple[bytes, bytes]) -> None:
    info, data = sm2_seal
    start = der.parse(data).header_len
    for pos in list(range(start)) + list(range(start + len(info), len(data))):
        for xor in (0x01, 0x80, 0xFF):
            mutated = bytearray(data)
            mutated[pos] ^= xor
            try:
                seal = parse_seal(bytes(mutated))
                result = verify_seal_signature(seal)
            except SesError:
                continue
            assert isinstance(result, bool)


@needs_openssl
def test_v4_signature_verifies_with_openssl_independently(
    tmp_path: Path, sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]
) -> None:
    info, data = sm2_seal
    seal = parse_seal(data)
    (tmp_path / "pub.pem").write_text(sm2_pki.maker_key.public_key.pem())
    (tmp_path / "seal_info.der").write_bytes(info)
    (tmp_path / "sig.der").write_bytes(seal.signature)
    (tmp_path / "seal.esl").write_bytes(data)
    out = run_openssl(
        "dgst",
        "-sm3",
        "-verify",
        tmp_path / "pub.pem",
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        tmp_path / "sig.der",
        tmp_path / "seal_info.der",
    )
    assert out.returncode == 0 and "Verified OK" in out.stdout, out.stdout + out.stderr
    # the 2014 triple is not what we sign: OpenSSL must refuse it
    (tmp_path / "triple.der").write_bytes(der.seq(*(k.raw for k in der.parse(data).children()[:3])))
    bad = run_openssl(
        "dgst",
        "-sm3",
        "-verify",
        tmp_path / "pub.pem",
        "-sigopt",
        "distid:1234567812345678",
        "-signature",
        tmp_path / "sig.der",
        tmp_path / "triple.der",
    )
    assert "Verified OK" not in bad.stdout


@needs_openssl
def test_v4_sealinfo_extracted_by_openssl_is_byte_identical(tmp_path: Path, sm2_seal: tuple[bytes, bytes]) -> None:
    info, data = sm2_seal
    (tmp_path / "seal.esl").write_bytes(data)
    offset = der.parse(data).header_len  # eSealInfo starts right after the outer SEQUENCE header
    out = run_openssl("asn1parse", "-inform", "DER", "-in", tmp_path / "seal.esl")
    assert out.returncode == 0, out.stderr
    assert re.search(rf"^\s*{offset}:d=1\s+hl=\d+ l=\s*\d+ cons:\s+SEQUENCE", out.stdout, re.M)
    assert "GENERALIZEDTIME   :20280601080000Z" in out.stdout
    ex = run_openssl(
        "asn1parse",
        "-inform",
        "DER",
        "-in",
        tmp_path / "seal.esl",
        "-strparse",
        str(offset),
        "-noout",
        "-out",
        tmp_path / "x.der",
    )
    assert ex.returncode == 0, ex.stderr
    assert (tmp_path / "x.der").read_bytes() == info


@needs_openssl
def test_v4_sealinfo_at_structural_offset_is_what_openssl_dumps(tmp_path: Path, sm2_seal: tuple[bytes, bytes]) -> None:
    """OpenSSL's -offset/-length view of element 0 equals the SES_SealInfo we signed."""
    info, data = sm2_seal
    (tmp_path / "seal.esl").write_bytes(data)
    offset = der.parse(data).header_len
    ex = run_openssl(
        "asn1parse",
        "-inform",
        "DER",
        "-in",
        tmp_path / "seal.esl",
        "-offset",
        str(offset),
        "-length",
        str(len(info)),
        "-noout",
        "-out",
        tmp_path / "x.der",
    )
    assert ex.returncode == 0, ex.stderr
    assert (tmp_path / "x.der").read_bytes() == info


def test_ecdsa_seal_round_trip_verifies(ecdsa_pki: Pki) -> None:
    info, data = build_seal(ecdsa_pki)
    seal = parse_seal(data)
    assert seal.signature_algorithm == oids.ECDSA_WITH_SHA256
    assert seal.signed_bytes == info
    assert verify_seal_signature(seal) is True
    tampered = parse_seal(data.replace(b"SZAMR-RA", b"SZAMR-RB"))
    assert verify_seal_signature(tampered) is False


@needs_openssl
def test_ecdsa_seal_signature_verifies_with_openssl(tmp_path: Path, ecdsa_pki: Pki) -> None:
    info, data = build_seal(ecdsa_pki)
    (tmp_path / "pub.pem").write_text(ecdsa_pki.maker_key.public_key.pem())
    (tmp_path / "info.der").write_bytes(info)
    (tmp_path / "sig.der").write_bytes(parse_seal(data).signature)
    out = run_openssl(
        "dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig.der", tmp_path / "info.der"
    )
    assert "Verified OK" in out.stdout, out.stdout + out.stderr


def test_version_5_seal_info_is_detected_as_v5(sm2_pki: Pki) -> None:
    info = encode_seal_info(
        es_id="V5SEAL", vid="SZAMR-RA", prop=make_prop(sm2_pki.holder_cert), picture=PICTURE, version=5
    )
    seal = parse_seal(make_seal(info, sm2_pki.maker_cert, sm2_pki.maker_key))
    assert (seal.generation, seal.version, seal.ext_datas) == ("v5", 5, ())
    assert verify_seal_signature(seal) is True


def test_cert_digest_list_round_trip(sm2_pki: Pki) -> None:
    digest = ses.cert_digest(sm2_pki.holder_cert, "SM3")
    assert digest.value == sm3(sm2_pki.holder_cert)
    info = encode_seal_info(
        es_id="DIGESTS1",
        vid="SZAMR-RA",
        prop=make_prop(
            sm2_pki.holder_cert, cert_list_type=2, cert_list=(digest, ses.cert_digest(sm2_pki.root_cert, "SHA256"))
        ),
        picture=PICTURE,
    )
    seal = parse_seal(make_seal(info, sm2_pki.maker_cert, sm2_pki.maker_key))
    assert seal.property.cert_list_type == 2
    assert seal.property.cert_digests[0] == CertDigest("SM3", digest.value)
    assert seal.property.certificates == ()
    assert seal.lists_certificate(sm2_pki.holder_cert) and seal.lists_certificate(sm2_pki.root_cert)
    assert not seal.lists_certificate(sm2_pki.maker_cert)
    with pytest.raises(SesError, match="certificate digests"):
        seal.holder_certs()
    assert verify_seal_signature(seal) is True


def test_signer_returning_raw_rs_is_stored_as_der(sm2_pki: Pki) -> None:
    class RawSigner:
        algorithm = Algorithm.SM2
        public_key = sm2_pki.maker_key.public_key

        def sign(self, data: bytes) -> bytes:
            r, s = sig_from_der(sm2_pki.maker_key.sign(data))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    info = encode_seal_info(es_id="RAWRS", vid="V", prop=make_prop(sm2_pki.holder_cert), picture=PICTURE)
    seal = parse_seal(make_seal(info, sm2_pki.maker_cert, RawSigner()))
    sig_from_der(seal.signature)
    assert verify_seal_signature(seal) is True


# ----------------------------------------------------------------------------------------------
# Encoder input validation


@pytest.mark.parametrize(
    "es_id, message", [("", "esID"), ("带中文", "esID"), ("x" * 65, "esID"), ("has space", "esID"), (None, "esID")]
)
def test_es_id_must_be_1_to_64_visible_ascii(sm2_pki: Pki, es_id: object, message: str) -> None:
    with pytest.raises(SesError, match=message):
        encode_seal_info(
            es_id=es_id,
            vid="V",
            prop=make_prop(sm2_pki.holder_cert),  # type: ignore[arg-type]
            picture=PICTURE,
        )


def test_es_id_of_64_characters_is_accepted(sm2_pki: Pki) -> None:
    info = encode_seal_info(es_id="A" * 64, vid="V", prop=make_prop(sm2_pki.holder_cert), picture=PICTURE)
    assert parse_seal(make_seal(info, sm2_pki.maker_cert, sm2_pki.maker_key)).es_id == "A" * 64


@pytest.mark.parametrize("vid", ["", "   ", "厂商", "v" * 65])
def test_vid_must_be_printable_ascii(sm2_pki: Pki, vid: str) -> None:
    with pytest.raises(SesError, match="Vid"):
        encode_seal_info(es_id="E1", vid=vid, prop=make_prop(sm2_pki.holder_cert), picture=PICTURE)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "bad\nname"}, "control"),
        ({"type": 0}, "seal type"),
        ({"type": True}, "seal type"),
        ({"cert_list": ()}, "at least one"),
        ({"cert_list_type": 3}, "certListType"),
        ({"cert_list": (CertDigest("SM3", b"x" * 32),)}, "DER certificate bytes"),
        ({"cert_list": (b"not a certificate",)}, "not DER"),
        ({"cert_list": (b"\x04\x00",)}, "expected a SEQUENCE"),
        ({"cert_list_type": 2}, "CertDigest"),
        ({"cert_list_type": 2, "cert_list": (CertDigest("SM3", b""),)}, "non-empty"),
        ({"cert_list_type": 2, "cert_list": (CertDigest("SM3*", b"x"),)}, "PrintableString"),
        ({"valid_end": dt.datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC)}, "validEnd"),
        ({"valid_end": dt.datetime(2025, 6, 1, 8, 0, 0, 900000, tzinfo=UTC)}, "validEnd"),
        ({"valid_end": dt.datetime(2024, 6, 1, tzinfo=UTC)}, "validEnd"),
        ({"create_date": dt.datetime(2025, 6, 1)}, "timezone-aware"),
        ({"valid_start": "2025-06-01"}, "datetime"),
    ],
)
def test_seal_property_rules_are_enforced(sm2_pki: Pki, changes: dict[str, object], message: str) -> None:
    with pytest.raises(SesError, match=message):
        encode_seal_info(es_id="E1", vid="V", prop=make_prop(sm2_pki.holder_cert, **changes), picture=PICTURE)


def test_duplicate_holder_certificate_is_rejected(sm2_pki: Pki) -> None:
    with pytest.raises(SesError, match="twice"):
        encode_seal_info(
            es_id="E1",
            vid="V",
            picture=PICTURE,
            prop=make_prop(sm2_pki.holder_cert, cert_list=(sm2_pki.holder_cert,) * 2),
        )


def test_times_are_written_in_utc(sm2_pki: Pki) -> None:
    cst = dt.timezone(dt.timedelta(hours=8))
    prop = make_prop(sm2_pki.holder_cert, create_date=dt.datetime(2025, 6, 1, 16, 0, tzinfo=cst))
    info = encode_seal_info(es_id="E1", vid="V", prop=prop, picture=PICTURE)
    assert b"\x18\x0f20250601080000Z" in info


@pytest.mark.parametrize(
    "picture, message",
    [
        (SealPicture("TIFF", PNG, 40, 40), "picture type"),
        (SealPicture("png", PNG, 40, 40), "picture type"),
        (SealPicture("GIF", PNG, 40, 40), "GIF file signature"),
        (SealPicture("PNG", b"", 40, 40), "non-empty"),
        (SealPicture("SVG", b"<html></html>", 40, 40), "SVG"),
        (SealPicture("PNG", PNG, 0, 40), "width"),
        (SealPicture("PNG", PNG, 40, -1), "height"),
        (SealPicture("PNG", PNG, 40.5, 40), "width"),  # type: ignore[arg-type]
    ],
)
def test_picture_rules_are_enforced(sm2_pki: Pki, picture: SealPicture, message: str) -> None:
    with pytest.raises(SesError, match=message):
        encode_seal_info(es_id="E1", vid="V", prop=make_prop(sm2_pki.holder_cert), picture=picture)


@pytest.mark.parametrize(
    "kind, data",
    [
        ("SVG", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("JPG", b"\xff\xd8\xff\xe0rest"),
        ("BMP", b"BMrest"),
        ("OFD", b"PK\x03\x04rest"),
        ("GIF", b"GIF87arest"),
    ],
)
def test_all_supported_picture_types_encode(sm2_pki: Pki, kind: str, data: bytes) -> None:
    info = encode_seal_info(
        es_id="E1", vid="V", prop=make_prop(sm2_pki.holder_cert), picture=SealPicture(kind, data, 40, 40)
    )
    assert parse_seal(make_seal(info, sm2_pki.maker_cert, sm2_pki.maker_key)).picture.type == kind


@pytest.mark.parametrize(
    "exts, message",
    [
        ((ExtData("1.2.3", False, b""), ExtData("1.2.3", True, b"")), "twice"),
        ((ExtData("not.an.oid", False, b""),), "object identifier"),
        ((ExtData("1.2.3", False, "text"),), "bytes"),  # type: ignore[arg-type]
    ],
)
def test_ext_data_rules_are_enforced(sm2_pki: Pki, exts: tuple[ExtData, ...], message: str) -> None:
    with pytest.raises(SesError, match=message):
        encode_seal_info(es_id="E1", vid="V", prop=make_prop(sm2_pki.holder_cert), picture=PICTURE, ext_datas=exts)


@pytest.mark.parametrize("version", [1, 3, 6])
def test_only_versions_4_and_5_are_encoded(sm2_pki: Pki, version: int) -> None:
    with pytest.raises(SesError, match="version"):
        encode_seal_info(es_id="E1", vid="V", prop=make_prop(sm2_pki.holder_cert), picture=PICTURE, version=version)


def test_make_seal_refuses_a_signer_that_is_not_the_maker(
    sm2_pki: Pki, ecdsa_pki: Pki, sm2_seal: tuple[bytes, bytes]
) -> None:
    info, _ = sm2_seal
    with pytest.raises(SesError, match="does not match"):
        make_seal(info, sm2_pki.maker_cert, sm2_pki.holder_key)
    with pytest.raises(SesError, match="does not match"):
        make_seal(info, sm2_pki.maker_cert, ecdsa_pki.maker_key)


def test_make_seal_refuses_a_maker_certificate_that_cannot_sign(sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]) -> None:
    info, _ = sm2_seal
    with pytest.raises(SesError, match="keyUsage"):  # the root is keyCertSign/cRLSign only
        make_seal(info, sm2_pki.root_cert, sm2_pki.root_key)


@pytest.mark.parametrize(
    "seal_info, message",
    [
        (b"", "not a DER"),
        (b"\x30\x00", "not a v4/v5"),
        (der.seq(der.integer(1)), "not a v4/v5"),
        (der.seq(der.seq(der.ia5("ES"), der.integer(1), der.ia5("V"))), "not a v4/v5"),
    ],
)
def test_make_seal_refuses_something_that_is_not_seal_info(sm2_pki: Pki, seal_info: bytes, message: str) -> None:
    with pytest.raises(SesError, match=message):
        make_seal(seal_info, sm2_pki.maker_cert, sm2_pki.maker_key)


def test_make_seal_refuses_an_unparseable_maker_certificate(sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]) -> None:
    info, _ = sm2_seal
    with pytest.raises(SesError, match="maker certificate"):
        make_seal(info, der.seq(der.integer(1)), sm2_pki.maker_key)
    with pytest.raises(SesError, match="maker certificate"):
        make_seal(info, b"garbage", sm2_pki.maker_key)


# ----------------------------------------------------------------------------------------------
# Decoder robustness: only SesError, with a message naming the problem


GARBAGE = [
    b"",
    b"\x00",
    b"\x30",
    b"\x30\x80\x00\x00",
    b"\x30\x00",
    b"\x04\x03abc",
    b"\xff" * 40,
    os.urandom(64),
    b"-----BEGIN SEAL-----\nMIIB\n-----END SEAL-----\n",
    b"MIIBIjANBgkqhkiG9w0BAQEFAAOC",
    der.seq(der.integer(1), der.integer(2), der.integer(3)),
    der.seq(*(der.integer(i) for i in range(6))),
    der.seq(der.seq(), der.seq()),
    der.seq(der.integer(1), der.integer(2)),
    der.seq(der.seq(), der.octet_string(b""), der.oid("1.2.3"), der.bit_string(b"")),
]


@pytest.mark.parametrize("data", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_and_wrong_shapes_raise_ses_error(data: bytes) -> None:
    with pytest.raises(SesError):
        parse_seal(data)
    with pytest.raises(SesError):
        parse_signature(data)


def test_non_bytes_input_raises_ses_error() -> None:
    with pytest.raises(SesError, match="must be bytes"):
        parse_seal("MIIB")  # type: ignore[arg-type]
    with pytest.raises(SesError, match="must be bytes"):
        parse_signature(None)  # type: ignore[arg-type]


def test_base64_input_gets_a_decoding_hint() -> None:
    with pytest.raises(SesError, match="base64"):
        parse_seal(b"MIJCbzCCQAUwEwwCRVMCAQQMCk9GRFImV1Rlc3Q=")


def test_three_element_seal_is_named_as_neither_generation() -> None:
    with pytest.raises(SesError, match="neither"):
        parse_seal(der.seq(der.seq(), der.octet_string(b""), der.oid("1.2.3")))


@needs_vectors
def test_wrong_element_type_names_the_element_and_offset() -> None:
    data = bytearray(vector("UserV4.esl"))
    data[29] = 0x0C  # esID IA5String → UTF8String is tolerated
    assert parse_seal(bytes(data)).es_id == "51f044b76510434e9bc67a1185c2fba5"
    data = bytearray(vector("UserV4.esl"))
    data[67] = 0x04  # property.type INTEGER → OCTET STRING
    with pytest.raises(SesError, match=r"SES_ESPropertyInfo.type at offset 67: expected INTEGER"):
        parse_seal(bytes(data))
    data = bytearray(vector("UserV4.esl"))
    data[16397] = 0x16  # maker cert OCTET STRING → IA5String
    with pytest.raises(SesError, match=r"maker cert at offset 16397"):
        parse_seal(bytes(data))


@needs_vectors
@pytest.mark.parametrize("name", ["UserV4.esl", "UserV1.esl", "UserV5_ts.esl"])
def test_every_truncation_of_a_real_seal_raises_ses_error(name: str) -> None:
    data = vector(name)
    for n in range(len(data)):
        with pytest.raises(SesError):
            parse_seal(data[:n])


@needs_vectors
def test_every_truncation_of_a_real_signature_raises_ses_error() -> None:
    data = vector("SignedValueV4.dat")
    for n in range(len(data)):
        with pytest.raises(SesError):
            parse_signature(data[:n])


@needs_vectors
def test_trailing_bytes_after_a_seal_raise_ses_error() -> None:
    with pytest.raises(SesError, match="trailing"):
        parse_seal(vector("UserV4.esl") + b"\x00")


def test_every_truncation_of_our_seal_raises_ses_error(sm2_seal: tuple[bytes, bytes]) -> None:
    _, data = sm2_seal
    for n in range(len(data)):
        with pytest.raises(SesError):
            parse_seal(data[:n])


@needs_vectors
def test_inner_truncation_with_fixed_lengths_raises_ses_error() -> None:
    """Cut bytes out of the middle while keeping the outer length consistent: inner elements overrun."""
    data = vector("UserV4.esl")
    node = der.parse(data)
    body = node.content
    for cut in (1, 5, 100, 16000):
        shorter = body[: len(body) - cut]
        with pytest.raises(SesError):
            parse_seal(der.tlv(0x30, shorter))


def test_seal_signature_as_seal_and_vice_versa_raise_ses_error(sm2_seal: tuple[bytes, bytes]) -> None:
    _, data = sm2_seal
    with pytest.raises(SesError, match="looks like an SESeal"):
        parse_signature(data)


@needs_vectors
def test_signature_file_given_to_parse_seal_raises_ses_error() -> None:
    with pytest.raises(SesError, match="looks like an SES_Signature"):
        parse_seal(vector("SignedValueV4.dat"))


# ----------------------------------------------------------------------------------------------
# Verification failures that cannot be answered with True/False


def _replace_v4_parts(data: bytes, cert: bytes | None = None, alg: str | None = None) -> bytes:
    kids = der.parse(data).children()
    return der.seq(
        kids[0].raw,
        der.octet_string(cert) if cert is not None else kids[1].raw,
        der.oid(alg) if alg else kids[2].raw,
        *(k.raw for k in kids[3:]),
    )


def test_unparseable_maker_certificate_raises_ses_error(sm2_seal: tuple[bytes, bytes]) -> None:
    seal = parse_seal(_replace_v4_parts(sm2_seal[1], cert=b"\x30\x03\x02\x01\x01"))
    with pytest.raises(SesError, match="maker certificate cannot be parsed"):
        verify_seal_signature(seal)
    with pytest.raises(SesError, match="cannot be parsed"):
        seal.maker_certificate()


def test_unknown_signature_algorithm_raises_ses_error(sm2_seal: tuple[bytes, bytes]) -> None:
    seal = parse_seal(_replace_v4_parts(sm2_seal[1], alg="1.2.840.113549.1.1.11"))
    with pytest.raises(SesError, match=r"1\.2\.840\.113549\.1\.1\.11 is not supported"):
        verify_seal_signature(seal)


def test_algorithm_that_does_not_match_the_key_raises_ses_error(sm2_seal: tuple[bytes, bytes]) -> None:
    seal = parse_seal(_replace_v4_parts(sm2_seal[1], alg=oids.ECDSA_WITH_SHA256))
    with pytest.raises(SesError, match="SM2/SM3 key"):
        verify_seal_signature(seal)


def test_malformed_signature_value_is_simply_invalid(sm2_seal: tuple[bytes, bytes]) -> None:
    kids = der.parse(sm2_seal[1]).children()
    for value in (b"", b"\x30\x00", b"\x01" * 63, os.urandom(72)):
        seal = parse_seal(der.seq(*(k.raw for k in kids[:3]), der.bit_string(value)))
        assert verify_seal_signature(seal) is False


def test_holder_certs_with_unparseable_entry_raise_ses_error(sm2_pki: Pki) -> None:
    info = encode_seal_info(
        es_id="E1", vid="V", picture=PICTURE, prop=make_prop(sm2_pki.holder_cert, cert_list=(der.seq(der.integer(5)),))
    )
    seal = parse_seal(make_seal(info, sm2_pki.maker_cert, sm2_pki.maker_key))
    with pytest.raises(SesError, match="certList entry 0 cannot be parsed"):
        seal.holder_certs()


def test_unknown_cert_digest_type_raises_ses_error(sm2_pki: Pki) -> None:
    info = encode_seal_info(
        es_id="E1",
        vid="V",
        picture=PICTURE,
        prop=make_prop(
            sm2_pki.holder_cert, cert_list_type=2, cert_list=(CertDigest("MD5", hashlib.md5(b"x").digest()),)
        ),
    )
    seal = parse_seal(make_seal(info, sm2_pki.maker_cert, sm2_pki.maker_key))
    with pytest.raises(SesError, match="MD5"):
        seal.lists_certificate(sm2_pki.holder_cert)


# ----------------------------------------------------------------------------------------------
# The decoder walks headers only and keeps decoded seals by their exact bytes


def _signature_over(pki: Pki, seal: bytes) -> bytes:
    return ses.make_signature(
        seal=seal,
        signer_cert=pki.holder_cert,
        signer=pki.holder_key,
        data_hash=b"\x01" * 32,
        property_info="file=a.txt;size=1",
        signing_time=dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
    )


def test_a_seal_decodes_the_same_on_its_own_and_inside_a_signature(sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]) -> None:
    seal = sm2_seal[1]
    ses.decode._parsed_seals.clear()
    inside = parse_signature(_signature_over(sm2_pki, seal)).seal
    assert parse_seal(seal) is inside  # kept by its exact bytes
    ses.decode._parsed_seals.clear()
    assert parse_seal(seal) == inside  # and decoded afresh it is the same


def test_a_changed_seal_is_never_served_from_the_decoded_seals(sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]) -> None:
    seal = sm2_seal[1]
    assert verify_seal_signature(parse_seal(seal))
    changed = seal.replace(b"SZAMR-RA", b"SZAMR-RB")
    assert parse_seal(changed).vid == "SZAMR-RB"
    assert not verify_seal_signature(parse_seal(changed))
    assert not verify_seal_signature(parse_signature(_signature_over(sm2_pki, changed)).seal)
    assert verify_seal_signature(parse_seal(seal))


def test_a_seal_with_a_long_form_sequence_tag_is_read_inside_a_signature_but_refused_alone(
    sm2_pki: Pki, sm2_seal: tuple[bytes, bytes]
) -> None:
    """X.690 lets a tag number below 31 be written in the long form (1F 10): the node decoder read
    such an SESeal inside a signature, and parse_seal refuses it (first byte not 30). Neither may
    change because a decoded seal is kept by its bytes."""
    top = der.parse(_signature_over(sm2_pki, sm2_seal[1])).children()
    tbs = top[0].children()
    odd_seal = b"\x3f\x10" + tbs[1].raw[1:]
    sig = der.seq(der.seq(tbs[0].raw, odd_seal, *(k.raw for k in tbs[2:])), *(k.raw for k in top[1:]))
    for _ in range(2):
        assert parse_signature(sig).seal.es_id == "440300012025000001"
        with pytest.raises(SesError, match="first byte is 0x3f"):
            parse_seal(odd_seal)


def _strptime_reference(number: int, content: bytes) -> dt.datetime:
    """How times were read before der.time_value: a shape check, then strptime."""
    text = content.decode("ascii", "replace")
    shape = {der.UTC_TIME: rb"[0-9]{12}Z", der.GENERALIZED_TIME: rb"[0-9]{14}(\.[0-9]+)?Z"}[number]
    if not re.fullmatch(shape, content):
        raise ValueError("shape")
    if number == der.UTC_TIME:
        t = dt.datetime.strptime(text, "%y%m%d%H%M%SZ")
        if t.year >= 2050:
            t = t.replace(year=t.year - 100)
    else:
        t = dt.datetime.strptime(text, "%Y%m%d%H%M%S.%fZ" if "." in text else "%Y%m%d%H%M%SZ")
    return t.replace(tzinfo=UTC)


def test_times_are_read_exactly_as_strptime_read_them() -> None:
    import random

    rnd = random.Random(20261130)
    cases = [(der.UTC_TIME, f"{yy:02d}0229120000Z".encode()) for yy in range(100)]
    cases += [(der.GENERALIZED_TIME, f"{y:04d}0229000000Z".encode()) for y in (0, 1, 1900, 2000, 2024, 2100, 9999)]
    cases += [(der.GENERALIZED_TIME, b"20260101000000." + b"5" * k + b"Z") for k in range(9)]
    cases += [
        (der.GENERALIZED_TIME, c)
        for c in (
            b"20260101000000z",
            b"20260101000000.Z",
            b"2026010100000Z",
            b"20260101000000,5Z",
            b"202601010000001Z",
            b"",
        )
    ]
    for _ in range(20000):
        number = rnd.choice((der.UTC_TIME, der.GENERALIZED_TIME))
        fields = [
            rnd.randrange(100) if number == der.UTC_TIME else rnd.randrange(10000),
            rnd.randrange(14),
            rnd.randrange(33),
            rnd.randrange(26),
            rnd.randrange(62),
            rnd.randrange(62),
        ]
        text = (f"{fields[0]:02d}" if number == der.UTC_TIME else f"{fields[0]:04d}") + "".join(
            f"{v:02d}" for v in fields[1:]
        )
        if number == der.GENERALIZED_TIME and rnd.random() < 0.3:
            text += "." + "".join(rnd.choice("0123456789") for _ in range(rnd.randrange(1, 8)))
        cases.append((number, (text + rnd.choice(("Z", "Z", "Z", "z", ""))).encode()))
    for number, content in cases:
        try:
            want: object = _strptime_reference(number, content)
        except ValueError:
            want = "error"
        node = der.Node(der.CLASS_UNIVERSAL, False, number, bytes((number, len(content))) + content, 2, 0)
        try:
            got: object = node.as_time()
        except der.DERError:
            got = "error"
        assert got == want, content


@st.composite
def _signature_values(draw: st.DrawFn) -> bytes:
    def integer(value: int) -> bytes:
        return der.integer(value)

    interesting = [0, 1, 0x7F, 0x80, 0xFF, 2**255 - 1, 2**255, 2**256 - 1, 2**256, -1, -0x80]
    r = draw(st.one_of(st.sampled_from(interesting), st.integers(0, 2**257)))
    s = draw(st.one_of(st.sampled_from(interesting), st.integers(0, 2**257)))
    data = bytearray(der.seq(integer(r), integer(s)))
    for _ in range(draw(st.integers(0, 2))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["set", "insert", "delete"]))
        if op == "set" and pos < len(data):
            data[pos] = draw(st.sampled_from([0x00, 0x02, 0x30, 0x7F, 0x80, 0x81, 0xFF]))
        elif op == "insert":
            data[pos:pos] = bytes([draw(st.integers(0, 255))])
        elif pos < len(data):
            del data[pos]
    return bytes(data)


@settings(max_examples=3000, deadline=None)
@given(_signature_values())
def test_the_signature_value_check_accepts_exactly_what_sig_from_der_accepts(sig: bytes) -> None:
    try:
        sig_from_der(sig)
        accepted = True
    except KeyFormatError:
        accepted = False
    assert ses.verification._is_der_signature(sig) is accepted
