"""revocations and crls

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:01:07.390272
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "crl_counters",
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["issuer_id"], ["authorities.id"], name=op.f("fk_crl_counters_issuer_id_authorities")),
        sa.PrimaryKeyConstraint("issuer_id", name=op.f("pk_crl_counters")),
    )
    op.create_table(
        "published_crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=True),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("base_number", sa.BigInteger(), nullable=True),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("this_update", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("next_update", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("published_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('full', 'delta', 'shard')", name=op.f("ck_published_crls_kind")),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["authorities.id"], name=op.f("fk_published_crls_issuer_id_authorities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_crls")),
        sa.UniqueConstraint("issuer_id", "number", name="uq_published_crls_issuer_number"),
    )
    with op.batch_alter_table("published_crls", schema=None) as batch_op:
        batch_op.create_index("ix_published_crls_path", ["path", "number"], unique=False)

    op.create_table(
        "revocation_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("occurred_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("not_after", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("entry_der", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("kind IN ('listed', 'unlisted')", name=op.f("ck_revocation_events_kind")),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_revocation_events_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["authorities.id"], name=op.f("fk_revocation_events_issuer_id_authorities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocation_events")),
    )
    with op.batch_alter_table("revocation_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revocation_events_certificate_id"), ["certificate_id"], unique=False)
        batch_op.create_index("ix_revocation_events_issuer_id", ["issuer_id", "id"], unique=False)

    op.create_table(
        "revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("reason", sa.SmallInteger(), nullable=False),
        sa.Column("revoked_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("invalidity_date", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("not_after", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("entry_der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_revocations_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(["issuer_id"], ["authorities.id"], name=op.f("fk_revocations_issuer_id_authorities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revocations")),
        sa.UniqueConstraint("certificate_id", name=op.f("uq_revocations_certificate_id")),
    )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_index("ix_revocations_issuer_shard", ["issuer_id", "shard"], unique=False)

    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", registry.db.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("revocation_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("superseded_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_seals_superseded_by_id_seals"), "seals", ["superseded_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_seals_superseded_by_id_seals"), type_="foreignkey")
        batch_op.drop_column("superseded_by_id")
        batch_op.drop_column("revocation_reason")
        batch_op.drop_column("revoked_at")

    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.drop_index("ix_revocations_issuer_shard")

    op.drop_table("revocations")
    with op.batch_alter_table("revocation_events", schema=None) as batch_op:
        batch_op.drop_index("ix_revocation_events_issuer_id")
        batch_op.drop_index(batch_op.f("ix_revocation_events_certificate_id"))

    op.drop_table("revocation_events")
    with op.batch_alter_table("published_crls", schema=None) as batch_op:
        batch_op.drop_index("ix_published_crls_path")

    op.drop_table("published_crls")
    op.drop_table("crl_counters")
    op.drop_table("leases")
