"""audit page indexes: newest first overall, per action, per target type and per target

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

The auditor's page (registry.services.audit_log) lists events newest first, by (occurred_at, seq),
in keyset pages, filtered by actor (ix_audit_events_actor_time, from 0001), time, action prefix,
target type, or target type and id. The indexes here serve each of the last four in page order, so
a page costs the same at a million events as at a hundred; ix_audit_events_target gains the two
order columns (it still serves the seal history's lookups by target). On PostgreSQL the action
column is indexed with text_pattern_ops, so an action prefix is a byte-order range under any
database collation (not only C).
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:  # CREATE INDEX, no rebuild
        batch_op.create_index("ix_audit_events_time", ["occurred_at", "seq"], unique=False)
        batch_op.create_index(
            "ix_audit_events_action_time",
            ["action", "occurred_at", "seq"],
            unique=False,
            postgresql_ops={"action": "text_pattern_ops"},
        )
        batch_op.create_index("ix_audit_events_type_time", ["target_type", "occurred_at", "seq"], unique=False)
        batch_op.drop_index("ix_audit_events_target")
        batch_op.create_index(
            "ix_audit_events_target", ["target_type", "target_id", "occurred_at", "seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_target")
        batch_op.create_index("ix_audit_events_target", ["target_type", "target_id"], unique=False)
        batch_op.drop_index("ix_audit_events_type_time")
        batch_op.drop_index("ix_audit_events_action_time")
        batch_op.drop_index("ix_audit_events_time")
