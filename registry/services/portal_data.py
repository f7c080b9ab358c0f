"""What an enterprise sees of itself in the portal: its applications (with their timeline) and
seals. Every read is scoped by the enterprise's id; another enterprise's id is "not found"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ..db.models import AuditEvent, Seal, SealApplication
from ..domain.errors import M, NotFound
from ..domain.states import ApplicationState
from .context import ServiceContext
from .portal_access import Principal, visible_seals

__all__ = ["overview", "application", "application_picture", "PROGRESS"]


def overview(ctx: ServiceContext, principal: Principal) -> dict[str, Any]:
    """The seals this person can see; the applications only for the legal representative."""
    now = ctx.clock.now()
    window = dt.timedelta(days=ctx.settings.renewal_window_days)
    with ctx.reader() as s:
        apps = (
            s.scalars(
                select(SealApplication)
                .where(SealApplication.enterprise_id == principal.enterprise_id)
                .order_by(SealApplication.id.desc())
                .limit(100)
            ).all()
            if principal.is_legal_representative
            else []
        )
        sl = s.scalars(visible_seals(principal).order_by(Seal.id.desc()).limit(100)).all()
        return {
            "applications": [
                {
                    "id": a.id,
                    "seal_type": a.seal_type.code,
                    "state": a.state.value,
                    "submitted_at": a.submitted_at,
                    "reason": a.decided_reason,
                }
                for a in apps
            ],
            "seals": [
                {
                    "es_id": x.es_id,
                    "name": x.name,
                    "seal_type": x.seal_type.code,
                    "status": x.effective_status(now),
                    "valid_end": x.valid_end,
                    "renewal_open": x.effective_status(now) == "active" and now >= x.valid_end - window,
                }
                for x in sl
            ],
        }


_STEPS = {
    "application.submitted": "submitted",
    "application.reviewed": "reviewed",
    "application.approved": "approved",
    "application.rejected": "rejected",
    "application.withdrawn": "withdrawn",
    "application.issued": "issued",
}

#: The progress line an enterprise sees: 提交 → 执照核验 → 审批 → 签发 (the states each step reaches).
PROGRESS = ("submitted", "reviewed", "approved", "issued")


def _progress(state: str, timeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The four steps, each ``done`` (with when), ``current`` (the one being worked on now),
    ``stopped`` (where a rejected or withdrawn application ended) or ``pending``."""
    at = {t["step"]: t["at"] for t in timeline}
    reached = (
        PROGRESS.index(state)
        if state in PROGRESS
        else max((PROGRESS.index(t["step"]) for t in timeline if t["step"] in PROGRESS), default=0)
    )
    ended = state in ("rejected", "withdrawn")
    steps = []
    for i, step in enumerate(PROGRESS):
        if i <= reached:
            mark = "done"
        elif i == reached + 1:
            mark = "stopped" if ended else "current"
        else:
            mark = "pending"
        steps.append({"step": step, "mark": mark, "at": at.get(step)})
    return steps


def application(ctx: ServiceContext, enterprise_id: int, app_id: int) -> dict[str, Any]:
    with ctx.reader() as s:
        app = s.scalar(
            select(SealApplication).where(SealApplication.id == app_id, SealApplication.enterprise_id == enterprise_id)
        )
        if app is None:
            raise NotFound(M("portal.no_application", "no application {id}", "没有编号为 {id} 的申请"), id=app_id)
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_type == "application", AuditEvent.target_id == str(app.id))
            .order_by(AuditEvent.id)
        ).all()
        timeline = [{"step": _STEPS[e.action], "at": e.occurred_at} for e in events if e.action in _STEPS]
        state = app.state.value
        return {
            "id": app.id,
            "seal_type": app.seal_type.code,
            "seal_type_enum": app.seal_type,
            "state": state,
            "state_enum": app.state,
            "reason": app.decided_reason,
            "submitted_at": app.submitted_at,
            "timeline": timeline,
            "progress": _progress(state, timeline),
            "uploaded_picture": app.picture_png is not None,
            "seal": app.seal.es_id if app.seal is not None else None,
            "withdrawable": state in (ApplicationState.SUBMITTED.value, ApplicationState.REVIEWED.value),
        }


def application_picture(ctx: ServiceContext, enterprise_id: int, app_id: int) -> bytes:
    """The picture the application's seal carries: the issued seal's, the uploaded PNG, or the
    standard picture drawn from the licence data now."""
    from . import seals

    with ctx.reader() as s:
        app = s.scalar(
            select(SealApplication).where(SealApplication.id == app_id, SealApplication.enterprise_id == enterprise_id)
        )
        if app is None:
            raise NotFound(M("portal.no_application", "no application {id}", "没有编号为 {id} 的申请"), id=app_id)
        if app.seal is not None:
            return seals.seal_picture(app.seal).data
        if app.picture_png is not None:
            return app.picture_png
        ent = app.enterprise
        return seals.draw_picture(ctx.settings.seal_font, ent.name, ent.legal_representative, app.seal_type, ent.uscc)
