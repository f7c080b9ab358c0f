"""Writing audit events. Always called inside the transaction of the change it records."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from ..db.models import AuditEvent
from .context import Actor, ServiceContext


def record(session: Session, ctx: ServiceContext, actor: Actor, action: str, target_type: str,
           target_id: object, **details: Any) -> AuditEvent:
    event = AuditEvent(occurred_at=ctx.clock.now(), actor=actor.name, action=action,
                       target_type=target_type, target_id=str(target_id), details=details)
    session.add(event)
    return event


def record_many(conn: Connection, ctx: ServiceContext,
                events: list[tuple[Actor, str, str, object, dict[str, Any]]]) -> None:
    """Insert several events in one statement on the transaction's connection (hot paths)."""
    now = ctx.clock.now()
    conn.execute(insert(AuditEvent), [
        {"occurred_at": now, "actor": who.name, "action": action, "target_type": target_type,
         "target_id": str(target_id), "details": details}
        for who, action, target_type, target_id, details in events])
