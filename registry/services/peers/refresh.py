"""Refreshing peers' trust lists (§2.2): conditional GET, verification, the acceptance rule
through missed versions, equivocation → suspension; never a bad list over a good one.

One peer's failure never stops the others: each is refreshed in its own transactions and its
outcome recorded on its row (``last_fetch_at``, ``last_success_at``, ``last_error_code``,
``last_error``), an audit event when something changes (a list accepted, a key rolled over,
equivocation, a refusal or failure that differs from the last one recorded).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select

from ...db.trust_models import Peer, PeerKey
from ...domain import trust_list as tl
from ...domain.errors import InvalidTransition, M, Message
from ...domain.roles import Permission, require
from ..context import Actor, ServiceContext
from ..core import leases
from ..core.tx import Tx, begin, reading
from .admission import find_peer, state_label
from .crls import CrlResult, refresh_crls
from .fetch import FetchError
from .lists import (
    TRUST_STORE_KEY,
    ListProblem,
    fetch_list,
    held_list,
    past_list_url,
    pins,
    read_list,
    store_list,
)

__all__ = ["RefreshResult", "refresh", "refresher", "LEASE", "MAX_WALK"]

LEASE = "peers"
LEASE_TTL = dt.timedelta(seconds=120)
MAX_WALK = 100  # missed versions fetched from lists/<n> in one refresh

_GAP = M(
    "peer_refresh.gap",
    "list {sequence} cannot be reached from list {last}: {error}",
    "无法从第 {last} 版列表衔接到第 {sequence} 版：{error}",
)
_TOO_FAR = M(
    "peer_refresh.too_far",
    "list {sequence} is more than {n} versions after list {last}: propose the peer again",
    "第 {sequence} 版列表比第 {last} 版多出 {n} 版以上：请重新提议该对方机构",
)
_EQUIVOCATION_REASON = M(
    "peer_refresh.equivocation_reason",
    "equivocation: list {sequence} was served with other bytes (SHA-256 {sha256}, held {held})",
    "两面说法：第 {sequence} 版列表出现了不同内容（SHA-256 {sha256}，已接受的为 {held}）",
)


@dataclass(frozen=True)
class RefreshResult:
    peer: str
    outcome: str  # accepted | unchanged | not-modified | refused | failed | suspended
    sequence: int | None
    code: str | None = None
    message: str | None = None
    crls: tuple[CrlResult, ...] = ()

    def line(self) -> str:
        seq = f" list {self.sequence}" if self.sequence is not None else ""
        why = f": {self.message}" if self.message else ""
        return f"peer {self.peer}{seq} {self.outcome}{why}"

    def lines(self) -> list[str]:
        """The list's line, then one per CRL that changed or failed."""
        return [self.line()] + [c.line() for c in self.crls if c.outcome not in ("not-modified", "unchanged")]


def _bound(message: Message, **params: object) -> Message:
    return Message(message.code, message.format("en", **params), message.format("zh", **params))


def _record_problem(tx: Tx, peer: Peer, code: str, message: Message) -> None:
    """The fetch failed or the list was refused: the last good list stays; audited once per change."""
    text = message.format("en")[:1000]
    changed = (peer.last_error_code, peer.last_error) != (code, text)
    peer.last_fetch_at = tx.now
    peer.last_error_code, peer.last_error, peer.last_error_at = code, text, tx.now
    if changed:
        tx.audit(
            "peer.refresh_failed",
            "peer",
            peer.name,
            code=code,
            error=text[:300],
            sequence=peer.list_sequence,
        )


def _ok(tx: Tx, peer: Peer) -> None:
    peer.last_fetch_at = peer.last_success_at = tx.now
    peer.last_error_code = peer.last_error = None
    peer.last_error_at = None


