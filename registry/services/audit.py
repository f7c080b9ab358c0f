"""Writing audit events. Always called inside the transaction of the change it records."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..db.models import AuditEvent
from .context import Actor, ServiceContext


def record(session: Session, ctx: ServiceContext, actor: Actor, action: str, target_type: str,
           target_id: object, **details: Any) -> AuditEvent:
    event = AuditEvent(occurred_at=ctx.clock.now(), actor=actor.name, action=action,
                       target_type=target_type, target_id=str(target_id), details=details)
    session.add(event)
    return event
