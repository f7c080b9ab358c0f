"""Admitting a peer under dual control, and our own decisions about it later (§2.2)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select

from ...db.trust_models import Peer, PeerKey
from ...domain import trust_list as tl
from ...domain.errors import Conflict, InvalidTransition, M, Message, NotFound, PermissionDenied, ValidationError
from ...domain.roles import Permission, require
from ...pki import crl, jws
from ..context import Actor, ServiceContext
from ..core.tx import Tx, begin, reading
from .fetch import FetchError, check_url, fetch
from .lists import TRUST_STORE_KEY, ListProblem, fetch_list, held_list, read_list, store_list

__all__ = [
    "PeerError",
    "Proposal",
    "ServiceSummary",
    "CrlReach",
    "propose",
    "approve",
    "change_state",
    "find_peer",
    "check_approver",
    "check_proposal",
    "state_label",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_AREA = re.compile(r"^\d{6}$")
MAX_REASON = 500
MAX_PINS = 4
CRL_PROBE_BYTES = 64 * 1024 * 1024


class PeerError(ValidationError):
    """The peer's list could not be fetched or was refused at admission; ``kind`` says which."""

    def __init__(self, message: Message, /, *, kind: str = "refused", **params: object) -> None:
        super().__init__(message, **params)
        self.kind = kind


NO_PEER = M("peer.not_found", "no peer named {name}", "没有名为 {name} 的对方机构")
BAD_NAME = M(
    "peer.bad_name",
    "a peer's name is lowercase letters, digits and '-', at most 64 (e.g. beijing), got {name}",
    "对方机构名称只能由小写字母、数字和“-”组成，至多 64 个字符（例如 beijing），现为 {name}",
)
BAD_AREA = M(
    "peer.bad_area_code",
    "--area-code must be a 6-digit GB/T 2260 code, got {value}",
    "--area-code 应为 6 位 GB/T 2260 行政区划代码，现为 {value}",
)
OWN_AREA = M(
    "peer.own_area_code",
    "{value} is our own area code: a registry does not admit itself",
    "{value} 是本机构自己的地区代码：不能接纳自己",
)
NO_PINS = M(
    "peer.no_fingerprint",
    "give the fingerprint of at least one of the peer's list-signing keys (--fingerprint), read out of band",
    "请至少提供对方一把列表签名密钥的指纹（--fingerprint），须经带外渠道获得",
)
TOO_MANY_PINS = M("peer.too_many_fingerprints", "at most {n} fingerprints", "至多 {n} 个指纹")
EXISTS = M(
    "peer.exists",
    "a peer named {name} exists already ({state}); withdraw it before proposing it again",
    "已有名为 {name} 的对方机构（{state}）；须先撤销才能重新提议",
)
SAME_URL = M(
    "peer.same_url",
    "{url} is the trust list of the peer {name} already",
    "{url} 已是对方机构 {name} 的信任列表",
)
REFUSED = M("peer.list_refused", "{url}: the list is not accepted: {reason}", "{url}：列表未被接受：{reason}")
FETCH_FAILED = M("peer.fetch_failed", "cannot fetch the trust list: {error}", "无法获取信任列表：{error}")
NOT_PINNED = M(
    "peer.not_signed_by_pin",
    "{url}: the list is not signed by any of the fingerprints given (it names {named}); check them with the peer",
    "{url}：列表未由所给指纹中的任何一把密钥签名（列表中的密钥为 {named}）；请与对方核对",
)
NOT_PROPOSED = M(
    "peer.not_proposed",
    "{name} is {state}: only a proposed peer is approved",
    "{name} 的状态为{state}：只有处于提议状态的对方机构才能批准",
)
SAME_PERSON = M(
    "peer.dual_control",
    "{approver} proposed {name} and cannot also approve it (dual control)",
    "{approver} 提议了 {name}，不能再批准（双人控制）",
)
BAD_REASON = M(
    "peer.reason",
    "give a reason: one line of at most {limit} characters",
    "请说明理由：一行，不超过 {limit} 个字符",
)
WRONG_STATE = M(
    "peer.wrong_state",
    "{name} is {state}: it cannot be {action}",
    "{name} 的状态为{state}：不能{action}",
)

