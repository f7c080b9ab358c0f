"""What ``registry peer list/show`` and ``/admin/peers`` show of each peer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ...db.trust_models import Peer, PeerCrl, PeerKey
from ...domain import trust_list as tl
from ...domain.roles import Permission, permissions_of, require
from ..context import Actor, ServiceContext
from ..core.tx import reading
from .admission import ServiceSummary, find_peer, summarise
from .lists import ListProblem, held_list

__all__ = ["PeerView", "CrlRow", "list_peers", "show_peer", "peer_crls", "expired_peers", "EXPIRY_WARNING"]

#: A list this close to its next_update with no newer one is flagged "expiry approaching".
EXPIRY_WARNING = dt.timedelta(hours=24)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PeerView:
    name: str
    kind: str
    area_code: str
    trust_list_url: str
    state: str
    state_since: dt.datetime
    state_by: str
    state_reason: str | None
    proposed_by: str
    proposed_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    keys: list[tuple[str, str]]  # (kid, source)
    last_fetch_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_error_code: str | None
    last_error: str | None
    last_error_at: dt.datetime | None
    operator_zh: str | None = None
    operator_en: str | None = None
    sequence: int | None = None
    sha256: str | None = None
    issued_at: dt.datetime | None = None
    next_update: dt.datetime | None = None
    fetched_at: dt.datetime | None = None
    services: tuple[ServiceSummary, ...] = ()
    announced_keys: tuple[str, ...] = ()  # kids the list announces as next (a rollover coming)
    alerts: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "area_code": self.area_code,
            "trust_list_url": self.trust_list_url,
            "state": self.state,
            "state_since": _iso(self.state_since),
            "state_by": self.state_by,
            "state_reason": self.state_reason,
            "proposed_by": self.proposed_by,
            "proposed_at": _iso(self.proposed_at),
            "approved_by": self.approved_by,
            "approved_at": _iso(self.approved_at),
            "keys": [{"kid": k, "source": s} for k, s in self.keys],
            "list": None
            if self.sequence is None
            else {
                "sequence": self.sequence,
                "sha256": self.sha256,
                "issued_at": _iso(self.issued_at),
                "next_update": _iso(self.next_update),
                "fetched_at": _iso(self.fetched_at),
                "operator": {"name_zh": self.operator_zh, "name_en": self.operator_en},
            },
            "services": [
                {
                    "id": s.id,
                    "role": s.role,
                    "alg": s.alg,
                    "status": s.status,
                    "subject": s.subject,
                    "sha256": s.sha256,
                    "not_after": _iso(s.not_after),
                    "constraints": s.constraints,
                    "crl": list(s.crl_urls),
                }
                for s in self.services
            ],
            "last_fetch_at": _iso(self.last_fetch_at),
            "last_success_at": _iso(self.last_success_at),
            "last_error": None
            if self.last_error_code is None
            else {"code": self.last_error_code, "message": self.last_error, "at": _iso(self.last_error_at)},
            "alerts": list(self.alerts),
        }


def _view(tx: Any, peer: Peer, now: dt.datetime) -> PeerView:
    keys = [
        (k.kid, k.source)
        for k in tx.session.scalars(
            select(PeerKey).where(PeerKey.peer_id == peer.id).order_by(PeerKey.added_at, PeerKey.kid)
        )
    ]
    extra: dict[str, Any] = {}
    alerts = []
    try:
        held = held_list(tx, peer)
    except ListProblem:
        held = None
        alerts.append("stored-list-unreadable")
    if held is not None:
        row, signed = held
        sch = signed.trust_list.scheme
        extra = {
            "operator_zh": sch.operator.name_zh,
            "operator_en": sch.operator.name_en,
            "sequence": row.sequence,
            "sha256": row.sha256,
            "issued_at": row.issued_at,
            "next_update": row.next_update,
            "fetched_at": row.fetched_at,
            "services": summarise(signed.trust_list),
            "announced_keys": tuple(k.kid for k in sch.signing_keys if k.status is tl.KeyStatus.NEXT),
        }
        if now >= row.next_update:
            alerts.append("list-expired")
        elif row.next_update - now <= EXPIRY_WARNING:
            alerts.append("expiry-approaching")
        if extra["announced_keys"]:
            alerts.append("rollover-announced")
        if not any(s.role == "root" and s.status == "granted" for s in extra["services"]):
            alerts.append("no-anchors")
    elif peer.state != "withdrawn":
        alerts.append("no-list")
    if peer.last_error_code == "equivocation":
        alerts.append("equivocation")
    elif peer.last_error_code is not None:
        alerts.append(
            "signature-error" if peer.last_error_code in ("signature", "untrusted-signer") else "fetch-failing"
        )
    return PeerView(
        peer.name,
        peer.kind,
        peer.area_code,
        peer.trust_list_url,
        peer.state,
        peer.state_since,
        peer.state_by,
        peer.state_reason,
        peer.proposed_by,
        peer.proposed_at,
        peer.approved_by,
        peer.approved_at,
        keys,
        peer.last_fetch_at,
        peer.last_success_at,
        peer.last_error_code,
        peer.last_error,
        peer.last_error_at,
        alerts=tuple(alerts),
        **extra,
    )


def _may_view(actor: Actor) -> None:
    if not permissions_of(actor.roles) & {Permission.PEER_PROPOSE, Permission.PEER_APPROVE, Permission.PEER_MANAGE}:
        require(actor.name, actor.roles, Permission.SEAL_VIEW)


def list_peers(ctx: ServiceContext, actor: Actor) -> list[PeerView]:
    _may_view(actor)
    with reading(ctx, actor) as tx:
        peers = tx.session.scalars(select(Peer).order_by(Peer.name)).all()
        return [_view(tx, p, tx.now) for p in peers]


def show_peer(ctx: ServiceContext, actor: Actor, name: str) -> PeerView:
    _may_view(actor)
    with reading(ctx, actor) as tx:
        return _view(tx, find_peer(tx, name), tx.now)


def expired_peers(ctx: ServiceContext) -> list[str]:
    """Active peers whose list in force has expired (``/healthz`` is not healthy while any is)."""
    return [
        v.name for v in list_peers(ctx, Actor.system("health")) if v.state == "active" and "list-expired" in v.alerts
    ]


@dataclass(frozen=True)
class CrlRow:
    """One CRL held for a peer, as the admin page shows it."""

    service_id: str
    url: str
    kind: str
    number: int | None
    this_update: dt.datetime
    next_update: dt.datetime | None
    entries: int
    checked_at: dt.datetime
    last_error: str | None
    fresh: bool


def peer_crls(ctx: ServiceContext, actor: Actor, name: str) -> list[CrlRow]:
    """The CRLs held for the peer: number, times, freshness (now ≤ nextUpdate), the last error."""
    _may_view(actor)
    with reading(ctx, actor) as tx:
        peer = find_peer(tx, name)
        rows = tx.session.scalars(select(PeerCrl).where(PeerCrl.peer_id == peer.id).order_by(PeerCrl.url)).all()
        return [
            CrlRow(
                r.service_id,
                r.url,
                r.kind,
                r.number,
                r.this_update,
                r.next_update,
                r.entries,
                r.checked_at,
                r.last_error,
                r.next_update is not None and tx.now <= r.next_update,
            )
            for r in rows
        ]
