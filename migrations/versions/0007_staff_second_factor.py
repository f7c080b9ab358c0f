"""staff second factor: TOTP secret, replay guard, failed-login throttle, language

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no table rebuild: SQLite would have to copy users under its foreign keys)
    op.add_column("users", sa.Column("totp_secret_blob", sa.LargeBinary(), nullable=True))
    op.add_column("users", sa.Column("totp_enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("users", sa.Column("locked_until", registry.db.types.UTCDateTime(), nullable=True))
    op.add_column("users", sa.Column("last_login_at", registry.db.types.UTCDateTime(), nullable=True))
    op.add_column("users", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    for column in (
        "language",
        "last_login_at",
        "locked_until",
        "failed_logins",
        "totp_last_step",
        "totp_enabled",
        "totp_secret_blob",
    ):
        op.drop_column("users", column)  # SQLite 3.35+ drops a column in place
