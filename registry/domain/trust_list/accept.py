"""Whether a newly fetched, verified list replaces the last one accepted (mutual-recognition.md §2.2)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...pki.jws import VerifiedJws, normalize_fingerprint
from ..errors import M, Message
from .fields import format_time
from .model import (
    KeyStatus,
    TrustList,
    _bound,
)
from .parse import (
    parse,
)

# -- acceptance (§2.2) -------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedList:
    """A list whose JWS verified: the parsed list, the SHA-256 of its exact payload bytes, and the
    kids whose signatures verified."""

    trust_list: TrustList
    sha256: str
    verified_kids: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_verified(cls, verified: VerifiedJws) -> SignedList:
        return cls(
            parse(verified.payload), hashlib.sha256(verified.payload).hexdigest(), frozenset(verified.verified_kids)
        )

    @property
    def sequence(self) -> int:
        return self.trust_list.scheme.sequence


class Outcome(str, enum.Enum):
    ACCEPT = "accept"  # the new list replaces the last one
    UNCHANGED = "unchanged"  # the same list again (same sequence, same bytes)
    KEEP_LAST = "keep-last"  # refused: the last list stays, for the reason given


class Refusal(str, enum.Enum):
    UNTRUSTED_SIGNER = "untrusted-signer"
    AREA_CODE_CHANGED = "area-code-changed"
    REPLAY = "replay"
    EQUIVOCATION = "equivocation"
    ISSUED_EARLIER = "issued-earlier"
    BROKEN_CHAIN = "broken-chain"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    sequence: int  # of the list judged
    refusal: Refusal | None = None
    message: Message | None = None  # why it was refused, with the values filled in
    trusted_by: frozenset[str] = frozenset()  # kids whose signatures counted
    rolled_over: frozenset[str] = frozenset()  # of those, the ones trusted only as announced next keys

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPT

    @property
    def suspends_peer(self) -> bool:
        """Equivocation: the peer is suspended until a person decides (§2.2 step 5)."""
        return self.refusal is Refusal.EQUIVOCATION


_REFUSALS = {
    Refusal.UNTRUSTED_SIGNER: M(
        "trust_list.refused.untrusted_signer",
        "list {sequence} is not signed by a key that is pinned or announced as next by the last accepted list, and current in the list itself",
        "第 {sequence} 版列表未由已固定的密钥或上一版已接受列表预告的下一密钥签名（且该密钥须在本列表中为 current）",
    ),
    Refusal.AREA_CODE_CHANGED: M(
        "trust_list.refused.area_code",
        "list {sequence} is for area {value}, not {expected}",
        "第 {sequence} 版列表的地区代码为 {value}，而非 {expected}",
    ),
    Refusal.REPLAY: M(
        "trust_list.refused.replay",
        "list {sequence} is older than list {last} accepted already (a replay)",
        "第 {sequence} 版列表早于已接受的第 {last} 版（重放）",
    ),
    Refusal.EQUIVOCATION: M(
        "trust_list.refused.equivocation",
        "list {sequence} differs from the list {sequence} accepted already (equivocation: the peer is suspended)",
        "第 {sequence} 版列表与已接受的同一版内容不同（两面说法：暂停该对方）",
    ),
    Refusal.ISSUED_EARLIER: M(
        "trust_list.refused.issued_earlier",
        "list {sequence} was issued at {value}, before list {last} ({expected})",
        "第 {sequence} 版列表的签发时间 {value} 早于第 {last} 版（{expected}）",
    ),
    Refusal.BROKEN_CHAIN: M(
        "trust_list.refused.broken_chain",
        "list {sequence} does not follow list {last}: {value}",
        "第 {sequence} 版列表与第 {last} 版衔接不上：{value}",
    ),
    Refusal.EXPIRED: M(
        "trust_list.refused.expired",
        "list {sequence} expired at {value}",
        "第 {sequence} 版列表已于 {value} 过期",
    ),
}
_PREVIOUS_MISMATCH = M(
    "trust_list.chain.previous",
    "its previous is not the list accepted",
    "其 previous 不是已接受的那一版",
)
_GAP = M("trust_list.chain.gap", "lists are missing in between", "中间缺少若干版列表")


def _refuse(reason: Refusal, new: SignedList, **params: Any) -> Decision:
    return Decision(Outcome.KEEP_LAST, new.sequence, reason, _bound(_REFUSALS[reason], sequence=new.sequence, **params))


def _trusted(last: SignedList | None, pins: frozenset[str], new: SignedList) -> tuple[frozenset[str], frozenset[str]]:
    """(kids whose signatures count, the subset trusted only as keys the last list announced)."""
    announced: set[str] = set()
    barred = {k.kid for k in new.trust_list.scheme.signing_keys if k.status is KeyStatus.COMPROMISED}
    if last is not None:
        for k in last.trust_list.scheme.signing_keys:
            if k.status is KeyStatus.NEXT and (k.not_before is None or k.not_before <= new.trust_list.scheme.issued_at):
                announced.add(k.kid)
            elif k.status in (KeyStatus.RETIRED, KeyStatus.COMPROMISED):
                barred.add(k.kid)
    current = {k.kid for k in new.trust_list.scheme.signing_keys if k.status is KeyStatus.CURRENT}
    counted = frozenset((new.verified_kids & (pins | announced) & current) - barred)
    return counted, frozenset(counted - pins)


def decide(
    last: SignedList | None,
    pinned: Iterable[str],
    new: SignedList,
    *,
    area_code: str,
    now: dt.datetime,
    check_expiry: bool = True,
) -> Decision:
    """Whether ``new`` (a verified list just fetched) replaces ``last`` (the last accepted, or
    ``None`` on admission). ``pinned`` are the peer's pinned key fingerprints (hex, or kids);
    ``area_code`` the one it was admitted with. ``check_expiry`` is off only for the intermediate
    lists of :func:`walk`."""
    pins = frozenset("sha256:" + normalize_fingerprint(p) for p in pinned)
    counted, rolled = _trusted(last, pins, new)
    if not counted:
        return _refuse(Refusal.UNTRUSTED_SIGNER, new)
    scheme = new.trust_list.scheme
    if scheme.operator.area_code != area_code or (
        last is not None and scheme.operator.area_code != last.trust_list.scheme.operator.area_code
    ):
        return _refuse(Refusal.AREA_CODE_CHANGED, new, value=scheme.operator.area_code, expected=area_code)
    outcome = Outcome.ACCEPT
    if last is not None:
        held = last.trust_list.scheme
        if scheme.sequence < held.sequence:
            return _refuse(Refusal.REPLAY, new, last=held.sequence)
        if scheme.sequence == held.sequence:
            if new.sha256 != last.sha256:
                return _refuse(Refusal.EQUIVOCATION, new)
            outcome = Outcome.UNCHANGED
        elif scheme.issued_at < held.issued_at:
            return _refuse(
                Refusal.ISSUED_EARLIER,
                new,
                last=held.sequence,
                value=format_time(scheme.issued_at),
                expected=format_time(held.issued_at),
            )
        elif scheme.sequence == held.sequence + 1 and (
            scheme.previous is None or scheme.previous.sha256 != last.sha256
        ):
            return _refuse(Refusal.BROKEN_CHAIN, new, last=held.sequence, value=_PREVIOUS_MISMATCH)
    if check_expiry and now >= scheme.next_update:
        return _refuse(Refusal.EXPIRED, new, value=format_time(scheme.next_update))
    if outcome is Outcome.UNCHANGED:
        rolled = frozenset()
    return Decision(outcome, scheme.sequence, trusted_by=counted, rolled_over=rolled)


def walk(
    last: SignedList | None,
    pinned: Iterable[str],
    chain: Sequence[SignedList],
    *,
    area_code: str,
    now: dt.datetime,
) -> tuple[Decision, SignedList | None]:
    """Apply :func:`decide` along ``chain``: the lists after ``last`` fetched from ``lists/<n>``,
    consecutive and in order, the newest last. The intermediate ones may have expired since; each
    must be accepted, and the keys one announces count for the next. Returns the decision on the
    newest list (its ``rolled_over`` gathers every key newly trusted on the way, for the caller to
    pin) and the list to hold from now on (``last`` if anything was refused)."""
    if not chain:
        raise ValueError("walk() needs at least one list")
    pins = {"sha256:" + normalize_fingerprint(p) for p in pinned}
    rolled: set[str] = set()
    held = last
    decision = None
    for i, new in enumerate(chain):
        final = i == len(chain) - 1
        if len(chain) > 1 and held is not None and new.sequence != held.sequence + 1:
            return _refuse(Refusal.BROKEN_CHAIN, new, last=held.sequence, value=_GAP), last
        decision = decide(held, pins, new, area_code=area_code, now=now, check_expiry=final)
        if decision.outcome is not Outcome.ACCEPT and not (final and decision.outcome is Outcome.UNCHANGED):
            return decision, last
        rolled |= decision.rolled_over
        pins |= decision.rolled_over
        held = new
    assert decision is not None
    result = Decision(
        decision.outcome, decision.sequence, trusted_by=decision.trusted_by, rolled_over=frozenset(rolled)
    )
    return result, held
