"""Certificate checks: validity at a time, revocation status, and the path to a trusted anchor.

Certificate signatures are verified once per pair of certificates and process (:func:`_signed_by`
is cached: certificates do not change)."""

from __future__ import annotations

import datetime as dt
import functools

from ..keys import KeyFormatError
from ..x509 import Certificate, CertificateError
from .report import Check, Msg, Status, TrustSource, _when


@functools.lru_cache(maxsize=8192)
def _signed_by(child_der: bytes, parent_der: bytes) -> bool:
    """Whether ``parent``'s key made ``child``'s signature (cached: certificates don't change)."""
    try:
        child, parent = Certificate.from_der(child_der), Certificate.from_der(parent_der)
        return child.verify_signature(parent.public_key)
    except (CertificateError, KeyFormatError, ValueError):
        return False


def _name(cert: Certificate) -> str:
    return str(cert.subject) or "(empty subject)"


def _validity(cert: Certificate, at: dt.datetime, what: Msg, check: Check, now: dt.datetime) -> None:
    if at < cert.not_before:
        check.reasons.append(
            (
                f"{what[0]}在 {_when(at)} 尚未生效（生效于 {_when(cert.not_before)}）",
                f"{what[1]} was not yet valid at {_when(at)} (valid from {_when(cert.not_before)})",
            )
        )
    elif at > cert.not_after:
        check.reasons.append(
            (f"{what[0]}已于 {_when(cert.not_after)} 过期", f"{what[1]} expired on {_when(cert.not_after)}")
        )
    elif now > cert.not_after:
        check.notes.append(
            (
                f"{what[0]}当时有效，现已于 {_when(cert.not_after)} 过期",
                f"{what[1]} was valid then and has since expired ({_when(cert.not_after)})",
            )
        )


def _revocation(status: Status, at: dt.datetime, what: Msg, check: Check, *, later_is_note: bool) -> None:
    src_zh = f"（来源：{status.source}）" if status.source else ""
    src_en = f" (source: {status.source})" if status.source else ""
    if status.state == "good":
        return
    if status.state == "unknown":
        check.undecided.append(
            (f"无法确定{what[0]}的吊销状态{src_zh}", f"the revocation status of the {what[1]} is unknown{src_en}")
        )
        return
    held = status.state == "hold"
    verb_zh, verb_en = ("暂停（挂起）", "suspended (certificateHold)") if held else ("吊销", "revoked")
    reason = f" ({status.reason})" if status.reason and not held else ""
    when = status.revoked_at
    if when is None or when <= at:
        check.reasons.append(
            (
                f"{what[0]}已于 {_when(when) if when else '未知时间'} 被{verb_zh}{reason}{src_zh}",
                f"the {what[1]} was {verb_en}{reason} at {_when(when) if when else 'an unknown time'}{src_en}",
            )
        )
    elif later_is_note:
        check.notes.append(
            (
                f"{what[0]}于 {_when(when)} 被{verb_zh}{reason}，晚于签章时间，不影响此次签章{src_zh}",
                f"the {what[1]} was {verb_en}{reason} at {_when(when)}, after the signing time: "
                f"this signature stays valid{src_en}",
            )
        )


def _check_chain(
    cert: Certificate,
    at: dt.datetime,
    now: dt.datetime,
    trust: TrustSource,
    check: Check,
    what: Msg,
    *,
    later_is_note: bool,
) -> list[Certificate]:
    """Build and check the path from ``cert`` to a trusted anchor at time ``at``; findings go to
    ``check``. Returns the path (cert first) as far as it was built."""
    path = [cert]
    current = cert
    for _depth in range(8):
        if trust.is_anchor(current):
            break
        candidates = [c for c in trust.issuers(current) if c.der != current.der or trust.is_anchor(c)]
        issuer = next((c for c in candidates if _signed_by(current.der, c.der)), None)
        if issuer is None:
            if current.subject == current.issuer and _signed_by(current.der, current.der):
                check.reasons.append(
                    (
                        f"证书链止于不受信任的根证书“{_name(current)}”",
                        f"the chain ends at an untrusted root '{_name(current)}'",
                    )
                )
            elif candidates:
                check.reasons.append(
                    (
                        f"“{_name(current)}”的签名不能由其签发者“{current.issuer}”验证",
                        f"the signature on '{_name(current)}' does not verify with its issuer '{current.issuer}'",
                    )
                )
            else:
                check.reasons.append(
                    (
                        f"证书链不能到达受信任的根：未知签发者“{current.issuer}”",
                        f"the chain does not reach a trusted root: unknown issuer '{current.issuer}'",
                    )
                )
            check.ok = False
            return path
        if issuer.der != current.der:
            if not issuer.is_ca or (issuer.key_usage and "keyCertSign" not in issuer.key_usage):
                check.reasons.append(
                    (f"签发者“{_name(issuer)}”不是 CA 证书", f"the issuer '{_name(issuer)}' is not a CA certificate")
                )
                check.ok = False
            _validity(issuer, at, ("签发者证书", "issuer certificate"), check, now)
            _revocation(
                trust.status(current, issuer),
                at,
                what if current is cert else ("CA 证书", "CA certificate"),
                check,
                later_is_note=later_is_note,
            )
        path.append(issuer)
        if issuer.der == current.der:
            break
        current = issuer
    else:
        check.reasons.append(("证书链过长", "the certificate chain is too long"))
        check.ok = False
    return path


def _check_certificate(
    cert: Certificate,
    at: dt.datetime,
    now: dt.datetime,
    trust: TrustSource,
    what: Msg,
    check: Check,
    *,
    later_is_note: bool,
    role: str | None = None,
    seal: object | None = None,
) -> list[Certificate]:
    """Validity, key usage and the path to an anchor; with ``role`` ("seal" or "signer"), also who
    vouches for that path (:meth:`TrustSource.vouch`, when the source has it). Returns the path."""
    _validity(cert, at, what, check, now)
    usage = cert.key_usage
    if usage and not usage & {"digitalSignature", "nonRepudiation"}:
        check.reasons.append(
            (
                f"{what[0]}的密钥用法不允许签名（{', '.join(sorted(usage))}）",
                f"the {what[1]}'s key usage does not allow signing ({', '.join(sorted(usage))})",
            )
        )
    path = _check_chain(cert, at, now, trust, check, what, later_is_note=later_is_note)
    vouch = getattr(trust, "vouch", None)
    if role is not None and vouch is not None and check.ok is not False and trust.is_anchor(path[-1]):
        v = vouch(path, role, seal, at)
        if v is not None:
            check.vouched = v.entry
            check.reasons.extend(v.failures)
            check.undecided.extend(v.undecided)
    return path


def _finish(check: Check, pass_msg: Msg) -> Check:
    """Settle ``ok`` from the findings: any failure → False; else anything undecided → None."""
    if check.reasons or check.ok is False:
        check.ok = False
    elif check.undecided:
        check.ok = None
        check.reasons = list(check.undecided)
    else:
        check.ok = True
        check.reasons.append(pass_msg)
    return check