def _chain(
    peer: Peer, held: tl.SignedList, new: tl.SignedList, extra: tuple[tl.SigningKey, ...]
) -> list[tuple[tl.SignedList, bytes]]:
    """The versions between the held list and ``new``, fetched from ``lists/<n>.jws``."""
    out = []
    for n in range(held.sequence + 1, new.sequence):
        got = fetch_list(past_list_url(peer.trust_list_url, n))
        signed = read_list(got.document, extra)
        if signed.sequence != n:
            raise ListProblem(
                "broken-chain",
                _bound(
                    M("peer_refresh.wrong_number", "lists/{n}.jws holds list {m}", "lists/{n}.jws 中是第 {m} 版"),
                    n=n,
                    m=signed.sequence,
                ),
            )
        out.append((signed, got.document))
        extra = extra + signed.trust_list.scheme.signing_keys
    return out


def _refresh_one(ctx: ServiceContext, actor: Actor, name: str) -> RefreshResult:
    with reading(ctx, actor) as tx:
        peer = find_peer(tx, name)
        held_pair = held_list(tx, peer)
        accepted = pins(tx, peer)
        url, etag, last_modified, area = peer.trust_list_url, peer.etag, peer.last_modified, peer.area_code
        held_row_sequence = held_pair[0].sequence if held_pair else None
    held = held_pair[1] if held_pair else None
    problem: tuple[str, Message] | None = None
    got = None
    chain: list[tuple[tl.SignedList, bytes]] = []
    decision: tl.Decision | None = None
    new: tl.SignedList | None = None
    try:
        got = fetch_list(url, etag=etag if held else None, last_modified=last_modified if held else None)
        if got.status == 304:
            with begin(ctx, actor) as tx:
                peer = find_peer(tx, name, lock=True)
                _ok(tx, peer)
            return RefreshResult(name, "not-modified", held_row_sequence)
        extra = held.trust_list.scheme.signing_keys if held else ()
        new = read_list(got.document, extra)
        if held is not None and new.sequence > held.sequence + 1:
            if new.sequence - held.sequence > MAX_WALK:
                raise ListProblem("too-far", _bound(_TOO_FAR, sequence=new.sequence, last=held.sequence, n=MAX_WALK))
            try:
                chain = _chain(peer, held, new, extra)
            except (FetchError, ListProblem) as exc:
                error: object = exc.message if isinstance(exc, ListProblem) else exc
                raise ListProblem(
                    "broken-chain", _bound(_GAP, sequence=new.sequence, last=held.sequence, error=error)
                ) from None
        decision, _ = tl.walk(held, accepted, [s for s, _doc in chain] + [new], area_code=area, now=ctx.clock.now())
    except FetchError as exc:
        assert exc.message is not None
        problem = (exc.kind, _bound(exc.message, **exc.params))
    except ListProblem as exc:
        problem = (exc.code, exc.message)
    with begin(ctx, actor) as tx:
        peer = find_peer(tx, name, lock=True)
        if peer.list_sequence != held_row_sequence or peer.state == "withdrawn":
            return RefreshResult(name, "skipped", peer.list_sequence, message="changed meanwhile")
        if problem is not None:
            _record_problem(tx, peer, *problem)
            return RefreshResult(name, "failed", peer.list_sequence, problem[0], problem[1].format("en"))
        assert decision is not None and new is not None and got is not None
        if decision.suspends_peer:
            reason = _bound(
                _EQUIVOCATION_REASON,
                sequence=new.sequence,
                sha256=new.sha256[:16],
                held=held.sha256[:16] if held else "",
            )
            _record_problem(tx, peer, "equivocation", reason)
            if peer.state == "active":
                peer.state, peer.state_since, peer.state_by = "suspended", tx.now, "system:peer-refresher"
                peer.state_reason = reason.format("zh")[:500]
            tx.audit(
                "peer.equivocation",
                "peer",
                peer.name,
                sequence=new.sequence,
                sha256=new.sha256,
                held_sha256=held.sha256 if held else None,
            )
            return RefreshResult(name, "suspended", peer.list_sequence, "equivocation", reason.format("en"))
        if not decision.accepted and decision.outcome is not tl.Outcome.UNCHANGED:
            assert decision.message is not None
            _record_problem(tx, peer, str(decision.refusal.value if decision.refusal else "refused"), decision.message)
            return RefreshResult(
                name,
                "refused",
                peer.list_sequence,
                decision.refusal.value if decision.refusal else None,
                decision.message.format("en"),
            )
        _ok(tx, peer)
        peer.etag, peer.last_modified = got.etag, got.last_modified
        if decision.outcome is tl.Outcome.UNCHANGED:
            return RefreshResult(name, "unchanged", peer.list_sequence)
        for signed, document in [*chain, (new, got.document)]:
            store_list(tx, peer, signed, document, tx.now)
        for kid in sorted(decision.rolled_over):
            if tx.session.get(PeerKey, (peer.id, kid)) is None:
                tx.session.add(
                    PeerKey(
                        peer_id=peer.id,
                        kid=kid,
                        source="rollover",
                        added_at=tx.now,
                        from_sequence=held.sequence if held else None,
                    )
                )
                tx.audit("peer.key_rolled_over", "peer", peer.name, kid=kid, sequence=new.sequence, sha256=new.sha256)
        peer.list_sequence = new.sequence
        tx.audit(
            "peer.list_accepted",
            "peer",
            peer.name,
            sequence=new.sequence,
            sha256=new.sha256,
            previous=held.sequence if held else None,
            walked=len(chain),
        )
        return RefreshResult(name, "accepted", new.sequence)


