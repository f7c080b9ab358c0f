"""audit hash chain: audit_events get seq, prev_hash and hash (SM3, see registry.services.audit);
existing events are chained in id order; audit_chain_head holds the chain's last link

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

The append-only triggers of 0002 stay: they are switched off only for the backfill (PostgreSQL:
disabled inside this transaction, which holds the table's exclusive lock; SQLite: dropped and
created again, since the batch rebuild of the table drops them anyway). The head row may only move
forward and cannot be deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = "audit_events is append-only"
HEAD_GUARD = "audit_chain_head only moves forward"
BATCH = 5000


def _sqlite_append_only_triggers() -> None:
    # As created by 0002.
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events
                       BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")


def _backfill(conn: sa.Connection) -> tuple[int, str]:
    """Chain the existing events in id order; returns the head (last seq, last hash)."""
    from registry.services.core.audit import GENESIS, event_hash

    t = sa.table(
        "audit_events",
        sa.column("id", sa.Integer()),
        sa.column("occurred_at", registry.db.types.UTCDateTime()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("target_type", sa.String()),
        sa.column("target_id", sa.String()),
        sa.column("details", sa.JSON()),
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    seq, prev, last_id = 0, GENESIS, 0
    stmt = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("b_id"))
        .values(seq=sa.bindparam("b_seq"), prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    )
    while True:
        rows = conn.execute(
            sa.select(t.c.id, t.c.occurred_at, t.c.actor, t.c.action, t.c.target_type, t.c.target_id, t.c.details)
            .where(t.c.id > last_id)
            .order_by(t.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return seq, prev
        params = []
        for r in rows:
            seq += 1
            h = event_hash(seq, r.occurred_at, r.actor, r.action, r.target_type, r.target_id, r.details, prev)
            params.append({"b_id": r.id, "b_seq": seq, "b_prev": prev, "b_hash": h})
            prev = h
        conn.execute(stmt, params)
        last_id = rows[-1].id


def upgrade() -> None:
    conn = op.get_bind()
    pg = conn.dialect.name == "postgresql"
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_head_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:  # plain ADD COLUMN
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    if pg:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    last_seq, last_hash = _backfill(conn)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
    if pg:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        _sqlite_append_only_triggers()

    op.execute(
        sa.text("INSERT INTO audit_chain_head (id, last_seq, last_hash) VALUES (1, :s, :h)").bindparams(
            s=last_seq, h=last_hash
        )
    )
    if pg:
        op.execute(f"""
            CREATE FUNCTION registry_audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND NEW.last_seq > OLD.last_seq THEN RETURN NEW; END IF;
                RAISE EXCEPTION '{HEAD_GUARD}' USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("""CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head
                      FOR EACH ROW EXECUTE FUNCTION registry_audit_head_guard()""")
        op.execute("""CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
                      FOR EACH STATEMENT EXECUTE FUNCTION registry_audit_head_guard()""")
    else:
        op.execute(f"""CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE ON audit_chain_head
                       WHEN NEW.last_seq <= OLD.last_seq BEGIN SELECT RAISE(ABORT, '{HEAD_GUARD}'); END""")
        op.execute(f"""CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
                       BEGIN SELECT RAISE(ABORT, '{HEAD_GUARD}'); END""")


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_forward_only ON audit_chain_head")
        op.execute("DROP FUNCTION IF EXISTS registry_audit_head_guard()")
    op.drop_table("audit_chain_head")  # SQLite drops its triggers with it
    if not pg:  # the batch rebuild below drops the append-only triggers: made again after it
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    if not pg:
        _sqlite_append_only_triggers()
