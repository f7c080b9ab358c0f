"""Verifying electronic seals, SES signatures and sealed OFD documents, in the GB/T 38540 order.

The order (design.md §7; GM/T 0031-2014 §6.1.2 and §6.2.3; GB/T 38540; GM/T 0031-2025):

1. ``format``              the structure parses (any generation)
2. ``signer_signature``    the 签章者 signature over ``TBS_Sign``
3. ``signer_in_seal``      the signer certificate is one of the seal's ``certList``
4. ``seal_signature``      the 制章者 signature over the seal
5. ``maker_certificate``   the maker certificate: chain to a trusted root, validity and revocation at
                           the seal's creation time (GM/T 0031-2025: expired or revoked *later* is a
                           notice, not a failure), key usage
6. ``seal_validity``       the seal's validity window contains the signing time (and its creation
                           time does not follow it); for seals of this registry, the seal was not
                           revoked or suspended at that time
7. ``signer_certificate``  chain, validity and revocation at the signing time: revoked *after*
                           signing stays valid (GM/T 0031-2014 §6.2.3 d 4)
8. ``document_digest``     ``dataHash`` against the document (for OFD: the SM3 of ``Signature.xml``)
9. ``document_parts``      OFD only: every ``Reference`` digest against the part it names

Every check reports ``ok`` (True, False, or None when it could not be decided: no document given, no
revocation information for a foreign certificate) and reasons in Chinese and English. A verdict is
``valid`` when every check passed, ``invalid`` when one failed, ``indeterminate`` otherwise.

Trust anchors, intermediate certificates and revocation status come from a :class:`TrustSource`
the caller supplies (the service layer answers from the registry's database for its own
certificates and from CRLs for others'). The report model is in :mod:`.report`, the certificate checks in :mod:`.chain`, the seal and
document checks in :mod:`.checks`; the entry points are here. Pure: no I/O, no clock (``now`` is a parameter).
"""

from __future__ import annotations

import datetime as dt

from ...messages import M, text_of
from .. import ofd, ses
from ..x509 import Certificate
from .chain import _check_certificate, _finish, _name
from .checks import (
    _crypto_check,
    _document_check,
    _holders_check,
    _maker_check,
    _parts_check,
    _seal_signature_check,
    _seal_summary,
    _seal_validity_check,
)
from .report import (
    CHECKS,
    Check,
    InputError,
    Msg,
    Report,
    SealRecord,
    SignatureReport,
    Status,
    TrustSource,
    Vouch,
    _iso,
    _when,
)

__all__ = [
    "CHECKS",
    "Check",
    "Vouch",
    "Status",
    "SealRecord",
    "TrustSource",
    "SignatureReport",
    "Report",
    "verify_seal",
    "verify_signature",
    "verify_ofd",
    "verify_bytes",
    "detect",
    "InputError",
]


_DEFAULT_LIMITS = ofd.Limits()


def verify_seal(
    data: bytes, now: dt.datetime, trust: TrustSource, *, parsed: ses.Seal | None = None
) -> SignatureReport:
    """An electronic seal (``.esl``) on its own, judged at ``now``."""
    rep = SignatureReport(kind="seal")
    try:
        seal = parsed or ses.parse_seal(data)
    except ses.SesError as exc:
        rep.checks.append(
            Check(
                "format", False, [(f"不是有效的电子印章：{text_of(exc, 'zh')}", f"not a valid electronic seal: {exc}")]
            )
        )
        return rep
    rep.summary = {"seal": _seal_summary(seal)}
    rep.picture = seal.picture
    rep.checks.append(
        Check(
            "format",
            True,
            [(f"{_gen_zh(seal.generation)}电子印章，格式正确", f"a well-formed {seal.generation} electronic seal")],
        )
    )
    rep.checks.append(_seal_signature_check(seal))
    rep.checks.append(_maker_check(seal, now, trust))
    rep.checks.append(_seal_validity_check(seal, now, trust, at_label=("当前时间", "current time")))
    rep.checks.append(_holders_check(seal, now, trust))
    return rep


def _gen_zh(gen: str) -> str:
    return {"2014": "GM/T 0031-2014 ", "v4": "GB/T 38540 (v4) ", "v5": "GM/T 0031-2025 (v5) "}.get(gen, "")


