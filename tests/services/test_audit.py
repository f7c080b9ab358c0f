"""The audit log is written in the change's transaction and cannot be rewritten afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from registry.db.models import AuditEvent
from registry.domain.errors import Conflict
from registry.domain.roles import Role
from registry.services import users
from registry.services.context import ServiceContext
from tests.support.data import ADMIN


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"])
def test_audit_events_cannot_be_updated_or_deleted(ctx: ServiceContext, statement: str) -> None:
    with ctx.reader() as s:
        before = s.scalar(select(func.count(AuditEvent.id)))
    assert before > 0
    with pytest.raises(DatabaseError, match="append-only"), ctx.engine.begin() as conn:
        conn.execute(text(statement))
    with ctx.reader() as s:
        assert s.scalar(select(func.count(AuditEvent.id))) == before
        assert s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.actor == "mallory")) == 0


def test_a_refused_change_leaves_no_audit_event(ctx: ServiceContext) -> None:
    with ctx.reader() as s:
        before = s.scalar(select(func.count(AuditEvent.id)))
    with pytest.raises(Conflict, match="already exists"):
        users.add_user(ctx, ADMIN, "olivia", [Role.OPERATOR])
    with ctx.reader() as s:
        assert s.scalar(select(func.count(AuditEvent.id))) == before


def test_user_creation_is_audited_with_its_roles(ctx: ServiceContext) -> None:
    users.add_user(ctx, ADMIN, "newbie", [Role.AUDITOR, Role.OPERATOR])
    with ctx.reader() as s:
        ev = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.created", AuditEvent.target_id == "newbie")
        ).one()
        assert ev.actor == "test-admin" and ev.details == {"roles": ["auditor", "operator"]}