_NOT_REFRESHED = M(
    "peer_refresh.not_refreshed",
    "{name} is {state}: only active and suspended peers are refreshed",
    "{name} 的状态为{state}：只刷新已认可或已暂停的对方机构",
)


def _names(ctx: ServiceContext, actor: Actor, name: str | None) -> list[str]:
    with reading(ctx, actor) as tx:
        if name is not None:
            peer = find_peer(tx, name)
            if peer.state not in ("active", "suspended"):
                raise InvalidTransition(_NOT_REFRESHED, name=peer.name, state=state_label(peer.state))
            return [peer.name]
        query = select(Peer.name).where(Peer.state.in_(("active", "suspended"))).order_by(Peer.name)
        return list(tx.session.scalars(query))


def refresh(ctx: ServiceContext, actor: Actor, name: str | None = None) -> list[RefreshResult]:
    """``registry peer refresh [NAME]``: every active or suspended peer (or the one named) now."""
    require(actor.name, actor.roles, Permission.PEER_MANAGE)
    out = []
    for peer_name in _names(ctx, actor, name):
        try:
            result = _refresh_one(ctx, actor, peer_name)
            if result.outcome in ("accepted", "suspended"):
                ctx.forget(TRUST_STORE_KEY)
            out.append(dataclasses.replace(result, crls=tuple(refresh_crls(ctx, actor, peer_name))))
        except Exception as exc:  # noqa: BLE001 - one peer never stops the others
            out.append(RefreshResult(peer_name, "failed", None, "internal", f"{type(exc).__name__}: {exc}"[:300]))
    return out


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def refresher(ctx: ServiceContext, every: float | None = None) -> Callable[[], Iterator[str]]:
    """For the publisher daemon (beside ``registry serve``): every ``every`` seconds
    (``REGISTRY_PEER_REFRESH_SECONDS``, 300 by default), under the database lease ``peers`` so that
    one node of several refreshes, every peer; yields a line for each change or problem."""
    interval = float(ctx.settings.peer_refresh_seconds if every is None else every)
    actor = Actor.system("peer-refresher")
    last = [float("-inf")]

    def tick() -> Iterator[str]:
        if time.monotonic() - last[0] < interval:
            return
        last[0] = time.monotonic()
        try:
            with leases.lease(ctx, LEASE, _holder(), LEASE_TTL):
                results = refresh(ctx, actor)
        except leases.LeaseHeld:
            return  # another node is refreshing
        for r in results:
            lines = r.lines()
            if r.outcome not in ("not-modified", "unchanged"):
                yield lines[0]
            yield from lines[1:]

    return tick
