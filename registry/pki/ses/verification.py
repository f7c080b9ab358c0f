"""Verification of the cryptographic signatures of a seal and of a signature, over the bytes as
received (``signed_bytes``), never a re-encoding.

Certificate validity, chains and revocation are the caller's business (they need a clock and a trust
store; this package has neither): see :mod:`registry.pki.verify`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...messages import M
from .. import der, oids
from ..keys import KeyFormatError, algorithm_for_signature_oid, sig_to_der
from ..x509 import CertificateError
from .model import Seal, SesError, SesSignature, _load_certificate

_ALG_NAMES = {oids.SM2_WITH_SM3: "SM2-with-SM3", oids.ECDSA_WITH_SHA256: "ECDSA-with-SHA256"}


def _der_uint256(sig: bytes, pos: int, length: int) -> bool:
    """The INTEGER contents at ``pos`` are the minimal encoding of a value in 1 … 2**256 - 1."""
    if length == 0 or length > 33:
        return False
    first = sig[pos]
    if first & 0x80:  # negative
        return False
    if first == 0:  # a leading zero octet only in front of a high bit; 0 itself is out of range
        return length > 1 and sig[pos + 1] & 0x80 != 0
    return length <= 32


def _is_der_signature(sig: bytes) -> bool:
    """Exactly what :func:`keys.sig_from_der` accepts — the canonical DER ``SEQUENCE { r, s }``
    with 0 < r, s < 2**256 (GB/T 35276) — checked on the octets, without decoding them."""
    n = len(sig)
    if n < 8 or n > 72 or sig[0] != 0x30 or sig[1] != n - 2 or sig[2] != der.INTEGER:
        return False
    p = 4 + sig[3]
    if p + 2 > n or sig[p] != der.INTEGER or p + 2 + sig[p + 1] != n:
        return False
    return _der_uint256(sig, 4, sig[3]) and _der_uint256(sig, p + 2, sig[p + 1])


def _signature_candidates(sig: bytes) -> Iterator[bytes]:
    """GB/T 35276 DER first; raw 64-byte r‖s (BouncyCastle PlainDSAEncoding, gmssl) converted."""
    if _is_der_signature(sig):
        yield sig
    if len(sig) == 64:
        yield sig_to_der(sig)


def _verify(cert_der: bytes, alg_oid: str, signature: bytes, data: bytes, role: str) -> bool:
    cert = _load_certificate(cert_der, f"{role} certificate")
    try:
        alg = algorithm_for_signature_oid(alg_oid)
    except KeyFormatError:
        raise SesError(
            M(
                "ses.signature_algorithm_supported_expected",
                "{role} signature algorithm {alg_oid} is not supported (expected SM2-with-SM3 "
                "{sm2_with_sm3} or ECDSA-with-SHA256 {ecdsa_with_sha256})",
                "不支持{role}签名算法 {alg_oid}（应为 SM2-with-SM3 {sm2_with_sm3} 或 ECDSA-with-SHA256 {ecdsa_with_sha256}）",
            ),
            role=role,
            alg_oid=alg_oid,
            sm2_with_sm3=oids.SM2_WITH_SM3,
            ecdsa_with_sha256=oids.ECDSA_WITH_SHA256,
        ) from None
    try:
        key = cert.public_key
    except CertificateError as exc:
        raise SesError(
            M("ses.certificate", "{role} certificate: {exc}", "{role}证书：{exc}"), role=role, exc=exc
        ) from None
    if key.algorithm is not alg:
        raise SesError(
            M(
                "ses.signature_algorithm_but_certificate",
                "{role} signature algorithm is {alg_names} but the {role} certificate holds a {label} key",
                "{role}签名算法为 {alg_names}，但{role}证书持有 {label} 密钥",
            ),
            role=role,
            alg_names=_ALG_NAMES[alg_oid],
            label=key.algorithm.label,
        )
    # SM2: SM3 with Z over the GM/T 0009 default ID 1234567812345678 (domain §6.2)
    return any(key.verify(data, candidate) for candidate in _signature_candidates(signature))


def verify_seal_signature(seal: Seal) -> bool:
    """Whether the maker certificate's key made ``seal.signature`` over ``seal.signed_bytes``.

    True/False is the cryptographic answer only (no validity period, chain or revocation check).
    Raises :class:`SesError` when it cannot be decided: unparseable maker certificate, unsupported
    algorithm, or an algorithm that does not match the certificate's key type.
    """
    return _verify(seal.maker_cert, seal.signature_algorithm, seal.signature, seal.signed_bytes, "seal maker")


def verify_signature_value(sig: SesSignature) -> bool:
    """Whether the signer certificate's key made ``sig.signature`` over the raw ``TBS_Sign``.

    Does not check the embedded seal (use :func:`verify_seal_signature` on ``sig.seal``), the
    document hash, or certificate status. Raises :class:`SesError` as :func:`verify_seal_signature`.
    """
    return _verify(sig.signer_cert, sig.signature_algorithm, sig.signature, sig.signed_bytes, "signer")