def verify_signature(
    data: bytes,
    now: dt.datetime,
    trust: TrustSource,
    *,
    document: bytes | None = None,
    location: str | None = None,
    document_label: Msg | None = None,
    parsed: ses.SesSignature | None = None,
) -> SignatureReport:
    """An ``SES_Signature``. ``document`` is the signed data (for OFD: ``Signature.xml``); without
    it the document digest is reported indeterminate."""
    rep = SignatureReport(kind="signature", location=location)
    try:
        sig = parsed or ses.parse_signature(data)
    except ses.SesError as exc:
        rep.checks.append(
            Check(
                "format",
                False,
                [(f"不是有效的电子签章：{text_of(exc, 'zh')}", f"not a valid electronic signature: {exc}")],
            )
        )
        return rep
    signer: Certificate | None = None
    try:
        signer = sig.signer_certificate()
    except ses.SesError:
        pass
    at = sig.time_info
    rep.picture = sig.seal.picture
    rep.summary = {
        "signing_time": _iso(at),
        "property_info": sig.property_info,
        "generation": sig.generation,
        "seal": _seal_summary(sig.seal),
        "signer": (
            {
                "subject": _name(signer),
                "issuer": str(signer.issuer),
                "serial": format(signer.serial, "X"),
                "not_before": _iso(signer.not_before),
                "not_after": _iso(signer.not_after),
            }
            if signer
            else None
        ),
        "timestamp": sig.timestamp is not None,
    }
    fmt = Check(
        "format",
        True,
        [(f"{_gen_zh(sig.generation)}电子签章，格式正确", f"a well-formed {sig.generation} electronic signature")],
    )
    if at is None:
        fmt.ok = False
        fmt.reasons = [
            ("签章时间无法读取（timeInfo 不是时间）", "the signing time cannot be read (timeInfo is not a time)")
        ]
    if signer is None:
        fmt.ok = False
        fmt.reasons.append(("签章人证书无法解析", "the signer certificate cannot be parsed"))
    rep.checks.append(fmt)
    rep.checks.append(
        _crypto_check(
            "signer_signature",
            ses.verify_signature_value,
            sig,
            ("签章人签名有效，签章数据完整", "the signer's signature is intact"),
            (
                "签章人签名无效：签章数据被改动或不是该证书签署",
                "the signer's signature does not verify: the "
                "signature data were altered or not made with this certificate",
            ),
        )
    )
    listed = Check("signer_in_seal", True)
    try:
        if sig.seal.lists_certificate(sig.signer_cert):
            listed.reasons.append(("签章人证书在印章的证书列表中", "the signer certificate is listed in the seal"))
        else:
            listed.ok = False
            listed.reasons.append(
                (
                    "签章人证书不在印章的证书列表中（证书更新后需重新制作印章）",
                    "the signer certificate is not listed in the seal (a renewed certificate needs a new seal)",
                )
            )
    except ses.SesError as exc:
        listed.ok = False
        listed.reasons.append((f"无法比对：{text_of(exc, 'zh')}", f"cannot be compared: {exc}"))
    rep.checks.append(listed)
    rep.checks.append(_seal_signature_check(sig.seal))
    rep.checks.append(_maker_check(sig.seal, now, trust))
    label = ("签章时间", "signing time")
    if at is None:
        rep.checks.append(Check("seal_validity", None, [("签章时间未知，无法判断", "unknown signing time")]))
        rep.checks.append(Check("signer_certificate", None, [("签章时间未知，无法判断", "unknown signing time")]))
    else:
        rep.checks.append(_seal_validity_check(sig.seal, at, trust, at_label=label))
        sc = Check("signer_certificate", True)
        if signer is None:
            sc.ok = False
            sc.reasons.append(("签章人证书无法解析", "the signer certificate cannot be parsed"))
        else:
            _check_certificate(
                signer,
                at,
                now,
                trust,
                ("签章人证书", "signer certificate"),
                sc,
                later_is_note=True,
                role="signer",
                seal=sig.seal,
            )
            _finish(
                sc,
                (
                    f"签章人证书“{_name(signer)}”在签章时间 {_when(at)} 有效且未被吊销",
                    f"the signer certificate '{_name(signer)}' was valid and not revoked at the "
                    f"signing time ({_when(at)})",
                ),
            )
        rep.checks.append(sc)
    rep.checks.append(_document_check(sig, document, document_label))
    return rep


