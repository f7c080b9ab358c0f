"""e-mail notifications: notices derived from the audit log and the expiry scan, daily digests

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

notifications holds one row per thing an enterprise is told (unique dedupe_key: ``audit:<seq>`` or
``expiry:<seal id>:<days>``); notification_digests one row per e-mail, unique per (enterprise, local
day); notify_state the job's place in the audit log. The job starts reading after the audit events
that exist when this migration runs, so upgrading a registry with a history does not mail its past.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_KINDS = (
    "application_approved",
    "application_rejected",
    "application_reissue",
    "seal_issued",
    "seal_revoked",
    "seal_suspended",
    "seal_resumed",
    "seal_expiring",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "notification_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("cc_addresses", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("notices", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.CheckConstraint(
            _in("status", ("sending", "sent", "failed", "undeliverable")), name=op.f("ck_notification_digests_status")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_notification_digests_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_digests")),
        sa.UniqueConstraint("enterprise_id", "local_day", name="uq_notification_digests_enterprise_day"),
    )
    op.create_index("ix_notification_digests_status", "notification_digests", ["status"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=True),
        sa.Column("seal_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_in("kind", _KINDS), name=op.f("ck_notifications_kind")),
        sa.CheckConstraint(
            _in("state", ("pending", "sent", "folded", "undeliverable")), name=op.f("ck_notifications_state")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_notifications_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"], name=op.f("fk_notifications_seal_id_seals")),
        sa.ForeignKeyConstraint(
            ["application_id"], ["seal_applications.id"], name=op.f("fk_notifications_application_id_seal_applications")
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"], ["notification_digests.id"], name=op.f("fk_notifications_digest_id_notification_digests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    op.create_index(op.f("ix_notifications_digest_id"), "notifications", ["digest_id"])
    op.create_index("ix_notifications_state_enterprise", "notifications", ["state", "enterprise_id"])
    op.create_table(
        "notify_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("expiry_scanned_on", sa.Date(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_notify_state_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_state")),
    )
    # Start after the history that exists now: an upgraded registry does not mail its past.
    op.execute(
        "INSERT INTO notify_state (id, audit_seq, expiry_scanned_on) "
        "SELECT 1, COALESCE(MAX(seq), 0), NULL FROM audit_events"
    )


def downgrade() -> None:
    op.drop_table("notify_state")
    op.drop_index("ix_notifications_state_enterprise", table_name="notifications")
    op.drop_index(op.f("ix_notifications_digest_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_notification_digests_status", table_name="notification_digests")
    op.drop_table("notification_digests")
