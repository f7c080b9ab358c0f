"""What a verification reports: the checks in order (:data:`CHECKS`), one :class:`Check` each, a
:class:`SignatureReport` per signature or seal, a :class:`Report` per file; and what the caller
supplies, a :class:`TrustSource` answering with :class:`Status` and :class:`SealRecord`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...messages import Localized
from .. import ses
from ..x509 import Certificate

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
    vouched: dict[str, Any] | None = None  # who vouched for the certificate this check judged

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

    # Optional: ``vouch(path, role, seal, at) -> Vouch | None`` — who vouches for a path that
    # reached an anchor (``role`` "seal" for the maker, "signer" for the signer), and whether
    # that authority's scope, status and revocation data allow it (see :class:`Vouch`).


@dataclass(frozen=True)
class Vouch:
    """Who vouched for a certificate path, as the verdict states it (``entry``: authority, basis
    own / peer, service, list, revocation source), and what that means for the check: a
    ``failure`` (e.g. out of the authority's scope) or an ``undecided`` reason (the peer is
    suspended, its list or CRL is stale, the CRL is older than the signing time)."""

    entry: dict[str, Any]
    failures: tuple[Msg, ...] = ()
    undecided: tuple[Msg, ...] = ()


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

    @property
    def vouched_by(self) -> dict[str, Any]:
        """``{"seal": ..., "signer": ...}``: who vouched for the maker and for the signer."""
        roles = {"maker_certificate": "seal", "signer_certificate": "signer"}
        return {roles[c.id]: c.vouched for c in self.checks if c.id in roles and c.vouched is not None}

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "location": self.location,
            "verdict": self.verdict,
            "valid": self.verdict == "valid",
            **self.summary,
            "vouched_by": self.vouched_by,
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


def _verdict(oks: Iterable[bool | None]) -> str:
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
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def _when(t: dt.datetime) -> str:
    if t.tzinfo is not _UTC:
        t = t.astimezone(_UTC)
    if t.year < 1000:
        return t.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d} UTC"
