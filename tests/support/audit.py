"""A history of audit events made through the services, and tampering with it by raw SQL behind the
application's back (with the append-only triggers out of the way)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, select, text

from registry.db.models import AuditEvent
from registry.domain.roles import Role
from registry.services import audit, licences, revocation, seals, users
from registry.services.context import ServiceContext
from tests.support.data import ADMIN, SHENZHEN_USCC


def make_history(ctx: ServiceContext) -> None:
    """Seals issued (bulk path: record_many) and revoked, staff added, licences re-imported
    (ORM path: record), on top of the fixture's CA, staff and licence events."""
    for seal_type in ("finance", "contract"):
        ctx.clock.advance(minutes=1)
        seals.issue_seal(
            ctx,
            ADMIN,
            seals.IssueRequest(
                uscc=SHENZHEN_USCC,
                seal_type=seal_type,
                key=seals.KeyMaterial(generate=True),
                operator="olivia",
                approver="rita",
            ),
        )
    ctx.clock.advance(minutes=1)
    users.add_user(ctx, ADMIN, "zhangwei", [Role.OPERATOR], display_name="张伟")
    with ctx.reader() as s:
        es_id = s.scalar(
            select(AuditEvent.target_id).where(AuditEvent.action == "seal.issued").order_by(AuditEvent.seq).limit(1)
        )
    ctx.clock.advance(minutes=1)
    revocation.revoke_seal(ctx, ADMIN, es_id, "keyCompromise")
    ctx.clock.advance(minutes=1)
    licences.import_licences(
        ctx,
        ADMIN,
        (
            "uscc,name,legal_representative,entity_type,address,registered_on,status\n"
            "91440300MA5GK7B25F,深圳市福田样例贸易有限公司,李四,有限责任公司,"
            '深圳市福田区"新"址\t2号,2020-08-11,active\n'
        ).encode(),
        "更新.csv",
    )
    ctx.clock.advance(minutes=1)
    licences.set_licence_status(ctx, ADMIN, "91440300MA5GK7B25F", "active", name="深圳市福田新名“贸易”有限公司")


def rows(ctx: ServiceContext) -> list[Any]:
    with ctx.engine.connect() as c:
        return c.execute(select(AuditEvent.__table__).order_by(AuditEvent.seq)).all()


@contextmanager
def behind_the_back(ctx: ServiceContext) -> Iterator[Connection]:
    """A raw connection with the append-only and head triggers out of the way, as an attacker with
    database rights would have it; the triggers are back afterwards."""
    with ctx.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("audit_events", "audit_chain_head"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            yield conn
            for table in ("audit_events", "audit_chain_head"):
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            triggers = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name IN ('audit_events', 'audit_chain_head')"
                )
            ).all()
            assert len(triggers) == 4
            for name, _sql in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            yield conn
            for _name, sql in triggers:
                conn.execute(text(sql))


def tamper(ctx: ServiceContext, *statements: str, **params: Any) -> None:
    with behind_the_back(ctx) as conn:
        for s in statements:
            conn.execute(text(s), params)


def rehash(conn: Connection, from_seq: int, *, move_head: bool) -> None:
    """What an attacker with the algorithm does: recompute every hash from ``from_seq`` to the end."""
    events = conn.execute(select(AuditEvent.__table__).where(AuditEvent.seq >= from_seq).order_by(AuditEvent.seq)).all()
    prev = conn.execute(select(AuditEvent.hash).where(AuditEvent.seq == from_seq - 1)).scalar() or audit.GENESIS
    for e in events:
        h = audit.event_hash(e.seq, e.occurred_at, e.actor, e.action, e.target_type, e.target_id, e.details, prev)
        conn.execute(
            text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :i"), {"p": prev, "h": h, "i": e.id}
        )
        prev = h
    if move_head:
        conn.execute(
            text("UPDATE audit_chain_head SET last_seq = :s, last_hash = :h"), {"s": events[-1].seq, "h": prev}
        )
