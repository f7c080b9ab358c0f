"""Certificate revocation lists (registry.pki.crl), checked with tools nobody here wrote: the OpenSSL 3.0
command line, pyca ``cryptography`` and ``asn1crypto``.

ECDSA CRLs are checked end to end with ``openssl verify -crl_check`` (error 23 = certificate revoked).
OpenSSL 3.0 cannot verify an SM2 CRL signed with the standard GM/T 0009 ID (no ``-vfyopt`` for CRLs,
design.md §9), so for SM2 OpenSSL extracts the TBSCertList and checks the signature with ``openssl dgst
-sm3 -sigopt distid:1234567812345678``. Timings live in the report, never in assertions.
Each test names the rule it checks.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import subprocess
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import asn1crypto.crl
import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from registry.pki import der, oids
from registry.pki import x509 as X
from registry.pki.crl import (
    CrlEntry,
    CrlError,
    CrlReason,
    ParsedCrl,
    build_crl,
    crl_pem,
    encode_entry,
    parse_crl,
)
from registry.pki.keys import Algorithm, PrivateKey, signature_algorithm_identifier
from registry.pki.x509 import Name
from tests.support.pki import PROPERTY, ossl, top_level

UTC = dt.UTC
DISTID = "distid:1234567812345678"
NOW = dt.datetime.now(UTC).replace(microsecond=0)  # OpenSSL checks thisUpdate/nextUpdate against its clock
BASE = "http://registry.test/crl"
FULL_URL, SHARD_URL, OTHER_SHARD_URL = f"{BASE}/ca.crl", f"{BASE}/ca/shard-3.crl", f"{BASE}/ca/shard-4.crl"
DELTA_URL = f"{BASE}/ca-delta.crl"
# No example database: the tree is shared and this suite must not write files outside tmp_path.


# ================================================================================================
# A hierarchy per algorithm: root → issuing CA (keyCertSign + cRLSign) → holders A and B, each with
# CRL distribution points [full CRL, its shard] and a Freshest CRL pointer (as registry.services.seals).


@dataclass
class Pki:
    alg: Algorithm
    dir: Path
    keys: dict[str, PrivateKey]
    names: dict[str, Name]
    serials: dict[str, int]
    der: dict[str, bytes]

    def path(self, which: str) -> Path:
        return self.dir / f"{which}.pem"

    def crl(self, entries: bytes | list[bytes] = b"", number: int = 1, **kw: object) -> bytes:
        """A CRL from the issuing CA, current for OpenSSL (thisUpdate an hour ago, nextUpdate tomorrow)."""
        args: dict[str, object] = {
            "signer": self.keys["ca"],
            "issuer_name_der": self.names["ca"].der(),
            "authority_key_id": self.keys["ca"].public_key.key_identifier(),
            "number": number,
            "this_update": NOW - dt.timedelta(hours=1),
            "next_update": NOW + dt.timedelta(days=1),
            "entries": entries,
        }
        args.update(kw)
        return build_crl(**args)  # type: ignore[arg-type]


def make_pki(alg: Algorithm, directory: Path) -> Pki:
    nb, na = NOW - dt.timedelta(hours=2), NOW + dt.timedelta(days=365)
    keys = {w: PrivateKey.generate(alg) for w in ("root", "ca", "holderA", "holderB")}
    names = {
        "root": Name.build(C="CN", O="Seal Registry Test", CN=f"CRL Test Root {alg.value}"),
        "ca": Name.build(C="CN", O="Seal Registry Test", CN=f"CRL Test Issuing CA {alg.value}"),
        "holderA": Name.build(C="CN", O="深圳测试有限公司", CN="holder A"),
        "holderB": Name.build(C="CN", O="广州测试有限公司", CN="holder B"),
    }
    ski = {w: k.public_key.key_identifier() for w, k in keys.items()}
    holder = [
        X.basic_constraints(False),
        X.key_usage(X.KU_DIGITAL_SIGNATURE, X.KU_NON_REPUDIATION),
        X.authority_key_identifier(ski["ca"]),
        X.crl_distribution_points([FULL_URL, SHARD_URL]),
        X.freshest_crl([DELTA_URL]),
    ]
    exts = {
        "root": [
            X.basic_constraints(True),
            X.key_usage(X.KU_KEY_CERT_SIGN, X.KU_CRL_SIGN),
            X.subject_key_identifier(ski["root"]),
        ],
        "ca": [
            X.basic_constraints(True, 0),
            X.key_usage(X.KU_KEY_CERT_SIGN, X.KU_CRL_SIGN),
            X.subject_key_identifier(ski["ca"]),
            X.authority_key_identifier(ski["root"]),
        ],
        "holderA": [X.subject_key_identifier(ski["holderA"]), *holder],
        "holderB": [X.subject_key_identifier(ski["holderB"]), *holder],
    }
    issuer = {"root": "root", "ca": "root", "holderA": "ca", "holderB": "ca"}
    serials = {w: X.random_serial() for w in keys}
    ders = {}
    for w, key in keys.items():
        tbs = X.build_tbs(
            serial=serials[w],
            signature_alg=alg,
            issuer=names[issuer[w]],
            subject=names[w],
            not_before=nb,
            not_after=na,
            public_key=key.public_key,
            extensions=exts[w],
        )
        ders[w] = X.sign_tbs(tbs, keys[issuer[w]])
        (directory / f"{w}.pem").write_text(der.der_to_pem(ders[w], "CERTIFICATE"))
    (directory / "chain.pem").write_text((directory / "root.pem").read_text() + (directory / "ca.pem").read_text())
    (directory / "ca_pub.pem").write_text(keys["ca"].public_key.pem())
    return Pki(alg, directory, keys, names, serials, ders)


@pytest.fixture(scope="module")
def p256(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Algorithm.ECDSA, tmp_path_factory.mktemp("ecdsa"))


@pytest.fixture(scope="module")
def sm2(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(Algorithm.SM2, tmp_path_factory.mktemp("sm2"))


@pytest.fixture(params=[Algorithm.SM2, Algorithm.ECDSA], ids=lambda a: a.value)
def pki(request: pytest.FixtureRequest) -> Pki:
    return request.getfixturevalue("sm2" if request.param is Algorithm.SM2 else "p256")


REVOKED_AT = NOW - dt.timedelta(minutes=10)
INVALID_SINCE = NOW - dt.timedelta(days=3)


def revoke_a(pki: Pki) -> bytes:
    return encode_entry(pki.serials["holderA"], REVOKED_AT, CrlReason.KEY_COMPROMISE, INVALID_SINCE)


def write_crl(directory: Path, name: str, crl_der: bytes) -> Path:
    (directory / f"{name}.der").write_bytes(crl_der)
    path = directory / f"{name}.pem"
    path.write_text(crl_pem(crl_der))
    return path


def openssl_verify(
    openssl: str, pki: Pki, crl_file: Path, holder: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return ossl(
        openssl,
        "verify",
        "-crl_check",
        *extra,
        "-CRLfile",
        crl_file,
        "-CAfile",
        pki.path("chain"),
        pki.path(holder),
        check=False,
    )


# ================================================================================================
# CRLReason (RFC 5280 §5.3.1)


def test_reason_codes_and_names_are_those_of_rfc5280_5_3_1() -> None:
    assert {r.rfc_name: int(r) for r in CrlReason} == {
        "unspecified": 0,
        "keyCompromise": 1,
        "cACompromise": 2,
        "affiliationChanged": 3,
        "superseded": 4,
        "cessationOfOperation": 5,
        "certificateHold": 6,
        "removeFromCRL": 8,
        "privilegeWithdrawn": 9,
        "aACompromise": 10,
    }


@pytest.mark.parametrize(
    "text",
    [
        "keyCompromise",
        "KEYCOMPROMISE",
        "key-compromise",
        "Key_Compromise",
        "KEY_COMPROMISE",
        " keycompromise ",
        "1",
        1,
        CrlReason.KEY_COMPROMISE,
    ],
)
def test_reason_parse_accepts_rfc_names_case_insensitively_and_codes(text: str | int) -> None:
    assert CrlReason.parse(text) is CrlReason.KEY_COMPROMISE


def test_reason_parse_accepts_every_rfc_name_and_its_own_kebab_case() -> None:
    for r in CrlReason:
        kebab = re.sub(r"(?<=[a-z])(?=[A-Z])", "-", r.rfc_name)
        assert CrlReason.parse(r.rfc_name) is CrlReason.parse(kebab) is CrlReason.parse(r.name) is r


@pytest.mark.parametrize("text", ["7", 7, "compromised", "", "11", -1, None, 1.0, True])
def test_reason_parse_refuses_unknown_values_listing_the_choices(text: object) -> None:
    with pytest.raises(CrlError) as exc:
        CrlReason.parse(text)  # type: ignore[arg-type]
    assert "keyCompromise (1)" in str(exc.value) and "removeFromCRL (8)" in str(exc.value)


# ================================================================================================
# Entries (RFC 5280 §5.1.2.6, §5.3)


def test_entry_encoding_is_exact_der_of_rfc5280_revoked_certificate() -> None:
    entry = encode_entry(
        0x1234,
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        CrlReason.KEY_COMPROMISE,
        dt.datetime(2025, 12, 31, 23, 0, 0, tzinfo=UTC),
    )
    expected = der.seq(
        der.integer(0x1234),
        der.utc_time(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        der.seq(
            der.seq(der.oid("2.5.29.21"), der.octet_string(bytes.fromhex("0a0101"))),
            der.seq(der.oid("2.5.29.24"), der.octet_string(b"\x18\x0f20251231230000Z")),
        ),
    )
    assert entry == expected
    assert (
        entry.hex()
        == (
            "303b"
            "02021234"
            "170d"
            + b"260102030405Z".hex()  # serial, UTCTime
            + "3026"
            "300a"
            "0603551d15"
            "0403"
            "0a0101"  # reasonCode keyCompromise
             + "3018"
            "0603551d18"
            "0411"
            "180f" + b"20251231230000Z".hex()
        )
    )


def test_entry_fields_read_back_by_asn1crypto() -> None:
    entry = encode_entry(
        2**126 + 99,
        dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC),
        CrlReason.CESSATION_OF_OPERATION,
        dt.datetime(2030, 5, 1, tzinfo=UTC),
    )
    parsed = asn1crypto.crl.RevokedCertificate.load(entry)
    assert parsed["user_certificate"].native == 2**126 + 99
    assert parsed["revocation_date"].native == dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert parsed.crl_reason_value.native == "cessation_of_operation"
    assert parsed.invalidity_date_value.native == dt.datetime(2030, 5, 1, tzinfo=UTC)
    assert [e["critical"].native for e in parsed["crl_entry_extensions"]] == [False, False]


def test_unspecified_reason_is_omitted_rather_than_encoded_rfc5280_5_3_1() -> None:
    plain = encode_entry(5, NOW)
    assert encode_entry(5, NOW, CrlReason.UNSPECIFIED) == plain
    assert len(der.parse(plain).children()) == 2  # no crlEntryExtensions at all (SIZE (1..MAX))


def test_revocation_date_is_utctime_through_2049_and_generalized_time_from_2050() -> None:
    def time_tag(when: dt.datetime) -> int:
        return der.parse(encode_entry(1, when)).children()[1].tag_byte

    assert time_tag(dt.datetime(1950, 1, 1, tzinfo=UTC)) == der.UTC_TIME
    assert time_tag(dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)) == der.UTC_TIME
    assert time_tag(dt.datetime(2050, 1, 1, tzinfo=UTC)) == der.GENERALIZED_TIME


def test_invalidity_date_is_always_generalized_time_rfc5280_5_3_2() -> None:
    ext = der.parse(encode_entry(1, NOW, invalidity_date=dt.datetime(2026, 1, 1, tzinfo=UTC))).children()[2]
    value = der.parse(ext.children()[0].children()[-1].content)
    assert value.tag_byte == der.GENERALIZED_TIME and value.content == b"20260101000000Z"


def test_entry_times_are_converted_to_utc() -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    assert encode_entry(1, dt.datetime(2026, 1, 1, 8, tzinfo=beijing)) == encode_entry(
        1, dt.datetime(2026, 1, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    "args,message",
    [
        ((0, NOW), "positive"),
        ((-5, NOW), "positive"),
        ((2**159, NOW), "20 octets"),
        ((True, NOW), "int"),
        (("12", NOW), "int"),
        ((1, dt.datetime(2026, 1, 1)), "timezone-aware"),
        ((1, "2026-01-01"), "datetime"),
        ((1, NOW, 7), "unknown CRL reason"),
        ((1, NOW, "nonsense"), "unknown CRL reason"),
        ((1, NOW, None, dt.datetime(2026, 1, 1)), "invalidity date must be timezone-aware"),
        ((1, dt.datetime(1949, 12, 31, tzinfo=UTC)), "1950-9999"),
    ],
)
def test_encode_entry_refuses_bad_arguments_with_clear_messages(args: tuple, message: str) -> None:
    with pytest.raises(CrlError, match=message):
        encode_entry(*args)


# ================================================================================================
# ECDSA CRLs against OpenSSL and cryptography


@pytest.mark.openssl
def test_openssl_lists_revoked_serial_with_key_compromise_and_the_crl_number(
    openssl: str, p256: Pki, tmp_path: Path
) -> None:
    write_crl(tmp_path, "full", p256.crl(revoke_a(p256), number=4242))
    text = ossl(openssl, "crl", "-inform", "DER", "-in", tmp_path / "full.der", "-text", "-noout").stdout
    assert "Version 2 (0x1)" in text
    block = text.split(f"Serial Number: {p256.serials['holderA']:X}", 1)[1]
    assert re.match(
        r"\s+Revocation Date: .*\n\s+CRL entry extensions:\s+X509v3 CRL Reason Code: \n\s+Key Compromise"
        r"\s+Invalidity Date: \n\s+\w+ +\d+ [\d:]+ \d{4} GMT",
        block,
    )
    assert re.search(r"X509v3 CRL Number: \n\s+4242\n", text)
    assert f"{p256.serials['holderB']:X}" not in text


@pytest.mark.openssl
def test_openssl_verify_crl_check_reports_revoked_holder_as_error_23(openssl: str, p256: Pki, tmp_path: Path) -> None:
    crl = write_crl(tmp_path, "full", p256.crl(revoke_a(p256), freshest_url=DELTA_URL))
    out = openssl_verify(openssl, p256, crl, "holderA")
    assert out.returncode != 0
    assert "error 23 at 0 depth lookup: certificate revoked" in out.stdout + out.stderr


@pytest.mark.openssl
def test_openssl_verify_crl_check_accepts_unrevoked_holder(openssl: str, p256: Pki, tmp_path: Path) -> None:
    crl = write_crl(tmp_path, "full", p256.crl(revoke_a(p256), freshest_url=DELTA_URL))
    out = openssl_verify(openssl, p256, crl, "holderB")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{p256.path('holderB')}: OK" in out.stdout


@pytest.mark.openssl
def test_openssl_verify_accepts_empty_crl_and_the_signature_over_it(openssl: str, p256: Pki, tmp_path: Path) -> None:
    crl = write_crl(tmp_path, "empty", p256.crl())
    assert openssl_verify(openssl, p256, crl, "holderA").returncode == 0
    # the CRL signature really is checked: another CA's key over the same TBS is refused
    forged = build_crl(
        signer=PrivateKey.generate(Algorithm.ECDSA),
        issuer_name_der=p256.names["ca"].der(),
        authority_key_id=p256.keys["ca"].public_key.key_identifier(),
        number=1,
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + dt.timedelta(days=1),
        entries=b"",
    )
    out = openssl_verify(openssl, p256, write_crl(tmp_path, "forged", forged), "holderA")
    assert out.returncode != 0 and "CRL signature failure" in out.stdout + out.stderr


@pytest.mark.openssl
def test_openssl_accepts_shard_crl_whose_idp_matches_a_certificate_distribution_point(
    openssl: str, p256: Pki, tmp_path: Path
) -> None:
    crl = write_crl(tmp_path, "shard", p256.crl(revoke_a(p256), idp_url=SHARD_URL))
    text = ossl(openssl, "crl", "-in", crl, "-text", "-noout").stdout
    assert re.search(
        r"X509v3 Issuing Distribution Point: critical\n\s+Full Name:\n\s+URI:" + re.escape(SHARD_URL), text
    )
    out = openssl_verify(openssl, p256, crl, "holderA")
    assert "error 23 at 0 depth lookup: certificate revoked" in out.stdout + out.stderr
    assert openssl_verify(openssl, p256, crl, "holderB").returncode == 0


@pytest.mark.openssl
def test_openssl_does_not_apply_a_shard_crl_for_another_partition(openssl: str, p256: Pki, tmp_path: Path) -> None:
    # The IDP really is compared with the certificate's CRL DPs: a shard the certificate does not name is
    # out of scope (error 44), so a revocation in it cannot be mistaken for this certificate's status.
    crl = write_crl(tmp_path, "other", p256.crl(revoke_a(p256), idp_url=OTHER_SHARD_URL))
    out = openssl_verify(openssl, p256, crl, "holderA")
    assert out.returncode != 0
    assert "error 44 at 0 depth lookup: different CRL scope" in out.stdout + out.stderr


def test_cryptography_verifies_the_signature_and_reads_the_revoked_entry(p256: Pki) -> None:
    crl = cx509.load_der_x509_crl(p256.crl(revoke_a(p256), number=77))
    ca_cert = cx509.load_der_x509_certificate(p256.der["ca"])
    assert crl.is_signature_valid(ca_cert.public_key())
    assert not crl.is_signature_valid(cx509.load_der_x509_certificate(p256.der["root"]).public_key())
    assert crl.issuer == ca_cert.subject
    assert crl.last_update_utc == NOW - dt.timedelta(hours=1)
    assert crl.next_update_utc == NOW + dt.timedelta(days=1)
    assert len(crl) == 1
    revoked = crl.get_revoked_certificate_by_serial_number(p256.serials["holderA"])
    assert revoked is not None
    assert revoked.revocation_date_utc == REVOKED_AT
    reason = revoked.extensions.get_extension_for_class(cx509.CRLReason)
    assert reason.value.reason is cx509.ReasonFlags.key_compromise and not reason.critical
    invalidity = revoked.extensions.get_extension_for_class(cx509.InvalidityDate)
    assert invalidity.value.invalidity_date_utc == INVALID_SINCE and not invalidity.critical
    assert crl.get_revoked_certificate_by_serial_number(p256.serials["holderB"]) is None


def test_cryptography_reads_crl_extensions_with_rfc5280_values_and_criticality(p256: Pki) -> None:
    ca_key_id = p256.keys["ca"].public_key.key_identifier()
    full = cx509.load_der_x509_crl(p256.crl(revoke_a(p256), number=2**159 - 1, freshest_url=DELTA_URL))
    exts = {type(e.value): e for e in full.extensions}
    assert set(exts) == {cx509.AuthorityKeyIdentifier, cx509.CRLNumber, cx509.FreshestCRL}
    assert exts[cx509.AuthorityKeyIdentifier].value.key_identifier == ca_key_id  # §5.2.1
    assert not exts[cx509.AuthorityKeyIdentifier].critical
    assert exts[cx509.CRLNumber].value.crl_number == 2**159 - 1  # §5.2.3, 20 octets
    assert not exts[cx509.CRLNumber].critical
    (point,) = exts[cx509.FreshestCRL].value  # §5.2.6
    assert point.full_name == [cx509.UniformResourceIdentifier(DELTA_URL)]
    assert not exts[cx509.FreshestCRL].critical

    shard = cx509.load_der_x509_crl(p256.crl(revoke_a(p256), number=3, idp_url=SHARD_URL))
    idp = shard.extensions.get_extension_for_class(cx509.IssuingDistributionPoint)  # §5.2.5
    assert idp.critical
    assert idp.value.full_name == [cx509.UniformResourceIdentifier(SHARD_URL)]
    assert not (
        idp.value.only_contains_user_certs
        or idp.value.only_contains_ca_certs
        or idp.value.indirect_crl
        or idp.value.only_some_reasons
    )
    assert shard.extensions.get_extension_for_class(cx509.CRLNumber).value.crl_number == 3

    delta = cx509.load_der_x509_crl(p256.crl(b"", number=9, delta_base=8))
    indicator = delta.extensions.get_extension_for_class(cx509.DeltaCRLIndicator)  # §5.2.4
    assert indicator.critical and indicator.value == cx509.DeltaCRLIndicator(crl_number=8)


# ================================================================================================
# Delta CRLs (RFC 5280 §5.2.4)


def delta_entries(pki: Pki) -> bytes:
    return encode_entry(pki.serials["holderB"], NOW - dt.timedelta(minutes=1), CrlReason.SUPERSEDED) + encode_entry(
        0x0BADCAFE, NOW - dt.timedelta(minutes=2), CrlReason.REMOVE_FROM_CRL
    )


@pytest.mark.openssl
def test_delta_crl_shows_delta_indicator_and_remove_from_crl_in_openssl(openssl: str, pki: Pki, tmp_path: Path) -> None:
    path = write_crl(tmp_path, "delta", pki.crl(delta_entries(pki), number=31, delta_base=30))
    text = ossl(openssl, "crl", "-in", path, "-text", "-noout").stdout
    assert re.search(r"X509v3 Delta CRL Indicator: critical\n\s+30\n", text)
    assert re.search(
        r"Serial Number: 0BADCAFE\n\s+Revocation Date: .*\n\s+CRL entry extensions:\n"
        r"\s+X509v3 CRL Reason Code: \n\s+Remove From CRL",
        text,
    )
    assert "Superseded" in text


def test_delta_crl_indicator_is_critical_with_the_base_number_in_cryptography(p256: Pki) -> None:
    crl = cx509.load_der_x509_crl(p256.crl(delta_entries(p256), number=31, delta_base=30))
    ext = crl.extensions.get_extension_for_class(cx509.DeltaCRLIndicator)
    assert ext.critical and ext.value == cx509.DeltaCRLIndicator(crl_number=30)
    removed = crl.get_revoked_certificate_by_serial_number(0x0BADCAFE)
    assert removed is not None
    assert removed.extensions.get_extension_for_class(cx509.CRLReason).value.reason is cx509.ReasonFlags.remove_from_crl
    assert crl.is_signature_valid(cx509.load_der_x509_certificate(p256.der["ca"]).public_key())


@pytest.mark.openssl
def test_openssl_applies_delta_crl_to_its_base_found_through_the_freshest_pointer(
    openssl: str, p256: Pki, tmp_path: Path
) -> None:
    # Full CRL 30 revokes A and points at the delta; delta 31 (base 30) adds B. With -use_deltas OpenSSL
    # combines them (it checks base number, issuer, AKI and scope), so B is revoked; without, B is OK.
    full = crl_pem(p256.crl(revoke_a(p256), number=30, freshest_url=DELTA_URL))
    delta = crl_pem(p256.crl(delta_entries(p256), number=31, delta_base=30))
    both = tmp_path / "full+delta.pem"
    both.write_text(full + delta)
    out = openssl_verify(openssl, p256, both, "holderB", "-use_deltas")
    assert "error 23 at 0 depth lookup: certificate revoked" in out.stdout + out.stderr
    assert openssl_verify(openssl, p256, both, "holderB").returncode == 0


# ================================================================================================
# SM2 CRLs: OpenSSL extracts the TBS and checks the signature with dgst (design.md §9)


@pytest.mark.openssl
def test_sm2_crl_signature_verifies_with_openssl_dgst_over_the_tbs_openssl_extracts(
    openssl: str, sm2: Pki, tmp_path: Path
) -> None:
    crl_der = sm2.crl(revoke_a(sm2), number=5, idp_url=SHARD_URL)
    path = tmp_path / "crl.der"
    path.write_bytes(crl_der)
    rows = top_level(openssl, path)
    tbs_offset = next(off for off, depth, kind in rows if depth == 1 and kind == "SEQUENCE")
    (sig_offset,) = [off for off, depth, kind in rows if depth == 1 and kind == "BIT STRING"]
    tbs, sig, pub = tmp_path / "tbs.der", tmp_path / "sig.der", tmp_path / "issuer_pub.pem"
    ossl(openssl, "asn1parse", "-inform", "DER", "-in", path, "-strparse", tbs_offset, "-noout", "-out", tbs)
    ossl(openssl, "asn1parse", "-inform", "DER", "-in", path, "-strparse", sig_offset, "-noout", "-out", sig)
    pub.write_text(ossl(openssl, "x509", "-in", sm2.path("ca"), "-pubkey", "-noout").stdout)
    ok = ossl(openssl, "dgst", "-sm3", "-verify", pub, "-sigopt", DISTID, "-signature", sig, tbs)
    assert "Verified OK" in ok.stdout
    # the GM/T 0009 ID is part of the signature: OpenSSL's default (empty) ID does not verify
    assert ossl(openssl, "dgst", "-sm3", "-verify", pub, "-signature", sig, tbs, check=False).returncode == 1
    parsed = parse_crl(crl_der)
    assert tbs.read_bytes() == parsed.tbs and sig.read_bytes() == parsed.signature
    assert parsed.signature_algorithm == oids.SM2_WITH_SM3


@pytest.mark.openssl
def test_openssl_prints_sm2_crl_entries_with_their_reasons(openssl: str, sm2: Pki, tmp_path: Path) -> None:
    path = tmp_path / "crl.der"
    path.write_bytes(sm2.crl(revoke_a(sm2) + delta_entries(sm2), number=6, delta_base=5))
    text = ossl(openssl, "crl", "-inform", "DER", "-in", path, "-text", "-noout").stdout
    assert "Signature Algorithm: SM2-with-SM3" in text
    for serial, reason in [
        (sm2.serials["holderA"], "Key Compromise"),
        (sm2.serials["holderB"], "Superseded"),
        (0x0BADCAFE, "Remove From CRL"),
    ]:
        assert re.search(
            rf"Serial Number: 0?{serial:X}\n\s+Revocation Date: .*\n\s+CRL entry extensions:\n"
            rf"\s+X509v3 CRL Reason Code: \n\s+{reason}",
            text,
        ), reason
    assert re.search(r"X509v3 CRL Number: \n\s+6\n", text)


# ================================================================================================
# Structure (RFC 5280 §5.1)


def tbs_fields(crl_der: bytes) -> list[der.Node]:
    return der.parse(crl_der).children()[0].children()


def test_empty_crl_omits_revoked_certificates_rather_than_encoding_it_empty(pki: Pki) -> None:
    crl_der = pki.crl(b"")
    kinds = [f.tag_byte for f in tbs_fields(crl_der)]
    # version, signature, issuer, thisUpdate, nextUpdate, [0] crlExtensions: no SEQUENCE in between (§5.1.2.6)
    assert kinds == [der.INTEGER, 0x30, 0x30, der.UTC_TIME, der.UTC_TIME, 0xA0]
    assert parse_crl(crl_der).entry_count == 0
    assert list(parse_crl(crl_der).entries()) == []
    assert parse_crl(pki.crl([])).tbs[-40:] == parse_crl(crl_der).tbs[-40:]
    if pki.alg is Algorithm.ECDSA:
        assert len(cx509.load_der_x509_crl(crl_der)) == 0


def test_tbs_signature_algorithm_equals_the_outer_one_rfc5280_5_1_1_2(pki: Pki) -> None:
    outer = der.parse(pki.crl(revoke_a(pki))).children()
    assert outer[0].children()[1].raw == outer[1].raw == signature_algorithm_identifier(pki.alg)
    assert outer[0].children()[0].as_int() == 1  # v2


def test_signature_covers_the_tbs_exactly(pki: Pki) -> None:
    parsed = parse_crl(pki.crl(revoke_a(pki)))
    assert pki.keys["ca"].public_key.verify(parsed.tbs, parsed.signature)
    assert parsed.verify_signature(pki.keys["ca"].public_key)
    assert not parsed.verify_signature(pki.keys["root"].public_key)
    other = Algorithm.ECDSA if pki.alg is Algorithm.SM2 else Algorithm.SM2
    assert not parsed.verify_signature(PrivateKey.generate(other).public_key)


def test_flipping_a_tbs_byte_makes_verify_signature_false(pki: Pki) -> None:
    crl_der = pki.crl(revoke_a(pki))
    at = crl_der.index(b"CRL Test Issuing CA")
    tampered = crl_der[:at] + b"X" + crl_der[at + 1 :]
    parsed = parse_crl(tampered)
    assert parsed.issuer_der != pki.names["ca"].der()
    assert not parsed.verify_signature(pki.keys["ca"].public_key)
    # and a byte of an entry, which parse_crl only walks past
    at = crl_der.index(pki.serials["holderA"].to_bytes(16, "big")) + 5
    tampered = crl_der[:at] + bytes([crl_der[at] ^ 1]) + crl_der[at + 1 :]
    assert parse_crl(tampered).entry_count == 1
    assert not parse_crl(tampered).verify_signature(pki.keys["ca"].public_key)


# ================================================================================================
# Round trip


ROUND_TRIP_ENTRIES = [
    CrlEntry(
        2**126 + 1,
        dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        CrlReason.KEY_COMPROMISE,
        dt.datetime(2026, 3, 1, tzinfo=UTC),
    ),
    CrlEntry(2**159 - 1, dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), None, None),  # UTCTime edge
    CrlEntry(7, dt.datetime(2050, 1, 1, tzinfo=UTC), CrlReason.AA_COMPROMISE, None),  # GeneralizedTime
    CrlEntry(8, dt.datetime(1950, 1, 1, tzinfo=UTC), None, dt.datetime(1950, 1, 1, tzinfo=UTC)),
    CrlEntry(
        2**64,
        dt.datetime(2099, 6, 30, 12, tzinfo=UTC),
        CrlReason.PRIVILEGE_WITHDRAWN,
        dt.datetime(2099, 6, 29, tzinfo=UTC),
    ),
] + [
    CrlEntry(100 + r.value, dt.datetime(2027, 1, 1, tzinfo=UTC), r, None)
    for r in CrlReason
    if r is not CrlReason.UNSPECIFIED
]


def encoded(entries: list[CrlEntry]) -> bytes:
    return b"".join(encode_entry(e.serial, e.revoked_at, e.reason, e.invalidity_date) for e in entries)


def test_round_trip_gives_back_every_field_of_a_full_crl(pki: Pki) -> None:
    this_u, next_u = dt.datetime(2049, 12, 1, tzinfo=UTC), dt.datetime(2050, 1, 2, tzinfo=UTC)
    key = pki.keys["ca"]
    crl_der = pki.crl(
        encoded(ROUND_TRIP_ENTRIES),
        number=123456789,
        this_update=this_u,
        next_update=next_u,
        idp_url=SHARD_URL,
        freshest_url=DELTA_URL,
    )
    p = parse_crl(crl_der)
    assert (p.der, p.issuer_der, p.this_update, p.next_update) == (crl_der, pki.names["ca"].der(), this_u, next_u)
    assert [f.tag_byte for f in tbs_fields(crl_der)[3:5]] == [der.UTC_TIME, der.GENERALIZED_TIME]
    assert (p.number, p.delta_base, p.is_delta) == (123456789, None, False)
    assert (p.idp_urls, p.idp_critical, p.freshest_urls) == ((SHARD_URL,), True, (DELTA_URL,))
    assert p.authority_key_id == key.public_key.key_identifier()
    assert p.signature_algorithm == pki.alg.signature_oid
    assert p.entry_count == len(ROUND_TRIP_ENTRIES)
    assert list(p.entries()) == ROUND_TRIP_ENTRIES
    assert p.verify_signature(key.public_key)
    assert crl_der.endswith(der.bit_string(p.signature))


def test_peek_reads_number_and_times_without_the_entries(pki: Pki) -> None:
    from registry.pki.crl import peek

    this_u, next_u = dt.datetime(2049, 12, 1, tzinfo=UTC), dt.datetime(2050, 1, 2, tzinfo=UTC)
    crl_der = pki.crl(encoded(ROUND_TRIP_ENTRIES), number=987654321, this_update=this_u, next_update=next_u)
    assert peek(crl_der) == (987654321, this_u, next_u)
    for bad in (b"", b"garbage", crl_der[:40], pki.certs["ca"] if hasattr(pki, "certs") else b"\x30\x03\x02\x01\x01"):
        with pytest.raises(CrlError):
            peek(bad)


def test_round_trip_of_a_delta_crl(pki: Pki) -> None:
    p = parse_crl(pki.crl(delta_entries(pki), number=2**159 - 1, delta_base=0))
    assert (p.number, p.delta_base, p.is_delta, p.idp_urls, p.idp_critical, p.freshest_urls) == (
        2**159 - 1,
        0,
        True,
        (),
        False,
        (),
    )
    assert [(e.serial, e.reason) for e in p.entries()] == [
        (pki.serials["holderB"], CrlReason.SUPERSEDED),
        (0x0BADCAFE, CrlReason.REMOVE_FROM_CRL),
    ]


def test_unspecified_reason_reads_back_as_no_reason(pki: Pki) -> None:
    (entry,) = parse_crl(pki.crl(encode_entry(9, NOW, CrlReason.UNSPECIFIED))).entries()
    assert entry == CrlEntry(9, NOW, None, None)


def test_entries_as_bytes_bytearray_memoryview_list_or_generator_give_the_same_tbs(p256: Pki) -> None:
    chunks = [encode_entry(e.serial, e.revoked_at, e.reason, e.invalidity_date) for e in ROUND_TRIP_ENTRIES]
    blob = b"".join(chunks)
    tbs = {
        parse_crl(p256.crl(form)).tbs
        for form in (
            blob,
            bytearray(blob),
            memoryview(blob),
            chunks,
            (c for c in chunks),
            [blob[:100], blob[100:]],
            memoryview(bytearray(blob)).cast("B", (len(blob),)),
        )
    }
    assert len(tbs) == 1


def test_pem_has_the_x509_crl_label_and_64_character_lines(p256: Pki) -> None:
    crl_der = p256.crl(encoded(ROUND_TRIP_ENTRIES))
    pem = crl_pem(crl_der)
    lines = pem.splitlines()
    assert lines[0] == "-----BEGIN X509 CRL-----" and lines[-1] == "-----END X509 CRL-----"
    assert all(len(line) == 64 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 64
    assert pem == der.der_to_pem(crl_der, "X509 CRL")
    assert parse_crl(pem).der == parse_crl(pem.encode()).der == crl_der
    assert cx509.load_pem_x509_crl(pem.encode()).public_bytes(Encoding.DER) == crl_der


def test_hundred_thousand_entries_are_counted_without_per_entry_objects(p256: Pki) -> None:
    n = 100_000
    template = encode_entry(2**126, NOW, CrlReason.SUPERSEDED)
    serial_at = template.index((2**126).to_bytes(16, "big"))
    entries = bytearray(template * n)
    for i in range(0, n, 997):  # distinct serials at intervals, so lookups below mean something
        entries[i * len(template) + serial_at + 8 : i * len(template) + serial_at + 16] = i.to_bytes(8, "big")
    crl_der = p256.crl(entries, number=100)
    tracemalloc.start()
    parsed = parse_crl(crl_der)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert parsed.entry_count == n
    # the TBS copy plus small change: a Python object per entry would cost several MB more
    assert peak < len(parsed.tbs) + 1_000_000
    first = next(parsed.entries())
    assert (first.serial, first.revoked_at, first.reason) == (2**126, NOW, CrlReason.SUPERSEDED)
    crl = cx509.load_der_x509_crl(crl_der)
    assert len(crl) == n
    assert crl.get_revoked_certificate_by_serial_number(2**126 + 997 * 100) is not None
    assert parsed.verify_signature(p256.keys["ca"].public_key)


def test_building_copies_the_entries_at_most_twice(p256: Pki) -> None:
    entries = encode_entry(2**126, NOW, CrlReason.SUPERSEDED) * 50_000
    p256.crl(b"")  # warm caches
    tracemalloc.start()
    out = p256.crl(entries)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(out) > len(entries)
    assert peak < 2 * len(entries) + 500_000  # the TBS and the CertificateList, nothing per entry


# ================================================================================================
# Arguments


def crl_args(pki: Pki, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "signer": pki.keys["ca"],
        "issuer_name_der": pki.names["ca"].der(),
        "authority_key_id": b"k" * 20,
        "number": 5,
        "this_update": NOW,
        "next_update": NOW + dt.timedelta(days=1),
        "entries": b"",
    }
    args.update(kw)
    return args


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"next_update": NOW}, "nextUpdate .* must be later than thisUpdate"),
        ({"next_update": NOW - dt.timedelta(seconds=1)}, "must be later than thisUpdate"),
        ({"next_update": NOW + dt.timedelta(microseconds=500)}, "must be later than thisUpdate"),
        ({"this_update": dt.datetime(2026, 1, 1)}, "thisUpdate must be timezone-aware"),
        ({"next_update": dt.datetime(2030, 1, 1)}, "nextUpdate must be timezone-aware"),
        ({"number": -1}, "0 <= number < 2\\*\\*159"),
        ({"number": 2**159}, "20 octets"),
        ({"number": "5"}, "CRL number"),
        ({"number": True}, "CRL number"),
        ({"delta_base": 5}, "base < the CRL number 5"),
        ({"delta_base": -1}, "delta CRL base"),
        ({"delta_base": 4, "freshest_url": DELTA_URL}, "must not carry a Freshest CRL"),
        ({"idp_url": "http://registry.test/分片.crl"}, "printable ASCII"),
        ({"idp_url": "ftp://registry.test/a.crl"}, "http:// or https://"),
        ({"idp_url": "registry.test/a.crl"}, "http:// or https://"),
        ({"idp_url": "http:///a.crl"}, "http:// or https://"),
        ({"freshest_url": "http://registry.test/a b.crl"}, "without spaces"),
        ({"freshest_url": "http://registry.test/a\n.crl"}, "printable"),
        ({"idp_url": b"http://x/"}, "str URL"),
        ({"issuer_name_der": b"\x04\x00"}, "not a DER Name"),
        ({"issuer_name_der": b"\x30\x05\x00"}, "not a DER Name"),
        ({"issuer_name_der": "CN=x"}, "issuer_name_der"),
        ({"authority_key_id": b""}, "authority_key_id"),
        ({"entries": "3003020101"}, "entries must be bytes-like"),
        ({"entries": 12}, "entries must be bytes-like"),
        ({"entries": [b"\x30\x00", "x"]}, "entries chunk 1 is str"),
        ({"entries": [[48, 0]]}, "entries chunk 0 is list"),
        ({"entries": der.integer(5)}, "concatenated revokedCertificates SEQUENCEs"),
        ({"signer": object()}, "signer must provide"),
    ],
)
def test_build_crl_refuses_bad_arguments_with_clear_messages(p256: Pki, kw: dict[str, object], message: str) -> None:
    with pytest.raises(CrlError, match=message):
        build_crl(**crl_args(p256, **kw))  # type: ignore[arg-type]


def test_https_urls_and_edge_numbers_are_accepted(p256: Pki) -> None:
    url = "https://registry.test:8443/c?s=1"
    p = parse_crl(build_crl(**crl_args(p256, number=1, delta_base=0, idp_url=url)))  # type: ignore[arg-type]
    assert (p.number, p.delta_base, p.idp_urls) == (1, 0, (url,))
    assert parse_crl(build_crl(**crl_args(p256, number=0))).number == 0  # type: ignore[arg-type]


# ================================================================================================
# Bad input: only CrlError, with a message that says what is wrong


def hand_crl(signer: PrivateKey, *tbs_fields: bytes) -> bytes:
    """A CertificateList around an arbitrary TBS, for shapes build_crl never makes."""
    return X.sign_tbs(der.seq(*tbs_fields), signer)


def hand_head(pki: Pki, version: bool = True) -> list[bytes]:
    head = [der.integer(1)] if version else []
    return head + [signature_algorithm_identifier(pki.alg), pki.names["ca"].der(), der.utc_time(NOW)]


@functools.cache
def small_crl() -> tuple[bytes, PrivateKey]:
    key = PrivateKey.generate(Algorithm.ECDSA)
    crl_der = build_crl(
        signer=key,
        issuer_name_der=Name.build(C="CN", CN="Small CA").der(),
        authority_key_id=b"\x01" * 20,
        number=3,
        this_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
        idp_url=SHARD_URL,
        entries=encode_entry(0x101, NOW, CrlReason.KEY_COMPROMISE, NOW) + encode_entry(0x102, NOW),
    )
    return crl_der, key


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "CRL is empty"),
        (b"\x00", "not a CRL: starts with"),
        (b"\x30", "truncated length"),
        (b"hello world", "not a CRL: starts with"),
        (b"\x30\x80\x00\x00", "indefinite length"),
        (b"\x30\x81\x01\x00", "non-minimal length"),
        (b"\x30\x85\x01\x00\x00\x00\x00", "length of 5 octets"),
        (b"-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n", "block is empty"),
        (b"\x30\x03\x02\x01\x01", "tbsCertList at offset 2: expected SEQUENCE"),
        (b"\x30\x02\x30\x00", "unexpected end of data"),
        (b"\x30\x06\x30\x00\x30\x00\x03\x00", "expected BIT STRING"),
        (b"-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n", "not valid base64"),
        (b"-----BEGIN X509 CRL-----\nMAA=\n", "no END line"),
        ("-----BEGIN X509 CRL-----\n证书\n-----END X509 CRL-----", "not ASCII"),
        (12345, "must be bytes"),
    ],
)
def test_garbage_raises_crl_error_naming_the_problem(data: bytes, message: str) -> None:
    with pytest.raises(CrlError, match=message):
        parse_crl(data)  # type: ignore[arg-type]


def test_a_certificate_given_as_a_crl_is_named_as_such(p256: Pki) -> None:
    with pytest.raises(CrlError, match="X.509 certificate, not a CRL"):
        parse_crl(p256.der["holderA"])
    with pytest.raises(CrlError, match="PEM block is CERTIFICATE \\(a certificate, not a CRL\\); expected X509 CRL"):
        parse_crl(p256.path("holderA").read_bytes())


def test_every_truncation_of_a_small_crl_raises_crl_error() -> None:
    crl_der, _ = small_crl()
    for n in range(len(crl_der)):
        with pytest.raises(CrlError):
            parse_crl(crl_der[:n])


def test_trailing_bytes_after_the_crl_are_refused() -> None:
    crl_der, _ = small_crl()
    with pytest.raises(CrlError, match="1 trailing bytes"):
        parse_crl(crl_der + b"\x00")


def test_outer_signature_algorithm_must_equal_the_tbs_one(p256: Pki) -> None:
    crl_der = p256.crl(revoke_a(p256))
    ecdsa, sm2_alg = signature_algorithm_identifier(Algorithm.ECDSA), signature_algorithm_identifier(Algorithm.SM2)
    at = crl_der.rindex(ecdsa)
    swapped = crl_der[:at] + sm2_alg + crl_der[at + len(ecdsa) :]
    with pytest.raises(CrlError, match="differs from the outer signatureAlgorithm"):
        parse_crl(swapped)


def test_unknown_critical_crl_extension_is_refused_rfc5280_5_2(p256: Pki) -> None:
    exts = der.explicit(
        0, der.seq(X.extension(oids.CRL_NUMBER, der.integer(1)), X.extension("1.2.3.4", der.null(), critical=True))
    )
    with pytest.raises(CrlError, match="unsupported critical extension 1.2.3.4"):
        parse_crl(hand_crl(p256.keys["ca"], *hand_head(p256), exts))
    noncritical = der.explicit(0, der.seq(X.extension("1.2.3.4", der.null())))
    assert parse_crl(hand_crl(p256.keys["ca"], *hand_head(p256), noncritical)).number is None


def test_duplicate_crl_extension_is_refused(p256: Pki) -> None:
    exts = der.explicit(
        0, der.seq(X.extension(oids.CRL_NUMBER, der.integer(1)), X.extension(oids.CRL_NUMBER, der.integer(2)))
    )
    with pytest.raises(CrlError, match="appears twice"):
        parse_crl(hand_crl(p256.keys["ca"], *hand_head(p256), exts))


def test_v1_crl_parses_without_extensions_and_v1_with_extensions_is_refused(p256: Pki) -> None:
    v1 = parse_crl(hand_crl(p256.keys["ca"], *hand_head(p256, version=False), der.seq(encode_entry(3, NOW))))
    assert (v1.number, v1.next_update, v1.entry_count) == (None, None, 1)
    assert v1.verify_signature(p256.keys["ca"].public_key)
    with pytest.raises(CrlError, match="v1 CRL cannot carry extensions"):
        parse_crl(
            hand_crl(
                p256.keys["ca"],
                *hand_head(p256, version=False),
                der.explicit(0, der.seq(X.extension(oids.CRL_NUMBER, der.integer(1)))),
            )
        )
    with pytest.raises(CrlError, match="unsupported CRL version 3 at offset"):
        parse_crl(hand_crl(p256.keys["ca"], der.integer(2), *hand_head(p256)[1:]))


def test_malformed_entries_are_refused_when_counted_or_when_read(p256: Pki) -> None:
    head = hand_head(p256) + [der.utc_time(NOW + dt.timedelta(days=1))]
    with pytest.raises(CrlError, match="revoked entry 1 at offset .*: expected SEQUENCE, found INTEGER"):
        parse_crl(hand_crl(p256.keys["ca"], *head, der.seq(encode_entry(1, NOW), der.integer(5))))
    # entry contents are only decoded by entries(): the error names the entry
    bad = [
        der.seq(der.integer(1)),  # no revocationDate
        der.seq(
            der.integer(1), der.utc_time(NOW), der.seq(X.extension(oids.CRL_REASON, der.enumerated(7)))
        ),  # code 7 is unused
        der.seq(
            der.integer(1), der.utc_time(NOW), der.seq(X.extension("2.5.29.29", der.seq(), critical=True))
        ),  # indirect CRL
        der.seq(der.integer(1), der.tlv(der.UTC_TIME, b"2601010000Z")),
    ]  # malformed time
    for entry in bad:
        parsed = parse_crl(hand_crl(p256.keys["ca"], *head, der.seq(encode_entry(1, NOW), entry)))
        assert parsed.entry_count == 2
        entries = parsed.entries()
        assert next(entries).serial == 1
        with pytest.raises(CrlError, match="revoked entry 1 at offset"):
            next(entries)


def test_present_but_empty_revoked_certificates_counts_zero(p256: Pki) -> None:
    head = hand_head(p256) + [der.utc_time(NOW + dt.timedelta(days=1))]
    assert parse_crl(hand_crl(p256.keys["ca"], *head, der.seq())).entry_count == 0


def test_next_update_before_this_update_is_refused(p256: Pki) -> None:
    head = hand_head(p256) + [der.utc_time(NOW - dt.timedelta(days=1))]
    with pytest.raises(CrlError, match="nextUpdate .* is before thisUpdate"):
        parse_crl(hand_crl(p256.keys["ca"], *head))


def _only_crl_errors(data: bytes, key: PrivateKey) -> None:
    try:
        parsed = parse_crl(data)
    except CrlError:
        return
    assert isinstance(parsed, ParsedCrl)
    try:
        for entry in parsed.entries():
            assert isinstance(entry, CrlEntry)
    except CrlError:
        pass
    assert parsed.verify_signature(key.public_key) in (True, False)


@PROPERTY
@given(
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=4),
    st.sampled_from(["replace", "truncate", "insert", "delete"]),
    st.binary(max_size=6),
)
def test_mutated_crl_bytes_raise_only_crl_error(mutations: list[tuple[int, int]], op: str, blob: bytes) -> None:
    crl_der, key = small_crl()
    data = bytearray(crl_der)
    at = mutations[0][0] % len(data)
    if op == "truncate":
        del data[at:]
    elif op == "insert":
        data[at:at] = blob
    elif op == "delete":
        del data[at : at + 1 + len(blob)]
    for i, b in mutations:
        if data:
            data[i % len(data)] = b
    _only_crl_errors(bytes(data), key)


@PROPERTY
@given(st.lists(st.binary(max_size=40), max_size=5))
def test_arbitrary_entry_contents_raise_only_crl_error_when_read(contents: list[bytes]) -> None:
    _crl_der, key = small_crl()
    entries = b"".join(der.tlv(0x30, c) for c in contents)
    data = build_crl(
        signer=key,
        issuer_name_der=Name.build(CN="x").der(),
        authority_key_id=b"\x01",
        number=1,
        this_update=NOW,
        next_update=NOW + dt.timedelta(hours=1),
        entries=entries,
    )
    assert parse_crl(data).entry_count == len(contents)
    _only_crl_errors(data, key)


def test_small_crl_is_itself_valid() -> None:
    crl_der, key = small_crl()
    parsed = parse_crl(crl_der)
    assert parsed.verify_signature(key.public_key)
    assert [e.serial for e in parsed.entries()] == [0x101, 0x102]