_STATE_LABELS = {
    "proposed": M("peer.state.proposed", "proposed", "已提议"),
    "active": M("peer.state.active", "active", "已认可"),
    "suspended": M("peer.state.suspended", "suspended", "已暂停"),
    "withdrawn": M("peer.state.withdrawn", "withdrawn", "已撤销"),
}
_ACTIONS = {
    "suspend": ("active",),
    "resume": ("suspended",),
    "withdraw": ("proposed", "active", "suspended"),
}
_NEW_STATE = {"suspend": "suspended", "resume": "active", "withdraw": "withdrawn"}
_ACTION_LABELS = {
    "suspend": M("peer.action.suspend", "suspended", "暂停"),
    "resume": M("peer.action.resume", "resumed", "恢复"),
    "withdraw": M("peer.action.withdraw", "withdrawn", "撤销"),
}


@dataclass(frozen=True)
class ServiceSummary:
    id: str
    role: str
    alg: str
    status: str
    subject: str
    sha256: str
    not_after: dt.datetime
    constraints: dict[str, object]
    crl_urls: tuple[str, ...]


@dataclass(frozen=True)
class CrlReach:
    url: str
    reachable: bool
    number: int | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class Proposal:
    """What admitting the peer would trust: shown to both people before the second approves."""

    name: str
    area_code: str
    url: str
    operator_zh: str
    operator_en: str
    sequence: int
    sha256: str
    issued_at: dt.datetime
    next_update: dt.datetime
    signed_by: tuple[str, ...]  # kids whose signatures verified and are pinned
    services: tuple[ServiceSummary, ...]
    crls: tuple[CrlReach, ...]

    @property
    def anchors(self) -> int:
        """Roots granted by the list: what admitting it would add as trust anchors."""
        return sum(1 for s in self.services if s.role == "root" and s.status == "granted")


def summarise(lst: tl.TrustList) -> tuple[ServiceSummary, ...]:
    out = []
    for s in lst.services:
        c = s.constraints
        constraints: dict[str, object] = {}
        if c is not None:
            if c.es_id_prefix:
                constraints["es_id_prefix"] = c.es_id_prefix
            if c.seal_types:
                constraints["seal_types"] = list(c.seal_types)
            if c.policy_oids:
                constraints["policy_oids"] = list(c.policy_oids)
        cert = s.certificate
        out.append(
            ServiceSummary(
                s.id,
                s.role.value,
                s.alg,
                s.status.value,
                str(cert.subject),
                s.sha256,
                cert.not_after,
                constraints,
                tuple(u for p in s.crl for u in p.urls()),
            )
        )
    return tuple(out)


def _probe_crls(lst: tl.TrustList) -> tuple[CrlReach, ...]:
    """Each listed full CRL fetched once (a shard set by its first shard): reachable now, and the
    number and times it holds. Informative: the refresher fetches and checks them all."""
    out = []
    for s in lst.services:
        for point in s.crl:
            url = point.urls()[0]
            try:
                got = fetch(url, max_bytes=CRL_PROBE_BYTES, timeout=10.0)
                number, this_update, next_update = crl.peek(got.body)
                out.append(CrlReach(url, True, number, this_update, next_update))
            except FetchError as exc:
                out.append(CrlReach(url, False, error=str(exc)))
            except (crl.CrlError, ValueError) as exc:
                out.append(CrlReach(url, False, error=f"not a CRL: {exc}"[:200]))
    return tuple(out)


def find_peer(tx: Tx, name: str, *, lock: bool = False) -> Peer:
    query = select(Peer).where(Peer.name == (name or "").strip().lower())
    peer = tx.session.scalar(query.with_for_update() if lock else query)
    if peer is None:
        raise NotFound(NO_PEER, name=repr(name))
    return peer


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON or any(ord(c) < 32 for c in reason):
        raise ValidationError(BAD_REASON, limit=MAX_REASON)
    return reason


