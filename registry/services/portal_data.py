"""What an enterprise sees of itself in the portal: its applications (with their timeline) and
seals. Every read is scoped by the enterprise's id; another enterprise's id is "not found"."""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ..db.models import AuditEvent, Seal, SealApplication
from ..domain.errors import NotFound
from .context import ServiceContext
from .portal_access import Principal, visible_seals

__all__ = ["overview", "application"]


def overview(ctx: ServiceContext, principal: Principal) -> dict[str, Any]:
    """The seals this person can see; the applications only for the legal representative."""
    now = ctx.clock.now()
    window = dt.timedelta(days=ctx.settings.renewal_window_days)
    with ctx.reader() as s:
        apps = s.scalars(select(SealApplication).where(SealApplication.enterprise_id == principal.enterprise_id)
                         .order_by(SealApplication.id.desc()).limit(100)).all() if principal.is_legal_representative else []
        sl = s.scalars(visible_seals(principal).order_by(Seal.id.desc()).limit(100)).all()
        return {
            "applications": [{"id": a.id, "seal_type": a.seal_type.code, "state": a.state.value,
                              "submitted_at": a.submitted_at, "reason": a.decided_reason} for a in apps],
            "seals": [{"es_id": x.es_id, "name": x.name, "seal_type": x.seal_type.code,
                       "status": x.effective_status(now), "valid_end": x.valid_end,
                       "renewal_open": x.effective_status(now) == "active" and now >= x.valid_end - window}
                      for x in sl],
        }


_STEPS = {"application.submitted": "submitted", "application.reviewed": "reviewed", "application.approved": "approved",
          "application.rejected": "rejected", "application.withdrawn": "withdrawn", "application.issued": "issued"}


def application(ctx: ServiceContext, enterprise_id: int, app_id: int) -> dict[str, Any]:
    with ctx.reader() as s:
        app = s.scalar(select(SealApplication).where(SealApplication.id == app_id,
                                                     SealApplication.enterprise_id == enterprise_id))
        if app is None:
            raise NotFound(f"no application {app_id}")
        events = s.scalars(select(AuditEvent).where(AuditEvent.target_type == "application",
                                                    AuditEvent.target_id == str(app.id)).order_by(AuditEvent.id)).all()
        timeline = [{"step": _STEPS[e.action], "at": e.occurred_at} for e in events if e.action in _STEPS]
        return {"id": app.id, "seal_type": app.seal_type.code, "state": app.state.value, "reason": app.decided_reason,
                "submitted_at": app.submitted_at, "timeline": timeline,
                "seal": app.seal.es_id if app.seal is not None else None,
                "withdrawable": app.state.value in ("submitted", "reviewed")}
