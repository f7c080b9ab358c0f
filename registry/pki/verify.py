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
certificates and from CRLs for others'). Pure: no I/O, no clock (``now`` is a parameter).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes

from ..messages import Localized, M, text_of
from . import ofd, ses
from .keys import KeyFormatError, algorithm_for_signature_oid
from .x509 import Certificate, CertificateError

__all__ = [
    "CHECKS",
    "Check",
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

# id → (Chinese, English) names, in verification order.
CHECKS: dict[str, tuple[str, str]] = {
    "format": ("格式合规", "Format"),
    "signer_signature": ("签章人签名值", "Signer's signature"),
    "signer_in_seal": ("签章人证书属于印章", "Signer certificate listed in the seal"),
    "seal_signature": ("制章者签名值", "Seal maker's signature"),
    "maker_certificate": ("制章者证书", "Seal maker certificate"),
    "seal_validity": ("印章有效性", "Seal validity"),
    "signer_certificate": ("签章人证书", "Signer certificate"),
    "holder_certificates": ("印章证书列表", "Seal's holder certificates"),
    "document_digest": ("原文杂凑", "Document digest"),
    "document_parts": ("文档保护范围", "Protected document parts"),
}

Msg = tuple[str, str]  # (Chinese, English)


class InputError(Localized, ValueError):
    """The input is not something this verifier reads at all (neither seal, signature nor OFD)."""


@dataclass
class Check:
    id: str
    ok: bool | None
    reasons: list[Msg] = field(default_factory=list)
    notes: list[Msg] = field(default_factory=list)
    undecided: list[Msg] = field(default_factory=list)  # e.g. no revocation information

    def to_json(self) -> dict[str, Any]:
        zh, en = CHECKS[self.id]
        return {
            "id": self.id,
            "name_zh": zh,
            "name_en": en,
            "result": {True: "pass", False: "fail", None: "indeterminate"}[self.ok],
            "ok": self.ok,
            "reason_zh": "；".join(m[0] for m in self.reasons) or None,
            "reason_en": "; ".join(m[1] for m in self.reasons) or None,
            "notes_zh": [m[0] for m in self.notes],
            "notes_en": [m[1] for m in self.notes],
        }


@dataclass(frozen=True)
class Status:
    """A certificate's revocation status as its issuer publishes it."""

    state: str  # good | revoked | hold | unknown
    revoked_at: dt.datetime | None = None
    reason: str | None = None  # RFC 5280 name
    source: str = ""  # where it came from, for the report

    @classmethod
    def unknown(cls, source: str) -> Status:
        return cls("unknown", source=source)


@dataclass(frozen=True)
class SealRecord:
    """What this registry's database says about one of its own seals."""

    status: str  # active | suspended | revoked
    revoked_at: dt.datetime | None  # revocation or suspension time
    reason: str | None


class TrustSource(Protocol):
    def issuers(self, cert: Certificate) -> Sequence[Certificate]:
        """Candidate issuer certificates (anchors and intermediates) whose subject is ``cert``'s issuer."""
        ...

    def is_anchor(self, cert: Certificate) -> bool: ...

    def status(self, cert: Certificate, issuer: Certificate) -> Status:
        """Revocation status of ``cert`` (issued by ``issuer``) as known now."""
        ...

    def seal_record(self, seal: ses.Seal) -> SealRecord | None:
        """This registry's record of the seal, or None if it is not one of ours."""
        ...


@dataclass
class SignatureReport:
    """The checks of one SES signature (standalone or inside an OFD document), or of one seal."""

    kind: str  # signature | seal
    location: str | None = None  # OFD: Doc_0/Signs/Sign_0
    checks: list[Check] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    # the seal's picture as carried in the file (shown by the verify page; not part of to_json)
    picture: ses.SealPicture | None = field(default=None, repr=False, compare=False)

    @property
    def verdict(self) -> str:
        return _verdict(c.ok for c in self.checks)

    def check(self, cid: str) -> Check:
        for c in self.checks:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "verdict": self.verdict,
            "valid": self.verdict == "valid",
            **self.summary,
            "checks": [c.to_json() for c in self.checks],
        }