def check_proposal(
    ctx: ServiceContext, name: str, url: str, area_code: str, fingerprints: list[str]
) -> tuple[str, str, str, list[str]]:
    """The proposal's own fields checked (before anyone types a code, before anything is fetched):
    returns the name, URL, area code and pinned kids as they will be recorded."""
    name = (name or "").strip().lower()
    if not _NAME.match(name):
        raise ValidationError(BAD_NAME, name=repr(name))
    area_code = (area_code or "").strip()
    if not _AREA.match(area_code):
        raise ValidationError(BAD_AREA, value=repr(area_code))
    if area_code == ctx.settings.area_code:
        raise ValidationError(OWN_AREA, value=area_code)
    if not fingerprints:
        raise ValidationError(NO_PINS)
    if len(fingerprints) > MAX_PINS:
        raise ValidationError(TOO_MANY_PINS, n=MAX_PINS)
    try:
        pinned = sorted({"sha256:" + jws.normalize_fingerprint(f) for f in fingerprints})
    except jws.JwsError as exc:  # a typing mistake in a fingerprint: a refusal, named
        raise ValidationError.carrying(exc) from None
    url = check_url(url)
    with reading(ctx, Actor.system("peer-check")) as tx:  # a clash, before fetching anything
        _check_new(tx, name, url)
    return name, url, area_code, pinned


def propose(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    url: str,
    area_code: str,
    fingerprints: list[str],
) -> Proposal:
    """``registry peer add``: fetch the list, verify it under ``fingerprints``, record the proposal."""
    require(actor.name, actor.roles, Permission.PEER_PROPOSE)
    name, url, area_code, pinned = check_proposal(ctx, name, url, area_code, fingerprints)
    try:
        got = fetch_list(url)
        signed = read_list(got.document)
    except FetchError as exc:
        raise PeerError(FETCH_FAILED, kind=exc.kind, error=exc) from None
    except ListProblem as exc:
        raise PeerError(REFUSED, kind=exc.code, url=url, reason=exc.message) from None
    decision = tl.decide(None, pinned, signed, area_code=area_code, now=ctx.clock.now())
    if not decision.accepted:
        if decision.refusal is tl.Refusal.UNTRUSTED_SIGNER:
            named = ", ".join(f"{k.alg} {k.fingerprint[:16]}…" for k in signed.trust_list.scheme.signing_keys)
            raise PeerError(NOT_PINNED, kind="untrusted-signer", url=url, named=named)
        kind = decision.refusal.value if decision.refusal else "refused"
        raise PeerError(REFUSED, kind=kind, url=url, reason=decision.message)
    crls = _probe_crls(signed.trust_list)
    sch = signed.trust_list.scheme
    with begin(ctx, actor) as tx:
        peer = _check_new(tx, name, url)
        now = tx.now
        if peer is None:
            peer = Peer(name=name, kind="registry")
            tx.session.add(peer)
        else:  # a withdrawn peer proposed again: a fresh start, its old lists kept
            for key in tx.session.scalars(select(PeerKey).where(PeerKey.peer_id == peer.id)):
                tx.session.delete(key)
        peer.area_code, peer.trust_list_url = area_code, url
        peer.state, peer.state_since, peer.state_by, peer.state_reason = "proposed", now, actor.name, None
        peer.proposed_by, peer.proposed_at, peer.approved_by, peer.approved_at = actor.name, now, None, None
        peer.etag, peer.last_modified = got.etag, got.last_modified
        peer.last_fetch_at = peer.last_success_at = now
        peer.last_error = peer.last_error_code = None
        peer.last_error_at = None
        tx.session.flush()
        for kid in pinned:
            tx.session.add(PeerKey(peer_id=peer.id, kid=kid, source="pinned", added_at=now))
        store_list(tx, peer, signed, got.document, now)
        peer.list_sequence = signed.sequence
        tx.audit(
            "peer.proposed",
            "peer",
            name,
            area_code=area_code,
            url=url,
            fingerprints=[k.removeprefix("sha256:") for k in pinned],
            sequence=signed.sequence,
            sha256=signed.sha256,
            services=len(signed.trust_list.services),
        )
    return Proposal(
        name,
        area_code,
        url,
        sch.operator.name_zh,
        sch.operator.name_en,
        signed.sequence,
        signed.sha256,
        sch.issued_at,
        sch.next_update,
        tuple(sorted(decision.trusted_by)),
        summarise(signed.trust_list),
        crls,
    )


