"""PostgreSQL: keep SESeal and certificate bytes out of line without compression

The SESeal embeds a PNG, which does not compress; trying (pglz) costs server CPU on every issuance.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE seals ALTER COLUMN ses_der SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE seals ALTER COLUMN ses_der SET STORAGE EXTENDED")
