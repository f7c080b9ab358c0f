"""server-side web sessions and used e-licence challenges

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

web_sessions holds one row per signed-in browser (admin or enterprise portal); the cookie carries a
random token whose SHA-256 is the key, so ending the row (sign-out, deactivation, a password or
second-factor reset, a change of legal representative) ends the session wherever the cookie was
copied. used_challenges remembers each answered e-licence challenge, so a credential signs in once.
Sessions signed in before this migration (signed cookies only) are not carried over: everyone signs
in again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("legal_representative", sa.String(length=200), nullable=True),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("seen_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("ended_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint("kind IN ('staff', 'representative', 'person')", name=op.f("ck_web_sessions_kind")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["enterprise_people.id"], name=op.f("fk_web_sessions_person_id_enterprise_people")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_web_sessions_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_person", "web_sessions", ["person_id"])
    op.create_index("ix_web_sessions_enterprise", "web_sessions", ["enterprise_id"])
    op.create_table(
        "used_challenges",
        sa.Column("challenge", sa.String(length=64), nullable=False),
        sa.Column("used_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("challenge", name=op.f("pk_used_challenges")),
    )
    op.create_index(op.f("ix_used_challenges_used_at"), "used_challenges", ["used_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_used_challenges_used_at"), table_name="used_challenges")
    op.drop_table("used_challenges")
    op.drop_index("ix_web_sessions_enterprise", table_name="web_sessions")
    op.drop_index("ix_web_sessions_person", table_name="web_sessions")
    op.drop_index("ix_web_sessions_user", table_name="web_sessions")
    op.drop_table("web_sessions")