def verify_ofd(data: bytes, now: dt.datetime, trust: TrustSource, limits: ofd.Limits = _DEFAULT_LIMITS) -> Report:
    """Every signature of a sealed OFD document. Package-level failures raise :class:`ofd.OfdError`."""
    report = Report(kind="ofd", checked_at=now)
    pkg = ofd.open_package(data, limits)
    entries = ofd.signatures(pkg, limits)
    if not entries:
        report.problems.append(("文档中没有签章", "the document carries no signature"))
    for entry in entries:
        location = entry.signature_xml_path.rsplit("/", 1)[0]
        try:
            value = pkg.read(entry.signed_value_path, "signature value")
        except ofd.OfdError as exc:
            rep = SignatureReport(kind="signature", location=location)
            rep.checks.append(
                Check(
                    "format",
                    False,
                    [(f"签名值文件缺失：{text_of(exc, 'zh')}", f"the signature value is missing: {exc}")],
                )
            )
            report.items.append(rep)
            continue
        if entry.sign_type.lower() != "seal":
            rep = SignatureReport(kind="signature", location=location)
            rep.checks.append(
                Check(
                    "format",
                    False,
                    [
                        (
                            f"签名类型 {entry.sign_type} 不是电子签章（Seal），本系统只核验电子签章",
                            f"signature type {entry.sign_type} is not an electronic seal signature (Seal); only those "
                            "are verified here",
                        )
                    ],
                )
            )
            report.items.append(rep)
            continue
        rep = verify_signature(
            value,
            now,
            trust,
            document=entry.signature_xml,
            location=location,
            document_label=(f"签章描述文件 /{entry.signature_xml_path}", f"/{entry.signature_xml_path}"),
        )
        rep.summary["signature_id"] = entry.sign_id
        rep.summary["signature_date_time"] = entry.signature_date_time or None
        rep.checks.append(_parts_check(pkg, entry))
        report.items.append(rep)
    return report


def detect(data: bytes) -> tuple[str, ses.Seal | ses.SesSignature | None]:
    """``ofd``, ``seal`` or ``signature`` from the bytes, with the parsed seal or signature;
    :class:`InputError` if none."""
    if ofd.is_zip(data):
        return "ofd", None
    try:
        return "signature", ses.parse_signature(data)
    except ses.SesError as sig_exc:
        try:
            return "seal", ses.parse_seal(data)
        except ses.SesError as seal_exc:
            if not data[:1] == b"\x30":
                raise InputError(
                    M(
                        "verifier.electronic_seal_electronic_signature",
                        "not an electronic seal, an electronic signature or an OFD document (neither DER nor ZIP)",
                        "不是电子印章、电子签章或 OFD 文档（既非 DER 也非 ZIP）",
                    )
                ) from None
            raise InputError(
                M(
                    "verifier.neither_electronic_seal_nor",
                    "neither an electronic seal ({seal_exc}) nor an electronic signature ({sig_exc})",
                    "既不是电子印章（{seal_exc}），也不是电子签章（{sig_exc}）",
                ),
                seal_exc=seal_exc,
                sig_exc=sig_exc,
            ) from None


def verify_bytes(
    data: bytes,
    now: dt.datetime,
    trust: TrustSource,
    *,
    document: bytes | None = None,
    limits: ofd.Limits = _DEFAULT_LIMITS,
) -> Report:
    """Whatever ``data`` is. Raises :class:`InputError` for unreadable input and
    :class:`ofd.OfdError` for an OFD package that is unsafe or broken."""
    kind, parsed = detect(data)
    if kind == "ofd":
        if document is not None:
            raise InputError(
                M(
                    "verifier.ofd_document_carries_its",
                    "an OFD document carries its own content: do not give a separate document",
                    "OFD 文档自带内容：不要另给文档",
                )
            )
        return verify_ofd(data, now, trust, limits)
    report = Report(kind=kind, checked_at=now)
    if kind == "seal":
        if document is not None:
            raise InputError(
                M(
                    "verifier.seal_its_own_signs",
                    "a seal on its own signs no document: give an electronic signature or an OFD "
                    "document with --document",
                    "单独的电子印章不签署任何文档：请用 --document 给出电子签章或 OFD 文档",
                )
            )
        seal = parsed if isinstance(parsed, ses.Seal) else None  # detect parsed it as a seal
        report.items.append(verify_seal(data, now, trust, parsed=seal))
    else:
        sig = parsed if isinstance(parsed, ses.SesSignature) else None  # detect parsed it as a signature
        report.items.append(verify_signature(data, now, trust, document=document, parsed=sig))
    return report