@dataclass
class Report:
    """The verdict on one input file."""

    kind: str  # seal | signature | ofd
    checked_at: dt.datetime
    items: list[SignatureReport] = field(default_factory=list)
    problems: list[Msg] = field(default_factory=list)  # file-level failures (e.g. OFD with no signature)

    @property
    def verdict(self) -> str:
        if self.problems or not self.items:
            return "invalid"
        verdicts = [i.verdict for i in self.items]
        if "invalid" in verdicts:
            return "invalid"
        return "indeterminate" if "indeterminate" in verdicts else "valid"

    @property
    def valid(self) -> bool:
        return self.verdict == "valid"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "valid": self.valid,
            "kind": self.kind,
            "checked_at": _iso(self.checked_at),
        }
        if self.problems:
            out["problems_zh"] = [m[0] for m in self.problems]
            out["problems_en"] = [m[1] for m in self.problems]
        key = "seal" if self.kind == "seal" else "signatures"
        out[key] = self.items[0].to_json() if key == "seal" and self.items else [i.to_json() for i in self.items]
        return out


def _verdict(oks: Any) -> str:
    seen = list(oks)
    if any(o is False for o in seen):
        return "invalid"
    return "indeterminate" if any(o is None for o in seen) else "valid"


_UTC = dt.UTC


def _iso(t: dt.datetime | None) -> str | None:
    if not t:
        return None
    if t.tzinfo is not _UTC:
        t = t.astimezone(_UTC)
    if t.year < 1000:  # strftime's %Y does not pad there
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (t.year, t.month, t.day, t.hour, t.minute, t.second)


def _when(t: dt.datetime) -> str:
    if t.tzinfo is not _UTC:
        t = t.astimezone(_UTC)
    if t.year < 1000:
        return t.strftime("%Y-%m-%d %H:%M:%S UTC")
    return "%04d-%02d-%02d %02d:%02d:%02d UTC" % (t.year, t.month, t.day, t.hour, t.minute, t.second)


# ----------------------------------------------------------------------------------------------
# Certificates and chains


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
) -> None:
    _validity(cert, at, what, check, now)
    usage = cert.key_usage
    if usage and not usage & {"digitalSignature", "nonRepudiation"}:
        check.reasons.append(
            (
                f"{what[0]}的密钥用法不允许签名（{', '.join(sorted(usage))}）",
                f"the {what[1]}'s key usage does not allow signing ({', '.join(sorted(usage))})",
            )
        )
    _check_chain(cert, at, now, trust, check, what, later_is_note=later_is_note)


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


# ----------------------------------------------------------------------------------------------
# Seal checks (shared by seal and signature verification)


def _seal_summary(seal: ses.Seal) -> dict[str, Any]:
    maker = None
    try:
        maker = _name(seal.maker_certificate())
    except ses.SesError:
        pass
    return {
        "es_id": seal.es_id,
        "name": seal.property.name,
        "type": seal.property.type,
        "generation": seal.generation,
        "vid": seal.vid,
        "created": _iso(seal.property.create_date),
        "valid_start": _iso(seal.property.valid_start),
        "valid_end": _iso(seal.property.valid_end),
        "maker": maker,
        "picture_type": seal.picture.type,
        "picture_size_mm": [seal.picture.width, seal.picture.height],
    }


def _crypto_check(cid: str, fn: Any, arg: Any, ok_msg: Msg, bad_msg: Msg) -> Check:
    check = Check(cid, True)
    try:
        good = fn(arg)
    except ses.SesError as exc:
        check.ok = False
        check.reasons.append((f"无法验证：{text_of(exc, 'zh')}", f"cannot be verified: {exc}"))
        return check
    if good:
        check.reasons.append(ok_msg)
    else:
        check.ok = False
        check.reasons.append(bad_msg)
    return check