def _check_new(tx: Tx, name: str, url: str) -> Peer | None:
    """The withdrawn peer of that name (to be proposed again), None for a new one; a clash is refused."""
    peer = tx.session.scalar(select(Peer).where(Peer.name == name))
    if peer is not None and peer.state != "withdrawn":
        raise Conflict(EXISTS, name=name, state=_STATE_LABELS[peer.state])
    other = tx.session.scalar(select(Peer).where(Peer.trust_list_url == url, Peer.state != "withdrawn"))
    if other is not None:
        raise Conflict(SAME_URL, url=url, name=other.name)
    return peer


def check_approver(ctx: ServiceContext, name: str, username: str) -> None:
    """Refuse before anyone types a code: the peer is not proposed, or ``username`` proposed it."""
    with reading(ctx, Actor.system("peer-check")) as tx:
        peer = find_peer(tx, name)
        if peer.state != "proposed":
            raise InvalidTransition(NOT_PROPOSED, name=peer.name, state=_STATE_LABELS[peer.state])
        if peer.proposed_by == (username or "").strip().lower():
            raise PermissionDenied(SAME_PERSON, approver=peer.proposed_by, name=peer.name)


def approve(ctx: ServiceContext, actor: Actor, name: str) -> Peer:
    """``registry peer approve``: a second person admits the proposed peer with the list proposed."""
    require(actor.name, actor.roles, Permission.PEER_APPROVE)
    with begin(ctx, actor) as tx:
        peer = find_peer(tx, name, lock=True)
        if peer.state != "proposed":
            raise InvalidTransition(NOT_PROPOSED, name=peer.name, state=_STATE_LABELS[peer.state])
        if peer.proposed_by == actor.name:
            raise PermissionDenied(SAME_PERSON, approver=actor.name, name=peer.name)
        held = held_list(tx, peer)
        if held is not None and tx.now >= held[0].next_update:
            raise InvalidTransition(
                M(
                    "peer.proposal_expired",
                    "the list proposed for {name} expired at {at}: propose it again",
                    "为 {name} 提议的列表已于 {at} 过期：请重新提议",
                ),
                name=peer.name,
                at=tl.format_time(held[0].next_update),
            )
        peer.state, peer.state_since, peer.state_by = "active", tx.now, actor.name
        peer.approved_by, peer.approved_at = actor.name, tx.now
        row = held[0] if held is not None else None
        tx.audit(
            "peer.approved",
            "peer",
            peer.name,
            proposed_by=peer.proposed_by,
            sequence=row.sequence if row else None,
            sha256=row.sha256 if row else None,
        )
    ctx.forget(TRUST_STORE_KEY)
    return peer


def change_state(ctx: ServiceContext, actor: Actor, name: str, action: str, reason: str) -> Peer:
    """``registry peer suspend|resume|withdraw``: our decision, with its reason and time."""
    require(actor.name, actor.roles, Permission.PEER_MANAGE)
    if action not in _ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    reason = _check_reason(reason)
    with begin(ctx, actor) as tx:
        peer = find_peer(tx, name, lock=True)
        if peer.state not in _ACTIONS[action]:
            raise InvalidTransition(
                WRONG_STATE, name=peer.name, state=_STATE_LABELS[peer.state], action=_ACTION_LABELS[action]
            )
        peer.state, peer.state_since, peer.state_by, peer.state_reason = _NEW_STATE[action], tx.now, actor.name, reason
        held = held_list(tx, peer)
        tx.audit(
            f"peer.{_NEW_STATE[action]}" if action != "resume" else "peer.resumed",
            "peer",
            peer.name,
            reason=reason,
            sequence=held[0].sequence if held else None,
            sha256=held[0].sha256 if held else None,
        )
    ctx.forget(TRUST_STORE_KEY)
    return peer


def state_label(state: str) -> object:
    return _STATE_LABELS[state]
