"""Collecting notices: audit events after the watermark become notices (:func:`collect`), and the
daily expiry scan adds reminders (:func:`scan_expiry`). Each notice has a unique key (``audit:<seq>``,
``expiry:<seal id>:<days>``), recorded in the transaction that moves the watermark: running the job
again never records a notice twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ...db.models import AuditEvent, Notification, NotifyState, Seal, SealApplication
from ...domain.states import SealStatus
from ..context import ServiceContext
from ..core.tx import begin
from .job import JOB, fence, zone

__all__ = ["ACTIONS", "BATCH", "CHUNK", "collect", "scan_expiry"]

BATCH = 2000  # audit events read per transaction
CHUNK = 500  # keys per IN (...) list
ACTIONS = (
    "application.approved",
    "application.rejected",
    "application.submitted",
    "seal.issued",
    "seal.revoked",
    "seal.suspended",
    "seal.resumed",
)
UTC = dt.UTC


def _state(session: Session) -> NotifyState:
    row = session.scalar(select(NotifyState).where(NotifyState.id == 1).with_for_update())
    if row is None:  # (the migration made it) start after the existing history, never mail the past
        top = session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))
        row = NotifyState(id=1, audit_seq=int(top or 0), expiry_scanned_on=None)
        session.add(row)
        session.flush()
    return row


def _chunks(items: list[Any], n: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the notices whose key is not recorded yet; returns how many were new."""
    fresh: dict[str, dict[str, Any]] = {}
    for r in rows:
        fresh.setdefault(r["dedupe_key"], r)
    for part in _chunks(list(fresh)):
        for key in session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(part))):
            fresh.pop(key, None)
    if fresh:
        session.execute(insert(Notification), list(fresh.values()))
    return len(fresh)


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


# ------------------------------------------------------------------------------------------------
# Audit events → notices


def collect(ctx: ServiceContext, holder: str | None = None, batches: int | None = None) -> tuple[int, int]:
    """Turn the audit events after the watermark into notices. Returns (notices recorded, the
    audit ``seq`` read up to). ``batches`` bounds the work (of ``BATCH`` events each; the portal's
    notice centre reads one batch per page view: registry.services.notices); the rest is
    left for the next call. Without a holder (no lease) the calls are still serialised by the
    ``notify_state`` row lock, and a notice's unique key keeps it from being recorded twice."""
    total = done = end = 0
    while batches is None or done < batches:
        done += 1
        with begin(ctx, JOB) as tx:
            s = tx.session
            fence(tx, holder)
            state = _state(s)
            start = state.audit_seq
            top = int(s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)
            if top <= start:
                return total, start
            end = min(top, start + BATCH)
            events = s.execute(
                select(
                    AuditEvent.seq,
                    AuditEvent.occurred_at,
                    AuditEvent.action,
                    AuditEvent.target_type,
                    AuditEvent.target_id,
                    AuditEvent.details,
                )
                .where(AuditEvent.seq > start, AuditEvent.seq <= end, AuditEvent.action.in_(ACTIONS))
                .order_by(AuditEvent.seq)
            ).all()
            total += _insert_new(s, _notices_from(s, events, ctx.clock.now()))
            state.audit_seq = end
    return total, end


class _Targets:
    """The applications and seals a batch of events names, each looked up once, and for each seal
    the esID of the seal it renews (if it does)."""

    def __init__(self, s: Session, events: Sequence[Any]) -> None:
        app_ids = {int(e.target_id) for e in events if e.target_type == "application" and e.target_id.isdigit()}
        codes = {e.target_id for e in events if e.target_type == "seal"}
        self.apps: dict[int, Any] = {}
        for part in _chunks(sorted(app_ids)):
            self.apps.update(
                {
                    a.id: a
                    for a in s.execute(
                        select(SealApplication.id, SealApplication.enterprise_id, SealApplication.seal_type).where(
                            SealApplication.id.in_(part)
                        )
                    )
                }
            )
        self.seals: dict[str, Any] = {}
        for part in _chunks(sorted(codes)):
            self.seals.update(
                {
                    x.es_id: x
                    for x in s.execute(
                        select(
                            Seal.id,
                            Seal.es_id,
                            Seal.enterprise_id,
                            Seal.name,
                            Seal.seal_type,
                            Seal.valid_end,
                            Seal.application_id,
                        ).where(Seal.es_id.in_(part))
                    )
                }
            )
        self.renews: dict[int, str] = {}  # new seal id → the esID of the seal it replaced
        for part in _chunks(sorted(x.id for x in self.seals.values())):
            self.renews.update(
                {
                    r.superseded_by_id: r.es_id
                    for r in s.execute(select(Seal.es_id, Seal.superseded_by_id).where(Seal.superseded_by_id.in_(part)))
                }
            )


