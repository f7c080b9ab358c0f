"""X.509 certificates and PKCS#10 requests (registry.pki.x509, registry.pki.csr), checked with tools nobody
here wrote: the OpenSSL 3.0 command line, pyca ``cryptography``, ``asn1crypto`` and pyhanko-certvalidator.

SM2 chains are checked ONE LINK AT A TIME with ``-partial_chain``: OpenSSL 3.0 applies ``-vfyopt distid:``
only to the certificate being verified, not to the rest of the chain (design.md §9, domain.md §6.3).
Each test names the rule it checks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import asn1crypto.x509 as a1x509
import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtensionOID, NameOID
from hypothesis import given
from hypothesis import strategies as st

from registry.pki import der, oids
from registry.pki import x509 as X
from registry.pki.csr import build_csr
from registry.pki.keys import (
    Algorithm,
    PrivateKey,
    PublicKey,
    signature_algorithm_identifier,
)
from registry.pki.x509 import Certificate, CertificateError, CertificationRequest, Name
from tests.support.pki import PROPERTY, ossl, top_level

DISTID = "distid:1234567812345678"
USCC = "91440300MA5F12342Q"
CSR_SUBJ = f"/C=CN/O=Test/CN=x/organizationIdentifier={USCC}"
ALGS = [Algorithm.SM2, Algorithm.ECDSA]
DGST = {Algorithm.SM2: ["-sm3", "-sigopt", DISTID], Algorithm.ECDSA: ["-sha256"]}
CURVE = {Algorithm.SM2: "SM2", Algorithm.ECDSA: "prime256v1"}
UTC = dt.UTC


def colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02X}" for b in data)


# ================================================================================================
# A three-level hierarchy per algorithm, built with the project's builder


@dataclass
class Pki:
    alg: Algorithm
    dir: Path
    keys: dict[str, PrivateKey]
    names: dict[str, Name]
    serials: dict[str, int]
    der: dict[str, bytes]
    not_before: dt.datetime
    not_after: dt.datetime
    crl_urls: list[str]
    cps_url: str

    def pem_path(self, which: str) -> Path:
        return self.dir / f"{which}.pem"

    def der_path(self, which: str) -> Path:
        return self.dir / f"{which}.der"


def make_pki(alg: Algorithm, directory: Path) -> Pki:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    nb, na = now - dt.timedelta(hours=1), now + dt.timedelta(days=365)
    keys = {w: PrivateKey.generate(alg) for w in ("root", "ca", "leaf")}
    names = {
        "root": Name.build(C="CN", O="Seal Registry Test", CN=f"Test Root {alg.value}"),
        "ca": Name.build(C="CN", O="Seal Registry Test", CN=f"Test Issuing CA {alg.value}"),
        "leaf": Name.build(C="CN", O="深圳测试有限公司", CN="seal-holder", organizationIdentifier=USCC),
    }
    crl_urls = [f"http://registry.test/crl/{alg.value}/full.crl", f"http://registry.test/crl/{alg.value}/shard-3.crl"]
    cps_url = "http://registry.test/cps"
    ski = {w: k.public_key.key_identifier() for w, k in keys.items()}
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
        "leaf": [
            X.basic_constraints(False),
            X.key_usage(X.KU_DIGITAL_SIGNATURE, X.KU_NON_REPUDIATION),
            X.subject_key_identifier(ski["leaf"]),
            X.authority_key_identifier(ski["ca"]),
            X.crl_distribution_points(crl_urls),
            X.certificate_policies(oids.DEFAULT_POLICY, cps_url),
        ],
    }
    issuer = {"root": "root", "ca": "root", "leaf": "ca"}
    serials = {w: X.random_serial() for w in keys}
    ders = {}
    for w in ("root", "ca", "leaf"):
        tbs = X.build_tbs(
            serial=serials[w],
            signature_alg=alg,
            issuer=names[issuer[w]],
            subject=names[w],
            not_before=nb,
            not_after=na,
            public_key=keys[w].public_key,
            extensions=exts[w],
        )
        ders[w] = X.sign_tbs(tbs, keys[issuer[w]])
        (directory / f"{w}.der").write_bytes(ders[w])
        (directory / f"{w}.pem").write_text(der.der_to_pem(ders[w], "CERTIFICATE"))
    return Pki(alg, directory, keys, names, serials, ders, nb, na, crl_urls, cps_url)


@pytest.fixture(scope="module")
def pkis(tmp_path_factory: pytest.TempPathFactory) -> dict[Algorithm, Pki]:
    return {a: make_pki(a, tmp_path_factory.mktemp(a.value)) for a in ALGS}


@pytest.fixture(params=ALGS, ids=lambda a: a.value)
def pki(request: pytest.FixtureRequest, pkis: dict[Algorithm, Pki]) -> Pki:
    return pkis[request.param]


@pytest.fixture
def sm2(pkis: dict[Algorithm, Pki]) -> Pki:
    return pkis[Algorithm.SM2]


@pytest.fixture
def p256(pkis: dict[Algorithm, Pki]) -> Pki:
    return pkis[Algorithm.ECDSA]


LINKS = [("root", "ca"), ("ca", "leaf")]


# ================================================================================================
# SM2 chain in OpenSSL


@pytest.mark.openssl
@pytest.mark.parametrize("issuer,cert", LINKS)
def test_sm2_chain_verifies_one_link_at_a_time_with_distid(openssl: str, sm2: Pki, issuer: str, cert: str) -> None:
    out = ossl(
        openssl, "verify", "-vfyopt", DISTID, "-partial_chain", "-CAfile", sm2.pem_path(issuer), sm2.pem_path(cert)
    )
    assert out.stdout.strip() == f"{sm2.pem_path(cert)}: OK"


@pytest.mark.openssl
@pytest.mark.parametrize("issuer,cert", LINKS)
def test_sm2_chain_links_pass_openssl_x509_strict(openssl: str, sm2: Pki, issuer: str, cert: str) -> None:
    # -x509_strict adds RFC 5280 profile checks (AKI/SKI presence, critical basicConstraints on CAs, ...).
    out = ossl(
        openssl,
        "verify",
        "-x509_strict",
        "-vfyopt",
        DISTID,
        "-partial_chain",
        "-CAfile",
        sm2.pem_path(issuer),
        sm2.pem_path(cert),
    )
    assert out.stdout.strip().endswith(": OK")


@pytest.mark.openssl
@pytest.mark.parametrize("issuer,cert", LINKS)
def test_sm2_chain_link_fails_in_openssl_without_distid(openssl: str, sm2: Pki, issuer: str, cert: str) -> None:
    out = ossl(openssl, "verify", "-partial_chain", "-CAfile", sm2.pem_path(issuer), sm2.pem_path(cert), check=False)
    assert out.returncode != 0
    assert "certificate signature failure" in out.stdout + out.stderr


@pytest.mark.openssl
def test_sm2_root_self_signature_verifies_with_openssl_dgst_over_extracted_tbs(
    openssl: str, sm2: Pki, tmp_path: Path
) -> None:
    root = sm2.der_path("root")
    tbs, sig, pub = tmp_path / "tbs.der", tmp_path / "sig.der", tmp_path / "pub.pem"
    ossl(openssl, "asn1parse", "-in", root, "-inform", "DER", "-strparse", "4", "-out", tbs, "-noout")
    bitstrings = [off for off, depth, kind in top_level(openssl, root) if depth == 1 and kind == "BIT STRING"]
    assert len(bitstrings) == 1
    ossl(openssl, "asn1parse", "-in", root, "-inform", "DER", "-strparse", bitstrings[0], "-out", sig, "-noout")
    pub.write_text(ossl(openssl, "x509", "-in", sm2.pem_path("root"), "-pubkey", "-noout").stdout)
    ok = ossl(openssl, "dgst", "-sm3", "-sigopt", DISTID, "-verify", pub, "-signature", sig, tbs)
    assert "Verified OK" in ok.stdout
    no_id = ossl(openssl, "dgst", "-sm3", "-verify", pub, "-signature", sig, tbs, check=False)
    assert no_id.returncode == 1
    parsed = Certificate.from_der(sm2.der["root"])
    assert tbs.read_bytes() == parsed.tbs and sig.read_bytes() == parsed.signature


@pytest.mark.openssl
def test_tampered_certificate_fails_openssl_verification(openssl: str, pki: Pki, tmp_path: Path) -> None:
    bad = pki.der["leaf"].replace(b"seal-holder", b"seal-holdeR", 1)
    assert bad != pki.der["leaf"]
    path = tmp_path / "bad.pem"
    path.write_text(der.der_to_pem(bad, "CERTIFICATE"))
    vfy = ["-vfyopt", DISTID] if pki.alg is Algorithm.SM2 else []
    out = ossl(openssl, "verify", *vfy, "-partial_chain", "-CAfile", pki.pem_path("ca"), path, check=False)
    assert out.returncode != 0 and "certificate signature failure" in out.stdout + out.stderr


# ================================================================================================
# ECDSA chain in OpenSSL


@pytest.mark.openssl
def test_ecdsa_chain_verifies_with_openssl(openssl: str, p256: Pki) -> None:
    out = ossl(
        openssl, "verify", "-CAfile", p256.pem_path("root"), "-untrusted", p256.pem_path("ca"), p256.pem_path("leaf")
    )
    assert out.stdout.strip() == f"{p256.pem_path('leaf')}: OK"


@pytest.mark.openssl
def test_ecdsa_chain_passes_x509_strict_and_root_self_signature_check(openssl: str, p256: Pki) -> None:
    out = ossl(
        openssl,
        "verify",
        "-x509_strict",
        "-check_ss_sig",
        "-CAfile",
        p256.pem_path("root"),
        "-untrusted",
        p256.pem_path("ca"),
        p256.pem_path("leaf"),
    )
    assert out.stdout.strip().endswith(": OK")


@pytest.mark.openssl
def test_ecdsa_leaf_without_its_issuing_ca_does_not_verify(openssl: str, p256: Pki) -> None:
    out = ossl(openssl, "verify", "-CAfile", p256.pem_path("root"), p256.pem_path("leaf"), check=False)
    assert out.returncode != 0 and "unable to get local issuer certificate" in out.stdout + out.stderr


# ================================================================================================
# What `openssl x509 -text` shows


@pytest.mark.openssl
def test_openssl_text_shows_the_leaf_profile(openssl: str, pki: Pki) -> None:
    text = ossl(openssl, "x509", "-in", pki.pem_path("leaf"), "-text", "-noout", "-nameopt", "utf8").stdout
    sig_name = "SM2-with-SM3" if pki.alg is Algorithm.SM2 else "ecdsa-with-SHA256"
    assert text.count(f"Signature Algorithm: {sig_name}") == 2
    assert ("ASN1 OID: SM2" if pki.alg is Algorithm.SM2 else "ASN1 OID: prime256v1") in text
    assert re.search(r"X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation\n", text)
    assert re.search(r"X509v3 Basic Constraints: \n\s+CA:FALSE\n", text)  # present and not critical
    for url in pki.crl_urls:
        assert f"URI:{url}" in text
    assert f"Policy: {oids.DEFAULT_POLICY}" in text and f"CPS: {pki.cps_url}" in text
    ski = colon_hex(pki.keys["leaf"].public_key.key_identifier())
    aki = colon_hex(pki.keys["ca"].public_key.key_identifier())
    assert re.search(rf"X509v3 Subject Key Identifier: \n\s+{ski}\n", text)
    assert re.search(rf"X509v3 Authority Key Identifier: \n\s+(keyid:)?{aki}\n", text)
    assert f"organizationIdentifier={USCC}" in text and "O=深圳测试有限公司" in text
    assert "Version: 3 (0x2)" in text


@pytest.mark.openssl
def test_openssl_text_shows_ca_constraints_critical(openssl: str, pki: Pki) -> None:
    text = ossl(openssl, "x509", "-in", pki.pem_path("ca"), "-text", "-noout").stdout
    assert re.search(r"X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n", text)
    assert re.search(r"X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n", text)
    root = ossl(openssl, "x509", "-in", pki.pem_path("root"), "-text", "-noout").stdout
    assert re.search(r"X509v3 Basic Constraints: critical\n\s+CA:TRUE\n", root)


@pytest.mark.openssl
def test_openssl_reads_the_same_serial_and_validity(openssl: str, pki: Pki) -> None:
    for w in ("root", "ca", "leaf"):
        out = ossl(openssl, "x509", "-in", pki.pem_path(w), "-noout", "-serial", "-startdate", "-enddate").stdout
        fields = dict(line.split("=", 1) for line in out.strip().splitlines())
        assert int(fields["serial"], 16) == pki.serials[w]
        fmt = "%b %d %H:%M:%S %Y GMT"
        assert dt.datetime.strptime(" ".join(fields["notBefore"].split()), fmt).replace(tzinfo=UTC) == pki.not_before
        assert dt.datetime.strptime(" ".join(fields["notAfter"].split()), fmt).replace(tzinfo=UTC) == pki.not_after


@pytest.mark.openssl
def test_validity_past_2049_is_generalized_time_and_openssl_reads_it(openssl: str, tmp_path: Path) -> None:
    key = PrivateKey.generate(Algorithm.ECDSA)
    name = Name.build(CN="long-lived")
    nb = dt.datetime(2049, 12, 31, 0, 0, 0, tzinfo=UTC)
    na = dt.datetime(2051, 1, 1, 0, 0, 0, tzinfo=UTC)
    cert = X.sign_tbs(
        X.build_tbs(
            serial=X.random_serial(),
            signature_alg=Algorithm.ECDSA,
            issuer=name,
            subject=name,
            not_before=nb,
            not_after=na,
            public_key=key.public_key,
            extensions=[X.basic_constraints(False)],
        ),
        key,
    )
    path = tmp_path / "c.der"
    path.write_bytes(cert)
    listing = ossl(openssl, "asn1parse", "-inform", "DER", "-in", path).stdout
    assert ":491231000000Z" in listing and "UTCTIME" in listing
    assert ":20510101000000Z" in listing and "GENERALIZEDTIME" in listing
    out = ossl(openssl, "x509", "-inform", "DER", "-in", path, "-noout", "-startdate", "-enddate").stdout
    assert "notBefore=Dec 31 00:00:00 2049 GMT" in out and "notAfter=Jan  1 00:00:00 2051 GMT" in out
    parsed = Certificate.from_der(cert)
    assert (parsed.not_before, parsed.not_after) == (nb, na)


# ================================================================================================
# pyca/cryptography


def _crypto(pki: Pki, which: str) -> cx509.Certificate:
    return cx509.load_der_x509_certificate(pki.der[which])


def test_cryptography_reads_the_same_fields_from_ecdsa_certificates(p256: Pki) -> None:
    leaf, ca = _crypto(p256, "leaf"), _crypto(p256, "ca")
    assert leaf.serial_number == p256.serials["leaf"] and ca.serial_number == p256.serials["ca"]
    assert leaf.version is cx509.Version.v3
    assert leaf.signature_algorithm_oid.dotted_string == oids.ECDSA_WITH_SHA256
    assert leaf.not_valid_before_utc == p256.not_before and leaf.not_valid_after_utc == p256.not_after
    subj = {a.oid.dotted_string: a.value for a in leaf.subject}
    assert subj == {
        oids.COUNTRY: "CN",
        oids.ORGANIZATION: "深圳测试有限公司",
        oids.COMMON_NAME: "seal-holder",
        oids.ORGANIZATION_IDENTIFIER: USCC,
    }
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == USCC
    assert leaf.issuer == ca.subject
    assert (
        leaf.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        == p256.keys["leaf"].public_key.point
    )

    ku = leaf.extensions.get_extension_for_class(cx509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not (
        ku.value.key_encipherment
        or ku.value.key_cert_sign
        or ku.value.crl_sign
        or ku.value.data_encipherment
        or ku.value.key_agreement
    )
    bc = leaf.extensions.get_extension_for_class(cx509.BasicConstraints)
    assert not bc.critical and bc.value.ca is False
    ca_bc = ca.extensions.get_extension_for_class(cx509.BasicConstraints)
    assert ca_bc.critical and ca_bc.value.ca and ca_bc.value.path_length == 0
    ski = leaf.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value
    assert ski.digest == p256.keys["leaf"].public_key.key_identifier()
    assert ski == cx509.SubjectKeyIdentifier.from_public_key(leaf.public_key())
    aki = leaf.extensions.get_extension_for_class(cx509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ca.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier).value.digest
    cdp = leaf.extensions.get_extension_for_class(cx509.CRLDistributionPoints).value
    assert [[n.value for n in dp.full_name] for dp in cdp] == [[u] for u in p256.crl_urls]
    pols = leaf.extensions.get_extension_for_class(cx509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in pols] == [oids.DEFAULT_POLICY]
    assert pols[0].policy_qualifiers == [p256.cps_url]


def test_cryptography_verifies_the_ecdsa_chain(p256: Pki) -> None:
    root, ca, leaf = (_crypto(p256, w) for w in ("root", "ca", "leaf"))
    leaf.verify_directly_issued_by(ca)
    ca.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    ca.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(ValueError):
        leaf.verify_directly_issued_by(root)  # wrong issuer name


def test_cryptography_path_validation_accepts_the_ecdsa_chain(p256: Pki) -> None:
    from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store

    root, ca, leaf = (_crypto(p256, w) for w in ("root", "ca", "leaf"))
    verifier = (
        PolicyBuilder()
        .store(Store([root]))
        .time(dt.datetime.now(UTC))
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    verified = verifier.verify(leaf, [ca])
    assert [c.serial_number for c in verified.chain] == [p256.serials[w] for w in ("leaf", "ca", "root")]


def test_pyhanko_certvalidator_validates_ecdsa_chain_and_key_usage(p256: Pki) -> None:
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import InvalidCertificateError

    root, ca, leaf = (a1x509.Certificate.load(p256.der[w]) for w in ("root", "ca", "leaf"))
    ctx = ValidationContext(trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail")
    validator = CertificateValidator(leaf, intermediate_certs=[ca], validation_context=ctx)
    path = asyncio.run(validator.async_validate_usage({"digital_signature", "non_repudiation"}))
    assert path is not None
    wrong = CertificateValidator(leaf, intermediate_certs=[ca], validation_context=ctx)
    with pytest.raises(InvalidCertificateError, match="not valid for the purpose of key encipherment"):
        asyncio.run(wrong.async_validate_usage({"key_encipherment"}))


def test_cryptography_parses_sm2_certificate_structure(sm2: Pki) -> None:
    # cryptography cannot load SM2 keys, but it must parse everything else in our SM2 certificates.
    leaf = _crypto(sm2, "leaf")
    assert leaf.serial_number == sm2.serials["leaf"]
    assert leaf.signature_algorithm_oid.dotted_string == oids.SM2_WITH_SM3
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == USCC
    ku = leaf.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    cdp = leaf.extensions.get_extension_for_class(cx509.CRLDistributionPoints).value
    assert [n.value for dp in cdp for n in dp.full_name] == sm2.crl_urls


# ================================================================================================
# asn1crypto (an independent parser and DER encoder)


def test_asn1crypto_parses_every_certificate_and_re_encodes_it_identically(pki: Pki) -> None:
    for w in ("root", "ca", "leaf"):
        cert = a1x509.Certificate.load(pki.der[w])
        native = cert.native
        assert native["tbs_certificate"]["serial_number"] == pki.serials[w]
        # asn1crypto re-encodes from the parsed values with its own DER rules: any non-DER choice
        # of ours (length forms, SET order, DEFAULT values present) would change the bytes.
        assert a1x509.Certificate.load(pki.der[w]).dump(force=True) == pki.der[w]
    leaf = a1x509.Certificate.load(pki.der["leaf"])
    assert leaf["signature_algorithm"]["algorithm"].dotted == pki.alg.signature_oid
    assert leaf["tbs_certificate"]["signature"]["algorithm"].dotted == pki.alg.signature_oid
    assert leaf["tbs_certificate"]["signature"]["parameters"].native is None
    assert leaf.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert leaf.critical_extensions == {"key_usage"}
    assert [dp.url for dp in leaf.crl_distribution_points] == pki.crl_urls
    assert [p["policy_identifier"].dotted for p in leaf.certificate_policies_value] == [oids.DEFAULT_POLICY]
    assert leaf.subject.native["organization_identifier"] == USCC
    assert leaf.subject.native["organization_name"] == "深圳测试有限公司"
    assert leaf.key_identifier == pki.keys["leaf"].public_key.key_identifier()
    assert leaf.authority_key_identifier == pki.keys["ca"].public_key.key_identifier()
    spki = leaf["tbs_certificate"]["subject_public_key_info"]
    assert spki["algorithm"]["algorithm"].dotted == oids.EC_PUBLIC_KEY
    assert spki["algorithm"]["parameters"].chosen.dotted == pki.alg.curve_oid


def test_name_attributes_use_printable_string_for_country_and_utf8_elsewhere(pki: Pki) -> None:
    leaf = a1x509.Certificate.load(pki.der["leaf"])
    kinds = {}
    for rdn in leaf.subject.chosen:
        assert len(rdn) == 1  # one attribute per RDN
        atv = rdn[0]
        kinds[atv["type"].dotted] = atv["value"].name
    assert kinds == {
        oids.COUNTRY: "printable_string",
        oids.ORGANIZATION: "utf8_string",
        oids.COMMON_NAME: "utf8_string",
        oids.ORGANIZATION_IDENTIFIER: "utf8_string",
    }


# ================================================================================================
# Our parser reads back what the builder wrote, and what OpenSSL wrote


def test_certificate_parser_reads_back_the_built_fields(pki: Pki) -> None:
    leaf, ca, root = (Certificate.from_der(pki.der[w]) for w in ("leaf", "ca", "root"))
    assert leaf.serial == pki.serials["leaf"]
    assert leaf.subject == pki.names["leaf"] and leaf.issuer == pki.names["ca"]
    assert leaf.subject.get(oids.ORGANIZATION_IDENTIFIER) == USCC
    assert leaf.issuer_der == ca.subject_der
    assert (leaf.not_before, leaf.not_after) == (pki.not_before, pki.not_after)
    assert leaf.signature_algorithm == pki.alg.signature_oid
    assert leaf.public_key == pki.keys["leaf"].public_key
    assert leaf.key_usage == {"digitalSignature", "nonRepudiation"}
    assert ca.key_usage == root.key_usage == {"keyCertSign", "cRLSign"}
    assert leaf.crl_urls == tuple(pki.crl_urls)
    assert leaf.policies == (oids.DEFAULT_POLICY,)
    assert leaf.subject_key_id == pki.keys["leaf"].public_key.key_identifier()
    assert leaf.authority_key_id == ca.subject_key_id
    assert not leaf.is_ca and ca.is_ca and root.is_ca
    assert leaf.extension(oids.KEY_USAGE).critical and not leaf.extension(oids.CRL_DISTRIBUTION_POINTS).critical
    assert leaf.verify_signature(pki.keys["ca"].public_key)
    assert not leaf.verify_signature(pki.keys["root"].public_key)
    assert ca.verify_signature(pki.keys["root"].public_key) and root.verify_signature(pki.keys["root"].public_key)
    assert Certificate.load(pki.pem_path("leaf").read_bytes()).der == pki.der["leaf"]
    assert Certificate.load(pki.der["leaf"]).pem() == pki.pem_path("leaf").read_text()


def test_certificate_signature_does_not_verify_under_the_other_algorithm(pkis: dict[Algorithm, Pki]) -> None:
    sm2_leaf = Certificate.from_der(pkis[Algorithm.SM2].der["leaf"])
    assert not sm2_leaf.verify_signature(pkis[Algorithm.ECDSA].keys["ca"].public_key)


@pytest.mark.openssl
def test_certificate_parser_reads_openssl_self_signed_certificates(openssl: str, pki: Pki, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    ossl(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{CURVE[pki.alg]}", "-out", key)
    cert = tmp_path / "c.pem"
    ossl(openssl, "req", "-x509", "-new", "-key", key, *DGST[pki.alg], "-subj", CSR_SUBJ, "-days", "30", "-out", cert)
    parsed = Certificate.load(cert.read_bytes())
    own = PublicKey.from_pem(ossl(openssl, "pkey", "-in", key, "-pubout").stdout)
    assert parsed.public_key == own
    assert parsed.verify_signature(own)
    assert parsed.subject.get(oids.ORGANIZATION_IDENTIFIER) == USCC and parsed.subject.get(oids.COMMON_NAME) == "x"
    serial = ossl(openssl, "x509", "-in", cert, "-noout", "-serial").stdout.strip().split("=")[1]
    assert parsed.serial == int(serial, 16)
    assert parsed.is_ca  # openssl req -x509 adds basicConstraints CA:TRUE


@pytest.mark.openssl
def test_openssl_sm2_certificate_signed_with_empty_id_does_not_verify(openssl: str, tmp_path: Path) -> None:
    # verify_signature uses the GM/T 0009 ID only; an OpenSSL 3.0 default (empty-ID) signature is refused.
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    ossl(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", key)
    ossl(openssl, "req", "-x509", "-new", "-key", key, "-sm3", "-subj", "/CN=empty-id", "-days", "1", "-out", cert)
    parsed = Certificate.load(cert.read_bytes())
    assert not parsed.verify_signature(parsed.public_key)
    assert parsed.public_key.verify(parsed.tbs, parsed.signature, sm2_uid=b"")


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "malformed certificate"),
        (b"\x30\x03\x02\x01", "malformed certificate"),
        (b"garbage", "malformed certificate"),
        (b"-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n", "not a PEM certificate"),
    ],
)
def test_bad_certificate_input_is_a_certificate_error(data: bytes, message: str) -> None:
    with pytest.raises(CertificateError, match=message):
        Certificate.load(data)


def test_truncated_certificate_is_a_certificate_error(p256: Pki) -> None:
    for n in (1, 4, 100, len(p256.der["leaf"]) - 1):
        with pytest.raises(CertificateError, match="malformed certificate"):
            Certificate.from_der(p256.der["leaf"][:n])


# ================================================================================================
# Serial numbers and builder arguments


def test_random_serials_are_positive_at_least_64_bits_and_distinct() -> None:
    serials = [X.random_serial() for _ in range(1000)]
    assert len(set(serials)) == 1000
    assert len({s & (2**64 - 1) for s in serials}) == 1000  # the low 64 bits alone are distinct
    for s in serials:
        assert s > 0 and 64 <= s.bit_length() <= 159
        enc = der.integer(s)
        assert len(enc) - 2 <= 20 and enc[2] < 0x80  # RFC 5280 §4.1.2.2: positive, at most 20 octets


@pytest.mark.parametrize("serial", [0, -1, 2**159])
def test_build_tbs_refuses_serials_outside_rfc5280(serial: int, p256: Pki) -> None:
    with pytest.raises(CertificateError, match="serial number"):
        X.build_tbs(
            serial=serial,
            signature_alg=Algorithm.ECDSA,
            issuer=p256.names["root"],
            subject=p256.names["leaf"],
            not_before=p256.not_before,
            not_after=p256.not_after,
            public_key=p256.keys["leaf"].public_key,
            extensions=[],
        )


@pytest.mark.openssl
def test_twenty_octet_serial_is_accepted_and_read_by_openssl(openssl: str, p256: Pki, tmp_path: Path) -> None:
    serial = 2**159 - 1
    tbs = X.build_tbs(
        serial=serial,
        signature_alg=Algorithm.ECDSA,
        issuer=p256.names["ca"],
        subject=p256.names["leaf"],
        not_before=p256.not_before,
        not_after=p256.not_after,
        public_key=p256.keys["leaf"].public_key,
        extensions=[X.basic_constraints(False)],
    )
    path = tmp_path / "c.der"
    path.write_bytes(X.sign_tbs(tbs, p256.keys["ca"]))
    out = ossl(openssl, "x509", "-inform", "DER", "-in", path, "-noout", "-serial").stdout
    assert int(out.strip().split("=")[1], 16) == serial


def test_build_tbs_refuses_not_after_before_not_before(p256: Pki) -> None:
    with pytest.raises(CertificateError, match="notAfter"):
        X.build_tbs(
            serial=1,
            signature_alg=Algorithm.ECDSA,
            issuer=p256.names["root"],
            subject=p256.names["leaf"],
            not_before=p256.not_after,
            not_after=p256.not_before,
            public_key=p256.keys["leaf"].public_key,
            extensions=[],
        )


@pytest.mark.parametrize(
    "bits,encoding",
    [
        ((X.KU_DIGITAL_SIGNATURE, X.KU_NON_REPUDIATION), "030206c0"),
        ((X.KU_KEY_CERT_SIGN, X.KU_CRL_SIGN), "03020106"),
        ((X.KU_DIGITAL_SIGNATURE,), "03020780"),
        ((8,), "0303070080"),  # decipherOnly lives in the second octet
    ],
)
def test_key_usage_bit_string_is_der_minimal(bits: tuple[int, ...], encoding: str) -> None:
    # X.690 §11.2.2: named bit lists drop trailing zero bits; the unused-bits count says how many.
    ext = der.parse(X.key_usage(*bits)).children()
    assert ext[0].as_oid() == oids.KEY_USAGE and ext[1].as_bool() is True
    assert ext[2].as_bytes().hex() == encoding


# ================================================================================================
# Certification requests: OpenSSL-made ones in, ours out


@pytest.fixture(scope="module")
def openssl_keys(openssl: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("csrkeys")
    specs = {
        "sm2": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2"],
        "p256": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        "p384": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp384r1"],
        "rsa": ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
        "ed25519": ["genpkey", "-algorithm", "ED25519"],
    }
    out = {}
    for name, cmd in specs.items():
        out[name] = d / f"{name}.pem"
        ossl(openssl, *cmd, "-out", out[name])
    return out


def openssl_csr(openssl: str, key: Path, out: Path, *opts: str, subj: str = CSR_SUBJ) -> bytes:
    ossl(openssl, "req", "-new", "-key", key, *opts, "-subj", subj, "-out", out)
    return out.read_bytes()


def _check_csr_subject_and_key(openssl: str, req: CertificationRequest, key: Path) -> None:
    assert req.subject.get(oids.COUNTRY) == "CN"
    assert req.subject.get(oids.ORGANIZATION) == "Test"
    assert req.subject.get(oids.COMMON_NAME) == "x"
    assert req.subject.get(oids.ORGANIZATION_IDENTIFIER) == USCC
    assert req.public_key == PublicKey.from_pem(ossl(openssl, "pkey", "-in", key, "-pubout").stdout)


@pytest.mark.openssl
def test_openssl_sm2_csr_with_distid_loads_with_subject_and_key(openssl: str, openssl_keys, tmp_path: Path) -> None:
    pem = openssl_csr(openssl, openssl_keys["sm2"], tmp_path / "r.pem", "-sm3", "-sigopt", DISTID)
    req = CertificationRequest.load(pem)
    _check_csr_subject_and_key(openssl, req, openssl_keys["sm2"])
    assert req.public_key.algorithm is Algorithm.SM2 and req.signature_algorithm == oids.SM2_WITH_SM3
    assert req.public_key.verify(req.info, req.signature)  # made with the GM/T 0009 ID
    ossl(openssl, "req", "-in", tmp_path / "r.pem", "-outform", "DER", "-out", tmp_path / "r.der")
    assert CertificationRequest.load((tmp_path / "r.der").read_bytes()).der == req.der


@pytest.mark.openssl
def test_openssl_sm2_csr_with_empty_id_is_accepted_as_proof_of_possession(
    openssl: str, openssl_keys, tmp_path: Path
) -> None:
    pem = openssl_csr(openssl, openssl_keys["sm2"], tmp_path / "r.pem", "-sm3")
    req = CertificationRequest.load(pem)
    _check_csr_subject_and_key(openssl, req, openssl_keys["sm2"])
    assert not req.public_key.verify(req.info, req.signature)  # it really is the empty-ID signature
    assert req.public_key.verify(req.info, req.signature, sm2_uid=b"")
    assert req.proof_of_possession()


@pytest.mark.openssl
def test_openssl_p256_csr_loads_with_subject_and_key(openssl: str, openssl_keys, tmp_path: Path) -> None:
    req = CertificationRequest.load(openssl_csr(openssl, openssl_keys["p256"], tmp_path / "r.pem", "-sha256"))
    _check_csr_subject_and_key(openssl, req, openssl_keys["p256"])
    assert req.public_key.algorithm is Algorithm.ECDSA and req.signature_algorithm == oids.ECDSA_WITH_SHA256


@pytest.mark.openssl
def test_openssl_csr_requested_extensions_are_exposed(openssl: str, openssl_keys, tmp_path: Path) -> None:
    pem = openssl_csr(
        openssl,
        openssl_keys["p256"],
        tmp_path / "r.pem",
        "-sha256",
        "-addext",
        "keyUsage=critical,digitalSignature,nonRepudiation",
    )
    req = CertificationRequest.load(pem)
    ku = [e for e in req.requested_extensions if e.oid == oids.KEY_USAGE]
    assert len(ku) == 1 and ku[0].critical and ku[0].value == bytes.fromhex("030206c0")


@pytest.mark.openssl
def test_build_csr_is_accepted_by_openssl_req_verify(openssl: str, alg: Algorithm, tmp_path: Path) -> None:
    key = PrivateKey.generate(alg)
    subject = Name.build(C="CN", O="深圳测试有限公司", CN="x", organizationIdentifier=USCC)
    pem = build_csr(key, subject)
    path = tmp_path / "r.pem"
    path.write_text(pem)
    vfy = ["-vfyopt", DISTID] if alg is Algorithm.SM2 else []
    out = ossl(openssl, "req", "-in", path, "-verify", "-noout", *vfy)
    assert "verify OK" in out.stdout + out.stderr
    text = ossl(openssl, "req", "-in", path, "-noout", "-text", "-nameopt", "utf8").stdout
    assert f"organizationIdentifier={USCC}" in text and "O=深圳测试有限公司" in text
    assert ("SM2-with-SM3" if alg is Algorithm.SM2 else "ecdsa-with-SHA256") in text
    pub = ossl(openssl, "req", "-in", path, "-noout", "-pubkey").stdout
    assert pub == key.public_key.pem()
    req = CertificationRequest.load(pem.encode())
    assert req.subject == subject and req.public_key == key.public_key


@pytest.mark.openssl
def test_sm2_build_csr_fails_openssl_req_verify_without_distid(openssl: str, tmp_path: Path) -> None:
    path = tmp_path / "r.pem"
    path.write_text(build_csr(PrivateKey.generate(Algorithm.SM2), Name.build(CN="x")))
    out = ossl(openssl, "req", "-in", path, "-verify", "-noout", check=False)
    # OpenSSL 3.0 `req -verify` exits 0 even when the self-signature fails: read the message.
    assert "self-signature verify failure" in out.stdout + out.stderr
    assert "verify OK" not in out.stdout + out.stderr


@pytest.fixture(scope="module", params=ALGS, ids=lambda a: a.value)
def alg(request: pytest.FixtureRequest) -> Algorithm:
    return request.param


def _csr_der(key: PrivateKey, cn: str = "seal-holder") -> bytes:
    return der.pem_to_der(build_csr(key, Name.build(C="CN", CN=cn, organizationIdentifier=USCC)))


def test_csr_with_a_flipped_signature_byte_fails_proof_of_possession(alg: Algorithm) -> None:
    raw = _csr_der(PrivateKey.generate(alg))
    CertificationRequest.load(raw)
    for pos in (len(raw) - 1, len(raw) - 10):  # inside s
        bad = raw[:pos] + bytes([raw[pos] ^ 0x01]) + raw[pos + 1 :]
        with pytest.raises(CertificateError, match="proof of possession"):
            CertificationRequest.load(bad)


def test_csr_with_a_flipped_subject_byte_fails_proof_of_possession(alg: Algorithm) -> None:
    raw = _csr_der(PrivateKey.generate(alg))
    bad = raw.replace(b"seal-holder", b"seal-holdeR", 1)
    assert bad != raw
    with pytest.raises(CertificateError, match="proof of possession"):
        CertificationRequest.load(bad)


def test_csr_with_another_keys_spki_fails_proof_of_possession(alg: Algorithm) -> None:
    signer, other = PrivateKey.generate(alg), PrivateKey.generate(alg)
    info = der.seq(
        der.integer(0), Name.build(CN="x").der(), other.public_key.spki(), der.implicit(0, b"", constructed=True)
    )
    raw = der.seq(info, signature_algorithm_identifier(alg), der.bit_string(signer.sign(info)))
    with pytest.raises(CertificateError, match="proof of possession"):
        CertificationRequest.load(raw)


@pytest.mark.openssl
@pytest.mark.parametrize(
    "name,opts,needle",
    [
        ("rsa", ["-sha256"], "1.2.840.113549.1.1.1"),
        ("p384", ["-sha256"], "unsupported curve secp384r1 (1.3.132.0.34)"),
        ("ed25519", [], "1.3.101.112"),
    ],
)
def test_csr_with_unsupported_key_is_refused_naming_the_key_or_curve(
    openssl: str, openssl_keys, tmp_path: Path, name: str, opts: list[str], needle: str
) -> None:
    pem = openssl_csr(openssl, openssl_keys[name], tmp_path / "r.pem", *opts)
    with pytest.raises(CertificateError) as exc:
        CertificationRequest.load(pem)
    assert needle in str(exc.value) and "certificate request key" in str(exc.value)


@pytest.mark.openssl
def test_csr_with_unsupported_signature_algorithm_is_refused(openssl: str, openssl_keys, tmp_path: Path) -> None:
    pem = openssl_csr(openssl, openssl_keys["p256"], tmp_path / "r.pem", "-sha384")
    with pytest.raises(CertificateError, match=r"unsupported algorithm 1\.2\.840\.10045\.4\.3\.3"):
        CertificationRequest.load(pem)


@pytest.mark.parametrize("key_alg,sig_alg", [(Algorithm.SM2, Algorithm.ECDSA), (Algorithm.ECDSA, Algorithm.SM2)])
def test_csr_whose_signature_algorithm_does_not_match_its_key_is_refused(
    key_alg: Algorithm, sig_alg: Algorithm
) -> None:
    key = PrivateKey.generate(key_alg)
    info = der.seq(
        der.integer(0), Name.build(CN="x").der(), key.public_key.spki(), der.implicit(0, b"", constructed=True)
    )
    raw = der.seq(info, signature_algorithm_identifier(sig_alg), der.bit_string(key.sign(info)))
    with pytest.raises(CertificateError) as exc:
        CertificationRequest.load(raw)
    assert f"carries a {key_alg.label} key but is signed with {sig_alg.label}" in str(exc.value)


@pytest.fixture(scope="module")
def sample_csr() -> bytes:
    return _csr_der(PrivateKey.generate(Algorithm.ECDSA))


@pytest.mark.parametrize(
    "case,message",
    [
        ("empty", "certificate request is empty"),
        ("whitespace", "certificate request is empty"),
        ("garbage", "malformed certificate request"),
        ("certificate PEM", "not a PEM certificate request"),
        ("certificate DER", "malformed certificate request"),
        ("truncated DER", "malformed certificate request"),
        ("trailing bytes", "trailing bytes"),
        ("PEM bad base64", "not a PEM certificate request"),
        ("PEM without END", "not a PEM certificate request"),
        ("version 2", "version 2 is not v1"),
        ("private key PEM", "not a PEM certificate request"),
    ],
)
def test_bad_csr_input_is_a_certificate_error_with_a_clear_message(
    case: str, message: str, sample_csr: bytes, pkis: dict[Algorithm, Pki]
) -> None:
    cert = pkis[Algorithm.ECDSA].der["leaf"]
    pem = der.der_to_pem(sample_csr, "CERTIFICATE REQUEST")
    data = {
        "empty": b"",
        "whitespace": b"  \n\t",
        "garbage": b"this is not a certificate request",
        "certificate PEM": der.der_to_pem(cert, "CERTIFICATE").encode(),
        "certificate DER": cert,
        "truncated DER": sample_csr[:-20],
        "trailing bytes": sample_csr + b"\x00\x00",
        "PEM bad base64": pem.replace(pem.splitlines()[1], "!!!!" + pem.splitlines()[1][4:]).encode(),
        "PEM without END": pem.split("-----END")[0].encode(),
        "version 2": sample_csr.replace(b"\x02\x01\x00", b"\x02\x01\x01", 1),
        "private key PEM": PrivateKey.generate(Algorithm.ECDSA).pem().encode(),
    }[case]
    with pytest.raises(CertificateError) as exc:
        CertificationRequest.load(data)
    assert message in str(exc.value)


def test_csr_pem_with_the_legacy_new_certificate_request_label_loads(sample_csr: bytes) -> None:
    req = CertificationRequest.load(der.der_to_pem(sample_csr, "NEW CERTIFICATE REQUEST").encode())
    assert req.der == sample_csr


def test_csr_with_empty_key_algorithm_identifier_is_refused_cleanly() -> None:
    key = PrivateKey.generate(Algorithm.ECDSA)
    spki = der.seq(der.seq(), der.bit_string(key.public_key.point))
    info = der.seq(der.integer(0), Name.build(CN="x").der(), spki, der.implicit(0, b"", constructed=True))
    raw = der.seq(info, signature_algorithm_identifier(Algorithm.ECDSA), der.bit_string(key.sign(info)))
    with pytest.raises(CertificateError, match="certificate request key"):
        CertificationRequest.load(raw)


_MUTATION_CSRS: dict[str, bytes] = {}


def _csr_for_mutation(kind: str) -> bytes:
    if kind not in _MUTATION_CSRS:
        _MUTATION_CSRS[kind] = _csr_der(PrivateKey.generate(Algorithm(kind)))
    return _MUTATION_CSRS[kind]


@st.composite
def _mutated_csr(draw: st.DrawFn) -> bytes:
    buf = bytearray(_csr_for_mutation(draw(st.sampled_from(["sm2", "ecdsa"]))))
    for _ in range(draw(st.integers(1, 3))):
        if not buf:
            break
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        i = draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            buf[i] = draw(st.sampled_from([0x00, 0x01, 0x30, 0x80, 0x81, 0xFF]))
        elif op == "cut":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=3))
        else:
            del buf[i : i + draw(st.integers(1, 3))]
    return bytes(buf)


@PROPERTY
@given(_mutated_csr())
def test_mutated_csr_loads_or_raises_certificate_error(data: bytes) -> None:
    try:
        req = CertificationRequest.load(data)
    except CertificateError as exc:
        assert str(exc)
        return
    assert req.proof_of_possession()  # anything that loads really is self-signed


@PROPERTY
@given(st.binary(max_size=300))
def test_random_bytes_as_csr_raise_certificate_error(data: bytes) -> None:
    with pytest.raises(CertificateError):
        CertificationRequest.load(data)
