"""the enterprise portal's notice centre: what each reader has read, and indexes to page notices

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

notice_reads holds, per enterprise and reader (0 for the legal representative, an authorised
person's id otherwise), the newest notification id shown to that reader in the portal: the unread
notices are those above it. Two indexes let the portal page an enterprise's notices (and a seal's,
for an authorised person) newest first and count the unread ones without a scan. Nothing is marked
read by this migration: every notice recorded before it counts as unread once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_reads",
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("reader", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seen_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_notice_reads_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("enterprise_id", "reader", name=op.f("pk_notice_reads")),
    )
    op.create_index("ix_notifications_enterprise_id", "notifications", ["enterprise_id", "id"])
    op.create_index("ix_notifications_seal_id", "notifications", ["seal_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_seal_id", table_name="notifications")
    op.drop_index("ix_notifications_enterprise_id", table_name="notifications")
    op.drop_table("notice_reads")
