"""X.509 v3 certificates (RFC 5280, GM/T 0015 profile for SM2) and PKCS#10 requests (RFC 2986).

Certificates are assembled from DER pieces and signed by any :class:`~registry.pki.keys.Signer`,
because ``cryptography`` cannot sign with SM2. The same code path serves the ECDSA hierarchy, so
both hierarchies have one profile. Parsing keeps the exact TBS bytes for signature checks.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from functools import cached_property

from ..messages import Localized, M
from . import der as _der  # "der" is also a field and a method name in the classes below
from . import oids
from .keys import (
    Algorithm,
    KeyFormatError,
    PublicKey,
    Signer,
    algorithm_for_signature_oid,
    signature_algorithm_identifier,
)


class CertificateError(Localized, ValueError):
    """A certificate or certificate request is malformed or fails a check; the message says which."""


# ----------------------------------------------------------------------------------------------
# Names

_ATTR_LABELS = {
    oids.COMMON_NAME: "CN",
    oids.SERIAL_NUMBER: "serialNumber",
    oids.COUNTRY: "C",
    oids.LOCALITY: "L",
    oids.STATE: "ST",
    oids.ORGANIZATION: "O",
    oids.ORGANIZATIONAL_UNIT: "OU",
    oids.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}
_PRINTABLE_ATTRS = {oids.COUNTRY, oids.SERIAL_NUMBER}


@dataclass(frozen=True)
class Name:
    """A distinguished name as an ordered sequence of (attribute OID, value), one per RDN."""

    attributes: tuple[tuple[str, str], ...]

    @classmethod
    def build(cls, **kw: str) -> Name:
        """``Name.build(C="CN", O="...", CN="...")`` in the order given."""
        by_label = {v: k for k, v in _ATTR_LABELS.items()}
        return cls(tuple((by_label[k], v) for k, v in kw.items() if v))

    def der(self) -> bytes:
        rdns = []
        for attr, value in self.attributes:
            enc = _der.printable(value) if attr in _PRINTABLE_ATTRS else _der.utf8(value)
            rdns.append(_der.set_of(_der.seq(_der.oid(attr), enc)))
        return _der.seq(*rdns)

    @classmethod
    def from_node(cls, node: _der.Node) -> Name:
        attrs = []
        for rdn in node.children():
            for atv in rdn.children():
                oid_node, value = atv.children()
                try:
                    text = value.as_str()
                except _der.DERError:
                    text = value.content.hex()
                attrs.append((oid_node.as_oid(), text))
        return cls(tuple(attrs))

    def get(self, attr_oid: str) -> str | None:
        for a, v in self.attributes:
            if a == attr_oid:
                return v
        return None

    def __str__(self) -> str:  # RFC 4514 order is reversed; we show it as written, like OpenSSL
        return self._text

    @cached_property
    def _text(self) -> str:  # names of cached certificates are shown in every verification report
        return ", ".join(f"{_ATTR_LABELS.get(a, a)}={v}" for a, v in self.attributes)


# ----------------------------------------------------------------------------------------------
# Extensions (RFC 5280 §4.2)


def extension(ext_oid: str, value: bytes, critical: bool = False) -> bytes:
    parts = [_der.oid(ext_oid)]
    if critical:
        parts.append(_der.boolean(True))  # DEFAULT FALSE is omitted in DER
    parts.append(_der.octet_string(value))
    return _der.seq(*parts)


def basic_constraints(ca: bool, path_len: int | None = None) -> bytes:
    """§4.2.1.9; critical in CA certificates, present (empty) and non-critical in end entities."""
    body = []
    if ca:
        body.append(_der.boolean(True))
        if path_len is not None:
            body.append(_der.integer(path_len))
    return extension(oids.BASIC_CONSTRAINTS, _der.seq(*body), critical=ca)


KU_DIGITAL_SIGNATURE = 0
KU_NON_REPUDIATION = 1
KU_KEY_ENCIPHERMENT = 2
KU_KEY_CERT_SIGN = 5
KU_CRL_SIGN = 6
_KU_NAMES = {
    0: "digitalSignature",
    1: "nonRepudiation",
    2: "keyEncipherment",
    3: "dataEncipherment",
    4: "keyAgreement",
    5: "keyCertSign",
    6: "cRLSign",
    7: "encipherOnly",
    8: "decipherOnly",
}


def key_usage(*bits: int) -> bytes:
    """§4.2.1.3 KeyUsage BIT STRING, DER-minimal (trailing zero bits dropped), always critical."""
    value = 0
    for b in bits:
        value |= 1 << (15 - b)
    raw = value.to_bytes(2, "big").rstrip(b"\x00") or b"\x00"
    last = raw[-1]
    unused = (last & -last).bit_length() - 1 if last else 0
    return extension(oids.KEY_USAGE, _der.bit_string(raw, unused), critical=True)


def subject_key_identifier(kid: bytes) -> bytes:
    return extension(oids.SUBJECT_KEY_IDENTIFIER, _der.octet_string(kid))


def authority_key_identifier(kid: bytes) -> bytes:
    return extension(oids.AUTHORITY_KEY_IDENTIFIER, _der.seq(_der.implicit(0, kid)))


def _general_name_uri(url: str) -> bytes:
    return _der.implicit(6, url.encode("ascii"))  # uniformResourceIdentifier [6] IA5String


def _distribution_points(urls: list[str]) -> bytes:
    # DistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] GeneralNames } }
    points = [_der.seq(_der.explicit(0, _der.implicit(0, _general_name_uri(u), constructed=True))) for u in urls]
    return _der.seq(*points)


def crl_distribution_points(urls: list[str]) -> bytes:
    """§4.2.1.13: one DistributionPoint per URL (full CRL and the certificate's shard)."""
    return extension(oids.CRL_DISTRIBUTION_POINTS, _distribution_points(urls))


def freshest_crl(urls: list[str]) -> bytes:
    """§4.2.1.15: where the delta CRLs are; same syntax as CRL distribution points."""
    return extension(oids.FRESHEST_CRL, _distribution_points(urls))


def authority_info_access(ocsp_url: str | None, ca_issuers_url: str | None) -> bytes:
    """§4.2.2.1."""
    descs = []
    if ocsp_url:
        descs.append(_der.seq(_der.oid(oids.AD_OCSP), _general_name_uri(ocsp_url)))
    if ca_issuers_url:
        descs.append(_der.seq(_der.oid(oids.AD_CA_ISSUERS), _general_name_uri(ca_issuers_url)))
    return extension(oids.AUTHORITY_INFO_ACCESS, _der.seq(*descs))


def certificate_policies(policy_oid: str, cps_url: str | None = None) -> bytes:
    """§4.2.1.4 with an optional CPS pointer qualifier (id-qt-cps 1.3.6.1.5.5.7.2.1)."""
    info = [_der.oid(policy_oid)]
    if cps_url:
        info.append(_der.seq(_der.seq(_der.oid("1.3.6.1.5.5.7.2.1"), _der.ia5(cps_url))))
    return extension(oids.CERTIFICATE_POLICIES, _der.seq(_der.seq(*info)))


# ----------------------------------------------------------------------------------------------
# Building


def random_serial() -> int:
    """RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/B BR: at least 64 bits of CSPRNG output.
    We use 127 random bits with the top bit forced so every serial is 16 octets long."""
    return int.from_bytes(os.urandom(16), "big") >> 1 | (1 << 126)


def build_tbs(
    *,
    serial: int,
    signature_alg: Algorithm,
    issuer: Name | bytes,
    subject: Name,
    not_before: dt.datetime,
    not_after: dt.datetime,
    public_key: PublicKey,
    extensions: list[bytes],
) -> bytes:
    if serial <= 0 or serial.bit_length() > 159:
        raise CertificateError(
            M(
                "x509.serial_number_positive_most",
                "serial number must be positive and at most 20 octets",
                "序列号必须为正数且不超过 20 个字节",
            )
        )
    if not_after <= not_before:
        raise CertificateError(
            M(
                "x509.notafter_later_than_notbefore",
                "notAfter must be later than notBefore",
                "notAfter 必须晚于 notBefore",
            )
        )
    issuer_der = issuer if isinstance(issuer, bytes) else issuer.der()
    return _der.seq(
        _der.explicit(0, _der.integer(2)),  # v3
        _der.integer(serial),
        signature_algorithm_identifier(signature_alg),
        issuer_der,
        _der.seq(_der.x509_time(not_before), _der.x509_time(not_after)),
        subject.der(),
        public_key.spki(),
        _der.explicit(3, _der.seq(*extensions)),
    )


def sign_tbs(tbs: bytes, signer: Signer) -> bytes:
    """Certificate / CertificateList / OCSP shape: SEQUENCE { tbs, algorithm, BIT STRING signature }."""
    return _der.seq(tbs, signature_algorithm_identifier(signer.algorithm), _der.bit_string(signer.sign(tbs)))


# ----------------------------------------------------------------------------------------------
# Parsing


@dataclass(frozen=True)
class Extension:
    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class Certificate:
    der: bytes
    tbs: bytes
    serial: int
    signature_algorithm: str
    signature: bytes
    issuer: Name
    issuer_der: bytes
    subject: Name
    subject_der: bytes
    not_before: dt.datetime
    not_after: dt.datetime
    spki: bytes
    extensions: tuple[Extension, ...] = field(default=())

    @classmethod
    def from_der(cls, data: bytes) -> Certificate:
        """Parse a DER certificate. Parsed certificates are immutable and shared: the same bytes
        give the same object (a bounded per-process cache; verifiers see the same few CA and
        seal-maker certificates in every request)."""
        if type(data) is bytes and cls is Certificate:
            return _parse_cached(data)
        return cls._parse(data)

    @classmethod
    def _parse(cls, data: bytes) -> Certificate:
        try:
            top = _der.parse(bytes(data))
            tbs_node, alg_node, sig_node = top.children()
            parts = tbs_node.children()
            i = 0
            if parts[0].is_context(0):
                version = parts[0].children()[0].as_int()
                i = 1
                if version not in (0, 1, 2):
                    raise CertificateError(
                        M(
                            "x509.unknown_certificate_version",
                            "unknown certificate version {value}",
                            "未知的证书版本 {value}",
                        ),
                        value=version + 1,
                    )
            serial = parts[i].as_int()
            issuer_node, validity, subject_node, spki_node = parts[i + 2], parts[i + 3], parts[i + 4], parts[i + 5]
            nb, na = validity.children()
            exts: list[Extension] = []
            for p in parts[i + 6 :]:
                if p.is_context(3):
                    for e in p.children()[0].children():
                        ec = e.children()
                        critical = len(ec) == 3 and ec[1].as_bool()
                        exts.append(Extension(ec[0].as_oid(), critical, ec[-1].as_bytes()))
            cert = cls(
                der=top.raw,
                tbs=tbs_node.raw,
                serial=serial,
                signature_algorithm=alg_node.children()[0].as_oid(),
                signature=sig_node.as_bit_string(),
                issuer=Name.from_node(issuer_node),
                issuer_der=issuer_node.raw,
                subject=Name.from_node(subject_node),
                subject_der=subject_node.raw,
                not_before=nb.as_time(),
                not_after=na.as_time(),
                spki=spki_node.raw,
                extensions=tuple(exts),
            )
            # The extensions we act on are decoded now, so a malformed one makes the certificate
            # unreadable here instead of failing later, deep inside a chain check (RFC 5280 §4.2).
            for what in (
                "is_ca",
                "key_usage",
                "subject_key_id",
                "authority_key_id",
                "crl_urls",
                "freshest_crl_urls",
                "policies",
            ):
                try:
                    getattr(cert, what)
                except (_der.DERError, ValueError, IndexError, AttributeError) as exc:
                    raise CertificateError(
                        M(
                            "x509.malformed_extension",
                            "malformed {replace} extension: {exc}",
                            "{replace} 扩展格式错误：{exc}",
                        ),
                        replace=what.replace("_", " "),
                        exc=exc,
                    ) from None
            return cert
        except (_der.DERError, ValueError, IndexError) as exc:
            if isinstance(exc, CertificateError):
                raise
            raise CertificateError(
                M("x509.malformed_certificate", "malformed certificate: {exc}", "证书格式错误：{exc}"), exc=exc
            ) from None

    @classmethod
    def from_pem(cls, text: str | bytes) -> Certificate:
        try:
            return cls.from_der(_der.pem_to_der(text, "CERTIFICATE"))
        except _der.DERError as exc:
            raise CertificateError(
                M("x509.pem_certificate", "not a PEM certificate: {exc}", "不是 PEM 证书：{exc}"), exc=exc
            ) from None

    @classmethod
    def load(cls, data: bytes) -> Certificate:
        """DER or PEM, whichever ``data`` is."""
        return cls.from_pem(data) if data.lstrip().startswith(b"-----") else cls.from_der(data)

    def pem(self) -> str:
        return _der.der_to_pem(self.der, "CERTIFICATE")

    @cached_property
    def public_key(self) -> PublicKey:
        try:
            return PublicKey.from_spki(self.spki)
        except KeyFormatError as exc:
            raise CertificateError(
                M("x509.certificate_key", "certificate key: {exc}", "证书密钥：{exc}"), exc=exc
            ) from None

    def extension(self, ext_oid: str) -> Extension | None:
        for e in self.extensions:
            if e.oid == ext_oid:
                return e
        return None

    @cached_property
    def is_ca(self) -> bool:
        e = self.extension(oids.BASIC_CONSTRAINTS)
        if e is None:
            return False
        parts = _der.parse(e.value).children()
        return bool(parts) and parts[0].is_universal(_der.BOOLEAN) and parts[0].as_bool()

    @cached_property
    def key_usage(self) -> frozenset[str]:
        e = self.extension(oids.KEY_USAGE)
        if e is None:
            return frozenset()
        bits = _der.parse(e.value).as_bit_string()
        value = int.from_bytes(bits, "big") if bits else 0
        n = len(bits) * 8
        return frozenset(name for b, name in _KU_NAMES.items() if b < n and value >> (n - 1 - b) & 1)

    @cached_property
    def subject_key_id(self) -> bytes | None:
        e = self.extension(oids.SUBJECT_KEY_IDENTIFIER)
        return _der.parse(e.value).as_bytes() if e else None

    @cached_property
    def authority_key_id(self) -> bytes | None:
        e = self.extension(oids.AUTHORITY_KEY_IDENTIFIER)
        if e is None:
            return None
        for p in _der.parse(e.value).children():
            if p.is_context(0):
                return p.content
        return None

    @cached_property
    def crl_urls(self) -> tuple[str, ...]:
        return self._dp_urls(oids.CRL_DISTRIBUTION_POINTS)

    @cached_property
    def freshest_crl_urls(self) -> tuple[str, ...]:
        return self._dp_urls(oids.FRESHEST_CRL)

    def _dp_urls(self, ext_oid: str) -> tuple[str, ...]:
        e = self.extension(ext_oid)
        if e is None:
            return ()
        urls = []
        for dp in _der.parse(e.value).children():
            for part in dp.children():
                if part.is_context(0):
                    for full in part.children():
                        if full.is_context(0):
                            for gn in full.children():
                                if gn.is_context(6):
                                    urls.append(gn.content.decode("ascii", "replace"))
        return tuple(urls)

    @cached_property
    def policies(self) -> tuple[str, ...]:
        e = self.extension(oids.CERTIFICATE_POLICIES)
        if e is None:
            return ()
        return tuple(pi.children()[0].as_oid() for pi in _der.parse(e.value).children())

    def verify_signature(self, issuer_key: PublicKey) -> bool:
        """True if ``issuer_key`` made this certificate's signature (SM2 with the GM/T 0009 ID)."""
        try:
            alg = algorithm_for_signature_oid(self.signature_algorithm)
        except KeyFormatError:
            return False
        return alg is issuer_key.algorithm and issuer_key.verify(self.tbs, self.signature)

    def valid_at(self, when: dt.datetime) -> bool:
        return self.not_before <= when <= self.not_after


@functools.lru_cache(maxsize=4096)
def _parse_cached(data: bytes) -> Certificate:
    return Certificate._parse(data)


@dataclass(frozen=True)
class CertificationRequest:
    """A parsed PKCS#10 request (RFC 2986)."""

    der: bytes
    info: bytes
    subject: Name
    public_key: PublicKey
    signature_algorithm: str
    signature: bytes
    requested_extensions: tuple[Extension, ...]

    @classmethod
    def load(cls, data: bytes) -> CertificationRequest:
        """Parse a DER or PEM request and check its proof of possession (the self-signature).

        Raises :class:`CertificateError` naming the problem: not a CSR, unsupported key or curve,
        algorithm mismatch, or a signature that the request's own key did not make.
        """
        if not data or not data.strip():
            raise CertificateError(M("csr.empty", "certificate request is empty", "证书请求为空"))
        if data.lstrip().startswith(b"-----"):
            try:
                raw = _der.pem_to_der(data, "CERTIFICATE REQUEST")
            except _der.DERError:
                try:
                    raw = _der.pem_to_der(data, "NEW CERTIFICATE REQUEST")
                except _der.DERError as exc:
                    raise CertificateError(
                        M(
                            "csr.not_pem",
                            "not a PEM certificate request: {reason}",
                            "不是 PEM 格式的证书请求：{reason}",
                        ),
                        reason=exc,
                    ) from None
        else:
            raw = data
        try:
            top = _der.parse(raw)
            info_node, alg_node, sig_node = top.children()
            info_parts = info_node.children()
            version = info_parts[0].as_int()
            if version != 0:
                raise CertificateError(
                    M(
                        "csr.version",
                        "certificate request version {version} is not v1",
                        "证书请求版本 {version} 不是 v1",
                    ),
                    version=version + 1,
                )
            subject = Name.from_node(info_parts[1])
            spki = info_parts[2].raw
            exts: list[Extension] = []
            if len(info_parts) > 3 and info_parts[3].is_context(0):
                for attr in info_parts[3].children():
                    a = attr.children()
                    if a[0].as_oid() == oids.EXTENSION_REQUEST:
                        for e in a[1].children()[0].children():
                            ec = e.children()
                            exts.append(Extension(ec[0].as_oid(), len(ec) == 3 and ec[1].as_bool(), ec[-1].as_bytes()))
            sig_alg = alg_node.children()[0].as_oid()
            signature = sig_node.as_bit_string()
        except CertificateError:
            raise
        except _der.DERError as exc:  # our own parser's message: names what is wrong and where
            raise CertificateError(
                M("csr.malformed_der", "malformed certificate request: {reason}", "证书请求格式错误：{reason}"),
                reason=exc,
            ) from None
        except (ValueError, IndexError, AttributeError, TypeError, RecursionError):
            # the DER is well formed but is not a PKCS #10 request: never show Python's own text
            raise CertificateError(
                M(
                    "csr.malformed",
                    "malformed certificate request: the file is not a PKCS #10 "
                    "certificate request (CertificationRequest: info, algorithm, signature)",
                    "证书请求格式错误：文件不是 PKCS #10 证书请求（CertificationRequest：请求信息、算法、签名）",
                )
            ) from None
        try:
            public_key = PublicKey.from_spki(spki)
        except KeyFormatError as exc:
            raise CertificateError(
                M("csr.key", "certificate request key: {reason}", "证书请求中的公钥：{reason}"), reason=exc
            ) from None
        try:
            alg = algorithm_for_signature_oid(sig_alg)
        except KeyFormatError:
            raise CertificateError(
                M(
                    "csr.algorithm",
                    "certificate request is signed with unsupported algorithm {oid}; "
                    "use SM2-with-SM3 or ECDSA-with-SHA256",
                    "证书请求使用了不支持的签名算法 {oid}；请使用 SM2-with-SM3 或 ECDSA-with-SHA256",
                ),
                oid=sig_alg,
            ) from None
        if alg is not public_key.algorithm:
            raise CertificateError(
                M(
                    "csr.algorithm_mismatch",
                    "certificate request carries a {key} key but is signed with {alg}",
                    "证书请求携带 {key} 公钥，却以 {alg} 签名",
                ),
                key=public_key.algorithm.label,
                alg=alg.label,
            )
        req = cls(raw, info_node.raw, subject, public_key, sig_alg, signature, tuple(exts))
        if not req.proof_of_possession():
            raise CertificateError(
                M(
                    "csr.proof_of_possession",
                    "certificate request signature does not verify with its own public key: proof of possession failed",
                    "证书请求的签名无法用其自身公钥验证：私钥持有证明失败",
                )
            )
        return req

    def proof_of_possession(self) -> bool:
        """The request's signature verifies under its own key. For SM2 the GM/T 0009 ID is tried
        first, then the empty ID that OpenSSL 3.0 uses unless given ``-sigopt distid:...``: either
        proves possession of the private key."""
        if self.public_key.verify(self.info, self.signature):
            return True
        return self.public_key.algorithm is Algorithm.SM2 and self.public_key.verify(
            self.info, self.signature, sm2_uid=b""
        )