_SEAL_VERDICTS_SIZE = 4096
# (signed bytes, maker certificate, algorithm, signature value) -> (verified, why it could not be)
_seal_verdicts: dict[tuple[bytes, bytes, str, bytes], tuple[bool, ses.SesError | None]] = {}


def _seal_signature_verdict(seal: ses.Seal) -> tuple[bool, ses.SesError | None]:
    """The maker-signature result for a seal, kept by the exact bytes it was computed from (a
    cryptographic fact that never changes: cached per process, like certificate signatures; many
    documents carry the same seal)."""
    key = (seal.signed_bytes, seal.maker_cert, seal.signature_algorithm, seal.signature)
    verdict = _seal_verdicts.get(key)
    if verdict is None:
        try:
            verdict = ses.verify_seal_signature(seal), None
        except ses.SesError as exc:
            verdict = False, exc
        if len(_seal_verdicts) >= _SEAL_VERDICTS_SIZE:
            try:
                del _seal_verdicts[next(iter(_seal_verdicts))]
            except (KeyError, StopIteration, RuntimeError):  # another thread got there first
                pass
        _seal_verdicts[key] = verdict
    return verdict


def _cached_seal_signature(seal: ses.Seal) -> bool:
    ok, error = _seal_signature_verdict(seal)
    if error is not None:
        raise ses.SesError.carrying(error)
    return ok


def _seal_signature_check(seal: ses.Seal) -> Check:
    return _crypto_check(
        "seal_signature",
        _cached_seal_signature,
        seal,
        ("制章者签名有效，印章数据完整", "the seal maker's signature is intact"),
        (
            "制章者签名无效：印章数据被改动或不是该制章者证书签发",
            "the seal maker's signature does not verify: the seal was altered or not made with this maker certificate",
        ),
    )


def _maker_check(seal: ses.Seal, now: dt.datetime, trust: TrustSource) -> Check:
    check = Check("maker_certificate", True)
    try:
        maker = seal.maker_certificate()
        alg = algorithm_for_signature_oid(seal.signature_algorithm)
        if maker.public_key.algorithm is not alg:
            raise ses.SesError(
                M(
                    "verifier.maker_certificate_key_does",
                    "maker certificate key does not match the seal's signature algorithm",
                    "制章者证书的密钥与印章的签名算法不符",
                )
            )
    except (ses.SesError, KeyFormatError, CertificateError) as exc:
        check.ok = False
        check.reasons.append(
            (f"制章者证书不可用：{text_of(exc, 'zh')}", f"the seal maker certificate cannot be used: {exc}")
        )
        return check
    at = seal.property.create_date
    _check_certificate(maker, at, now, trust, ("制章者证书", "seal maker certificate"), check, later_is_note=True)
    return _finish(
        check,
        (
            f"制章者证书“{_name(maker)}”在制章时间 {_when(at)} 有效且受信任",
            f"the seal maker certificate '{_name(maker)}' was valid and trusted when the seal was made ({_when(at)})",
        ),
    )