def _notices_from(s: Session, events: Sequence[Any], now: dt.datetime) -> list[dict[str, Any]]:
    """The notices (rows of ``notifications``) a batch of audit events gives, in event order."""
    targets = _Targets(s, events)
    out: list[dict[str, Any]] = []
    for e in events:
        d = e.details if isinstance(e.details, dict) else {}
        if e.target_type == "application":
            app = targets.apps.get(int(e.target_id)) if e.target_id.isdigit() else None
            notice = _application_notice(e.action, d, app) if app is not None else None
        else:
            seal = targets.seals.get(e.target_id)
            notice = _seal_notice(e, d, seal, targets.renews) if seal is not None else None
        if notice is not None:
            out.append(
                {
                    "dedupe_key": f"audit:{e.seq}",
                    "audit_seq": e.seq,
                    "occurred_at": e.occurred_at,
                    "created_at": now,
                    "state": "pending",
                    "digest_id": None,
                }
                | notice
            )
    return out


def _application_notice(action: str, d: dict[str, Any], app: Any) -> dict[str, Any] | None:
    """The notice of an event about an application, or None if it gives none."""
    info: dict[str, Any] = {"application": app.id, "seal_type": app.seal_type.code}
    if action == "application.approved":
        if d.get("policy") == "renewal":
            return None  # a renewal is approved by policy; its seal_issued notice says it all
        kind = "application_approved"
    elif action == "application.rejected":
        kind, info["reason"] = "application_rejected", str(d.get("reason") or "")
    elif action == "application.submitted" and d.get("channel") == "reissue":
        kind, info["replaces"] = "application_reissue", d.get("replaces")
    else:
        return None
    return {
        "kind": kind,
        "enterprise_id": app.enterprise_id,
        "application_id": app.id,
        "seal_id": None,
        "details": info,
    }


def _seal_notice(e: Any, d: dict[str, Any], seal: Any, renews: dict[int, str]) -> dict[str, Any] | None:
    """The notice of an event about a seal, or None if it gives none."""
    info: dict[str, Any] = {
        "es_id": seal.es_id,
        "name": seal.name,
        "seal_type": seal.seal_type.code,
        "valid_end": _iso(seal.valid_end),
    }
    if e.action == "seal.issued":
        kind = "seal_issued"
        info["renews"] = renews.get(seal.id)
    elif e.action == "seal.revoked":
        kind = "seal_revoked"
        info |= {
            "reason": d.get("reason"),
            "at": d.get("revoked_at") or _iso(e.occurred_at),
            "superseded_by": d.get("superseded_by"),
            "request": d.get("request"),
            "licence_event": bool(d.get("licence_event")),
        }
    elif e.action in ("seal.suspended", "seal.resumed"):
        kind = "seal_suspended" if e.action == "seal.suspended" else "seal_resumed"
        info["at"] = d.get("at") or _iso(e.occurred_at)
    else:
        return None
    return {
        "kind": kind,
        "enterprise_id": seal.enterprise_id,
        "seal_id": seal.id,
        "application_id": seal.application_id if kind == "seal_issued" else None,
        "details": info,
    }


# ------------------------------------------------------------------------------------------------
# The daily expiry scan


def scan_expiry(ctx: ServiceContext, holder: str | None = None) -> tuple[int, dt.date | None]:
    """Once per local day: a reminder for each active or suspended seal that has come within a
    reminder distance of its validEnd. Returns (reminders recorded, the day scanned) or (0, None)
    when today was scanned already."""
    tz = zone(ctx)
    now = ctx.clock.now()
    today = now.astimezone(tz).date()
    distances = sorted(ctx.settings.notify_reminder_days)
    # validEnd on a local day up to today + the largest distance: before the midnight after it
    limit = dt.datetime.combine(today + dt.timedelta(days=distances[-1] + 1), dt.time(0), tzinfo=tz).astimezone(UTC)
    with begin(ctx, JOB) as tx:
        s = tx.session
        fence(tx, holder)
        state = _state(s)
        if state.expiry_scanned_on is not None and state.expiry_scanned_on >= today:
            return 0, None
        rows = []
        for seal in s.execute(
            select(Seal.id, Seal.es_id, Seal.enterprise_id, Seal.name, Seal.seal_type, Seal.valid_end)
            .where(
                Seal.status.in_((SealStatus.ACTIVE, SealStatus.SUSPENDED)), Seal.valid_end > now, Seal.valid_end < limit
            )
            .order_by(Seal.id)
        ):
            left = (seal.valid_end.astimezone(tz).date() - today).days
            reached = [d for d in distances if d >= left]
            if not reached:
                continue
            threshold = reached[0]
            rows.append(
                {
                    "dedupe_key": f"expiry:{seal.id}:{threshold}",
                    "audit_seq": None,
                    "occurred_at": now,
                    "created_at": now,
                    "state": "pending",
                    "digest_id": None,
                    "kind": "seal_expiring",
                    "enterprise_id": seal.enterprise_id,
                    "seal_id": seal.id,
                    "application_id": None,
                    "details": {
                        "es_id": seal.es_id,
                        "name": seal.name,
                        "seal_type": seal.seal_type.code,
                        "valid_end": _iso(seal.valid_end),
                        "days_left": max(left, 0),
                        "threshold": threshold,
                    },
                }
            )
        created = _insert_new(s, rows)
        state.expiry_scanned_on = today
        return created, today
