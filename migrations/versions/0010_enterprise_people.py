"""enterprise portal: authorised persons, their authority over seals, the enterprise's contact address

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

The legal representative signs in with the electronic business licence; the people they authorise
sign in with a password and TOTP (enterprise_people, unique username within the enterprise) and may
hold or manage particular seals (seal_grants). enterprises.contact_email is where the portal's
notices go.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enterprises", sa.Column("contact_email", sa.String(length=254), nullable=False, server_default=""))
    op.create_table(
        "enterprise_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("totp_secret_blob", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_login_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_enterprise_people_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_people")),
        sa.UniqueConstraint("enterprise_id", "username", name="uq_enterprise_people_username"),
    )
    op.create_index(op.f("ix_enterprise_people_enterprise_id"), "enterprise_people", ["enterprise_id"])
    op.create_table(
        "seal_grants",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("authority", sa.String(length=8), nullable=False),
        sa.Column("granted_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("authority IN ('hold', 'manage')", name=op.f("ck_seal_grants_authority")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["enterprise_people.id"], name=op.f("fk_seal_grants_person_id_enterprise_people")
        ),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"], name=op.f("fk_seal_grants_seal_id_seals")),
        sa.PrimaryKeyConstraint("person_id", "seal_id", name=op.f("pk_seal_grants")),
    )
    op.create_index(op.f("ix_seal_grants_seal_id"), "seal_grants", ["seal_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_seal_grants_seal_id"), table_name="seal_grants")
    op.drop_table("seal_grants")
    op.drop_index(op.f("ix_enterprise_people_enterprise_id"), table_name="enterprise_people")
    op.drop_table("enterprise_people")
    op.drop_column("enterprises", "contact_email")