def _seal_validity_check(seal: ses.Seal, at: dt.datetime, trust: TrustSource, *, at_label: Msg) -> Check:
    check = Check("seal_validity", True)
    p = seal.property
    if at < p.valid_start:
        check.reasons.append(
            (
                f"{at_label[0]} {_when(at)} 早于印章有效期起始 {_when(p.valid_start)}",
                f"the {at_label[1]} {_when(at)} is before the seal's validity starts ({_when(p.valid_start)})",
            )
        )
    elif at > p.valid_end:
        check.reasons.append(
            (
                f"{at_label[0]} {_when(at)} 晚于印章有效期终止 {_when(p.valid_end)}",
                f"the {at_label[1]} {_when(at)} is after the seal's validity ended ({_when(p.valid_end)})",
            )
        )
    if p.create_date > at:
        check.reasons.append(
            (
                f"印章制作时间 {_when(p.create_date)} 晚于{at_label[0]}",
                f"the seal was made ({_when(p.create_date)}) after the {at_label[1]}",
            )
        )
    record = trust.seal_record(seal)
    if record is not None and record.status in ("revoked", "suspended"):
        word = ("吊销", "revoked") if record.status == "revoked" else ("停用", "suspended")
        reason = f" ({record.reason})" if record.reason else ""
        if record.revoked_at is None or record.revoked_at <= at:
            check.reasons.append(
                (
                    f"本系统记录该印章已于 {_when(record.revoked_at) if record.revoked_at else '?'} {word[0]}{reason}",
                    f"this registry records the seal as {word[1]}{reason} at "
                    f"{_when(record.revoked_at) if record.revoked_at else '?'}",
                )
            )
        else:
            check.notes.append(
                (
                    f"本系统记录该印章于 {_when(record.revoked_at)} {word[0]}{reason}，晚于{at_label[0]}",
                    f"this registry records the seal as {word[1]}{reason} at "
                    f"{_when(record.revoked_at)}, after the {at_label[1]}",
                )
            )
    if record is not None:
        check.notes.append(
            (
                "印章由本系统签发，状态取自本系统登记数据",
                "a seal of this registry: its status comes from the registry's records",
            )
        )
    if check.reasons:
        check.ok = False
    return _finish(
        check,
        (
            f"{at_label[0]}在印章有效期 {_when(p.valid_start)} 至 {_when(p.valid_end)} 之内",
            f"the {at_label[1]} is within the seal's validity ({_when(p.valid_start)} to {_when(p.valid_end)})",
        ),
    )


# ----------------------------------------------------------------------------------------------
# Entry points


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


def _holders_check(seal: ses.Seal, now: dt.datetime, trust: TrustSource) -> Check:
    check = Check("holder_certificates", True)
    if seal.property.cert_list_type != ses.CERT_LIST_CERTIFICATES:
        check.ok = None
        check.reasons.append(
            (
                "印章证书列表只含证书杂凑值，需随签章中的签章人证书一起核验",
                "the seal lists certificate digests only; they are checked against the signer "
                "certificate of each signature",
            )
        )
        return check
    try:
        certs = seal.holder_certs()
    except ses.SesError as exc:
        check.ok = False
        check.reasons.append(
            (f"证书列表无法解析：{text_of(exc, 'zh')}", f"the certificate list cannot be parsed: {exc}")
        )
        return check
    if not certs:
        check.ok = False
        check.reasons.append(("印章证书列表为空", "the seal lists no holder certificate"))
        return check
    usable = 0
    failures: list[Msg] = []
    undecided: list[Msg] = []
    for i, cert in enumerate(certs):
        sub = Check("holder_certificates", True)
        _check_certificate(
            cert, now, now, trust, (f"第 {i + 1} 张签章人证书", f"holder certificate {i + 1}"), sub, later_is_note=False
        )
        _finish(sub, ("", ""))
        if sub.ok is True:
            usable += 1
        elif sub.ok is None:
            undecided.extend(sub.reasons)
        else:
            failures.extend(sub.reasons)
        check.notes.extend(sub.notes)
    if usable:
        # A seal stays usable while at least one holder certificate is; the others become notes.
        check.notes.extend(failures + undecided)
        check.reasons = [
            (
                f"{usable} / {len(certs)} 张签章人证书当前有效",
                f"{usable} of {len(certs)} holder certificates are valid now",
            )
        ]
        check.ok = True
    else:
        check.reasons = failures + undecided
        check.ok = None if undecided and not failures else False
    return check


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
            _check_certificate(signer, at, now, trust, ("签章人证书", "signer certificate"), sc, later_is_note=True)
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


def _digest(method: str, data: bytes) -> bytes:
    """:func:`ofd.digest`, with SM3 through OpenSSL (``cryptography``): faster than gmalglib's on
    documents of any size."""
    if method == "sm3":
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()
    return ofd.digest(method, data)


