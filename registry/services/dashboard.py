"""Figures for the admin dashboard (read-only; any staff member may see them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from ..db.models import Seal, SealApplication
from ..domain.states import ApplicationState
from . import crl_index
from .context import ServiceContext

OPEN_STATES = (ApplicationState.SUBMITTED, ApplicationState.REVIEWED)


@dataclass
class Dashboard:
    now: dt.datetime
    pending: dict[str, int]
    oldest: list[dict[str, Any]]
    per_day: list[dict[str, Any]]  # {day, issued, revoked} for the last 30 days, oldest first
    by_type_status: dict[str, dict[str, int]]
    statuses: list[str]
    crls: list[crl_index.CrlInfo] = field(default_factory=list)

    @property
    def max_per_day(self) -> int:
        return max([1] + [d["issued"] for d in self.per_day] + [d["revoked"] for d in self.per_day])


def _day(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def build(ctx: ServiceContext) -> Dashboard:
    now = ctx.clock.now()
    since = (now - dt.timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    with ctx.reader() as s:
        pending = {state.value: 0 for state in OPEN_STATES}
        for state, n in s.execute(
            select(SealApplication.state, func.count())
            .where(SealApplication.state.in_(OPEN_STATES))
            .group_by(SealApplication.state)
        ):
            pending[state.value] = n
        oldest = [
            {
                "id": a.id,
                "state": a.state.value,
                "submitted_at": a.submitted_at,
                "age_hours": (now - a.submitted_at).total_seconds() / 3600,
                "enterprise": a.enterprise.name,
                "seal_type": a.seal_type,
            }
            for a in s.scalars(
                select(SealApplication)
                .where(SealApplication.state.in_(OPEN_STATES))
                .order_by(SealApplication.submitted_at)
                .limit(8)
            )
        ]
        issued = {
            _day(d): n
            for d, n in s.execute(
                select(func.date(Seal.created_at), func.count())
                .where(Seal.created_at >= since)
                .group_by(func.date(Seal.created_at))
            )
        }
        revoked = {
            _day(d): n
            for d, n in s.execute(
                select(func.date(Seal.revoked_at), func.count())
                .where(Seal.revoked_at >= since)
                .group_by(func.date(Seal.revoked_at))
            )
        }
        by: dict[str, dict[str, int]] = {}
        statuses: set[str] = set()
        for st, status, n in s.execute(
            select(Seal.seal_type, Seal.status, func.count()).group_by(Seal.seal_type, Seal.status)
        ):
            by.setdefault(st.code, {})[status.value] = n
            statuses.add(status.value)
    days = [(since + dt.timedelta(days=i)).date() for i in range(30)]
    per_day = [{"day": d, "issued": issued.get(d, 0), "revoked": revoked.get(d, 0)} for d in days]
    crls = [c for c in crl_index.latest(ctx, now) if c.kind == "full"]
    return Dashboard(now, pending, oldest, per_day, by, sorted(statuses), crls)
