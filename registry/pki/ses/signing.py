"""Signature making: the seal maker's ``SESeal`` (:func:`make_seal`) and the signer's
``SES_Signature`` (:func:`make_signature`) in the GB/T 38540 v4 layout, and the document digest
(:func:`document_digest`) a signature carries."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib

from gmalglib.sm3 import SM3 as _SM3

from ...messages import M
from .. import der, oids
from ..keys import KeyFormatError, PublicKey, Signer, algorithm_for_signature_oid, sig_from_der, sig_to_der
from ..x509 import CertificateError
from .decode import parse_seal
from .encode import _check_time, _generalized_time
from .model import _CONTROL_RE, _SEQ, SesError, _load_certificate

# SES_Header content prefix: ID IA5String "ES", version INTEGER 4 or 5 (the Vid follows)
_HEADER_PREFIXES = (b"\x16\x02ES\x02\x01\x04", b"\x16\x02ES\x02\x01\x05")


@functools.lru_cache(maxsize=32)
def _maker_key(maker_cert: bytes) -> PublicKey:
    """Public key of a maker certificate, cached: a registry signs thousands of seals with one cert.

    Also refuses a certificate whose keyUsage forbids signing (GM/T 0031-2014 §6.1.2 c checks
    "密钥用法是否正确", so such a seal would be rejected by every verifier)."""
    cert = _load_certificate(maker_cert, "seal maker certificate")
    try:
        usage = cert.key_usage
        key = cert.public_key
    except (CertificateError, der.DERError, IndexError) as exc:
        raise SesError(
            M("ses.seal_maker_certificate", "seal maker certificate: {exc}", "制章者证书：{exc}"), exc=exc
        ) from None
    if usage and not usage & {"digitalSignature", "nonRepudiation"}:
        raise SesError(
            M(
                "ses.seal_maker_certificate_keyusage",
                "seal maker certificate keyUsage allows neither digitalSignature nor nonRepudiation ({join})",
                "制章者证书的 keyUsage 既不允许 digitalSignature 也不允许 nonRepudiation（{join}）",
            ),
            join=", ".join(sorted(usage)),
        )
    return key


def make_seal(seal_info: bytes, maker_cert: bytes, signer: Signer) -> bytes:
    """DER v4 ``SESeal ::= SEQUENCE { eSealInfo, cert OCTET STRING, signAlgID OID, signedValue BIT STRING }``.

    ``signedValue = signer.sign(seal_info)`` over the ``SES_SealInfo`` bytes only (GB/T 38540; the
    2014 triple {info, cert, alg} must NOT be signed for v4 — domain §1.5). ``seal_info`` is embedded
    byte-for-byte. ``signer`` must hold the private key of ``maker_cert`` (checked against the
    certificate's public key) and the certificate must permit signing. The signature is stored as
    GB/T 35276 DER ``SEQUENCE { r, s }``; a signer returning raw 64-byte r‖s is converted.
    Raises :class:`SesError` on any inconsistency.
    """
    if not isinstance(seal_info, (bytes, bytearray)) or not isinstance(maker_cert, (bytes, bytearray)):
        raise SesError(
            M(
                "ses.seal_info_maker_cert",
                "seal_info and maker_cert must be bytes",
                "seal_info 和 maker_cert 必须为字节串",
            )
        )
    seal_info, maker_cert = bytes(seal_info), bytes(maker_cert)
    # Cheap shape check: one SEQUENCE whose first element is SES_Header { "ES", 4|5, Vid }.
    try:
        top = der.parse(seal_info)
    except der.DERError as exc:
        raise SesError(
            M(
                "ses.seal_info_der_ses",
                "seal_info is not a DER SES_SealInfo: {exc}",
                "seal_info 不是 DER 编码的 SES_SealInfo：{exc}",
            ),
            exc=exc,
        ) from None
    h = top.header_len
    if not (
        top.is_universal(_SEQ)
        and top.constructed
        and seal_info[h : h + 1] == b"\x30"
        and seal_info[h + 2 : h + 9] in _HEADER_PREFIXES
    ):
        raise SesError(
            M(
                "ses.seal_info_v4_v5",
                'seal_info is not a v4/v5 SES_SealInfo (expected SEQUENCE {{ SES_Header {{ "ES", 4, Vid '
                "}}, ... }}); build it with encode_seal_info",
                'seal_info 不是 v4/v5 的 SES_SealInfo（应为 SEQUENCE {{ SES_Header {{ "ES", 4, Vid }}, ... }}）；请用 encode_seal_info 生成',
            )
        )
    key = _maker_key(maker_cert)
    try:
        alg = signer.algorithm
        signer_point = signer.public_key.point
    except AttributeError:
        raise SesError(
            M(
                "ses.signer_provide_algorithm_public",
                "signer must provide .algorithm and .public_key",
                "签名者必须提供 .algorithm 和 .public_key",
            )
        ) from None
    if key.algorithm is not alg or key.point != signer_point:
        raise SesError(
            M(
                "ses.signer_s_key_does",
                "signer's key does not match the seal maker certificate's public key",
                "签名者的密钥与制章者证书的公钥不符",
            )
        )
    signature = _normalise_signature(signer.sign(seal_info))
    return der.seq(seal_info, der.octet_string(maker_cert), der.oid(alg.signature_oid), der.bit_string(signature))


def document_digest(algorithm_oid: str, data: bytes) -> bytes:
    """The ``dataHash`` of ``data`` for a signature made with ``algorithm_oid``: SM3 for
    SM2-with-SM3, SHA-256 for ECDSA-with-SHA256 (GM/T 0031-2014 §6.2.1: the digest follows the
    signature algorithm)."""
    try:
        alg = algorithm_for_signature_oid(algorithm_oid)
    except KeyFormatError:
        raise SesError(
            M(
                "ses.signature_algorithm_supported",
                "signature algorithm {algorithm_oid} is not supported",
                "不支持签名算法 {algorithm_oid}",
            ),
            algorithm_oid=algorithm_oid,
        ) from None
    if alg.signature_oid == oids.SM2_WITH_SM3:
        h = _SM3()
        h.update(data)
        return h.digest()
    return hashlib.sha256(data).digest()


def make_signature(
    *, seal: bytes, signer_cert: bytes, signer: Signer, data_hash: bytes, property_info: str, signing_time: dt.datetime
) -> bytes:
    """DER v4 ``SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OID,
    signature BIT STRING }`` with ``TBS_Sign ::= SEQUENCE { version 4, eseal SESeal, timeInfo
    GeneralizedTime, dataHash BIT STRING, propertyInfo IA5String }`` (GB/T 38540; domain §1.3).

    ``seal`` is embedded byte-for-byte; ``signer`` must hold the key of ``signer_cert`` and the
    certificate must be one the seal lists. Checks only consistency; whether the seal and the
    certificate may be used (validity, revocation) is the caller's business.
    """
    try:
        parsed = parse_seal(bytes(seal))
    except SesError as exc:
        raise SesError(
            M("ses.seal_cannot_used", "the seal cannot be used: {exc}", "此印章不能使用：{exc}"), exc=exc
        ) from None
    cert = _load_certificate(bytes(signer_cert), "signer certificate")
    try:
        alg = signer.algorithm
        point = signer.public_key.point
    except AttributeError:
        raise SesError(
            M(
                "ses.signer_provide_algorithm_public",
                "signer must provide .algorithm and .public_key",
                "签名者必须提供 .algorithm 和 .public_key",
            )
        ) from None
    try:
        cert_key = cert.public_key
    except CertificateError as exc:
        raise SesError(M("ses.signer_certificate", "signer certificate: {exc}", "签章者证书：{exc}"), exc=exc) from None
    if cert_key.algorithm is not alg or cert_key.point != point:
        raise SesError(
            M(
                "ses.private_key_does_belong",
                "the private key does not belong to the signer certificate",
                "私钥不属于签章者证书",
            )
        )
    if not parsed.lists_certificate(cert.der):
        raise SesError(
            M(
                "ses.signer_certificate_one_seal",
                "the signer certificate is not one of the seal's certificates (certList)",
                "签章者证书不在印章的证书列表（certList）中",
            )
        )
    if not isinstance(data_hash, bytes) or len(data_hash) != 32:
        raise SesError(
            M(
                "ses.datahash_byte_sm3_sha",
                "dataHash must be a 32-byte SM3 or SHA-256 digest",
                "dataHash 必须为 32 字节的 SM3 或 SHA-256 摘要",
            )
        )
    if (
        not isinstance(property_info, str)
        or not property_info
        or not property_info.isascii()
        or _CONTROL_RE.search(property_info)
    ):
        raise SesError(
            M(
                "ses.propertyinfo_non_empty_printable",
                "propertyInfo must be non-empty printable ASCII (an IA5String)",
                "propertyInfo 必须为非空的可打印 ASCII（IA5String）",
            )
        )
    when = _check_time(signing_time, "signing time")
    tbs = der.seq(
        der.integer(4), parsed.raw, _generalized_time(when), der.bit_string(data_hash), der.ia5(property_info)
    )
    signature = _normalise_signature(signer.sign(tbs))
    return der.seq(tbs, der.octet_string(cert.der), der.oid(alg.signature_oid), der.bit_string(signature))


def _normalise_signature(sig: bytes) -> bytes:
    """GB/T 35276 DER ``SEQUENCE { r, s }`` as stored; raw 64-byte r‖s is converted (domain §1.6)."""
    if not isinstance(sig, (bytes, bytearray)):
        raise SesError(
            M(
                "ses.signer_returned_non_bytes",
                "signer returned a non-bytes signature value",
                "签名者返回的签名值不是字节串",
            )
        )
    sig = bytes(sig)
    # an SM2/P-256 DER signature is 8–72 bytes with a one-byte length: the SEQUENCE header suffices,
    # except for a 64-byte value, which may also be raw r‖s that happens to start 30 3E
    if len(sig) >= 8 and sig[0] == 0x30 and sig[1] == len(sig) - 2:
        if len(sig) != 64:
            return sig
        try:
            sig_from_der(sig)
            return sig
        except KeyFormatError:
            pass
    if len(sig) == 64:
        return sig_to_der(sig)
    raise SesError(
        M(
            "ses.signer_returned_malformed_signature",
            "signer returned a malformed signature value ({n_sig} bytes)",
            "签名者返回的签名值格式错误（{n_sig} 字节）",
        ),
        n_sig=len(sig),
    )