def _document_check(sig: ses.SesSignature, document: bytes | None, label: Msg | None) -> Check:
    check = Check("document_digest", True)
    if document is None:
        check.ok = None
        check.reasons.append(
            ("未提供原文，无法核对原文杂凑", "no document was given: the document digest was not checked")
        )
        return check
    label = label or ("原文", "the document")
    try:
        alg = algorithm_for_signature_oid(sig.signature_algorithm)
    except KeyFormatError:
        check.ok = False
        check.reasons.append(
            (
                f"不支持的签名算法 {sig.signature_algorithm}",
                f"unsupported signature algorithm {sig.signature_algorithm}",
            )
        )
        return check
    method = "sm3" if alg.value == "sm2" else "sha256"
    if _digest(method, document) == sig.data_hash:
        check.reasons.append(
            (
                f"{label[0]}的 {method.upper()} 杂凑值与签章一致",
                f"the {method.upper()} digest of {label[1]} matches the signature",
            )
        )
    else:
        check.ok = False
        check.reasons.append(
            (
                f"{label[0]}的 {method.upper()} 杂凑值与签章不符：原文被改动或不是所签文件",
                f"the {method.upper()} digest of {label[1]} does not match the signature: it was "
                "altered or is not the signed document",
            )
        )
    return check


def verify_ofd(data: bytes, now: dt.datetime, trust: TrustSource, limits: ofd.Limits = ofd.Limits()) -> Report:
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


def _parts_check(pkg: ofd.Package, entry: ofd.SignatureEntry) -> Check:
    check = Check("document_parts", True)
    for note in entry.problems:
        check.notes.append((note, note))
    if entry.check_method is None:
        check.ok = False
        check.reasons.append(
            (f"不支持的杂凑算法 {entry.check_method_raw!r}", f"unsupported digest method {entry.check_method_raw!r}")
        )
        return check
    if not entry.references:
        check.ok = False
        check.reasons.append(("签章没有保护任何文档内容", "the signature protects no document part"))
        return check
    bad: list[str] = []
    missing: list[str] = []
    for ref in entry.references:
        if not pkg.has(ref.path):
            missing.append(ref.path)
        elif _digest(entry.check_method, pkg.read(ref.path)) != ref.check_value:
            bad.append(ref.path)
    if missing:
        check.reasons.append(
            (
                "被保护的文件缺失：" + "、".join(f"/{p}" for p in missing),
                "protected parts are missing: " + ", ".join(f"/{p}" for p in missing),
            )
        )
    if bad:
        check.reasons.append(
            (
                "以下文件在签章后被改动：" + "、".join(f"/{p}" for p in bad),
                "these parts were changed after signing: " + ", ".join(f"/{p}" for p in bad),
            )
        )
    if missing or bad:
        check.ok = False
        return check
    protected = {r.path for r in entry.references}
    sign_dir = entry.signature_xml_path.rsplit("/", 2)[0] + "/"
    extra = [n for n in pkg.names if n not in protected and not n.startswith(sign_dir) and not n.endswith("/")]
    if extra:
        check.notes.append(
            (
                "以下文件不受此签章保护：" + "、".join(f"/{p}" for p in extra[:20]),
                "these parts are not protected by this signature: " + ", ".join(f"/{p}" for p in extra[:20]),
            )
        )
    method = entry.check_method.upper()
    check.reasons.append(
        (
            f"{len(entry.references)} 个被保护文件的 {method} 杂凑值全部一致",
            f"all {len(entry.references)} protected parts match their {method} digests",
        )
    )
    return check


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
    limits: ofd.Limits = ofd.Limits(),
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
        report.items.append(verify_seal(data, now, trust, parsed=parsed))  # type: ignore[arg-type]
    else:
        report.items.append(verify_signature(data, now, trust, document=document, parsed=parsed))  # type: ignore[arg-type]
    return report
