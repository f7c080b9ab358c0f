"""The enterprise-side signing helper: a v4 ``SES_Signature`` over any file with a seal.

It plays the part of the signing software an enterprise runs (the seal holder's key never reaches
the registry in real life; here it is read from a local file). Before it hands out a signature it
verifies the result exactly as a relying party would, now: a revoked, suspended or expired seal, a
revoked certificate, a key that doesn't match, a certificate the seal doesn't list — each is
refused with the reason, and nothing is produced (GM/T 0031-2014 §6.2.2 a–c: check the signer
certificate and the seal before signing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import quote

from ..domain.errors import M, Message, ValidationError
from ..pki import ses
from ..pki import verify as pv
from ..pki.keys import PrivateKey
from ..pki.x509 import Certificate, CertificateError
from .context import ServiceContext
from .verify import verify_file

__all__ = ["SignResult", "sign_file", "property_info_for"]


@dataclass(frozen=True)
class SignResult:
    signature: bytes
    report: pv.Report


def property_info_for(file_name: str, size: int) -> str:
    """``propertyInfo`` naming the signed file and its size, e.g. ``file=contract.pdf;size=18342``.
    IA5String is ASCII: other characters of the name are percent-encoded (RFC 3986)."""
    name = PurePath(file_name).name or "document"
    return f"file={quote(name, safe='')};size={size}"


def sign_file(
    ctx: ServiceContext, *, seal: bytes, key: PrivateKey, certificate: bytes, data: bytes, file_name: str
) -> SignResult:
    """Sign ``data`` with ``seal`` and the holder's ``key``/``certificate`` at the clock's time.
    Raises :class:`ValidationError` naming every reason the signature would not be valid."""
    try:
        cert = Certificate.load(certificate)
    except CertificateError as exc:
        raise ValidationError(
            M("signing.certificate_cannot_read", "the certificate cannot be read: {exc}", "无法读取证书：{exc}"),
            exc=exc,
        ) from None
    try:
        seal_obj = ses.parse_seal(seal)
    except ses.SesError as exc:
        raise ValidationError(
            M("signing.seal_cannot_read", "the seal cannot be read: {exc}", "无法读取印章：{exc}"), exc=exc
        ) from None
    now = ctx.clock.now()
    try:
        signature = ses.make_signature(
            seal=seal_obj.raw,
            signer_cert=cert.der,
            signer=key,
            data_hash=ses.document_digest(key.algorithm.signature_oid, data),
            property_info=property_info_for(file_name, len(data)),
            signing_time=now,
        )
    except ses.SesError as exc:
        raise ValidationError(M("signing.cannot_sign", "cannot sign: {exc}", "无法签名：{exc}"), exc=exc) from None
    report = verify_file(ctx, signature, document=data, at=now)
    if report.verdict != "valid":
        failures = [
            Message(
                "signing.failed_check",
                f"{c.id}: " + "; ".join(m[1] for m in c.reasons),
                f"{c.id}：" + "；".join(m[0] for m in c.reasons),
            )
            for item in report.items
            for c in item.checks
            if c.ok is not True
        ]
        raise ValidationError(
            M(
                "signing.would_not_be_valid",
                "refusing to sign, the signature would not be valid: {failures}",
                "拒绝签署，签名将无效：{failures}",
            ),
            failures=failures,
        )
    return SignResult(signature, report)
