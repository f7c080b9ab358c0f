"""the trust list we publish: its list-signing keys and every version published

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

list_signing_keys holds the SM2 and P-256 keys that sign our trust lists and nothing else (wrapped
under the KEK like the CA keys); trust_list_versions keeps every list published, with its exact
bytes, numbered 1, 2, 3 ... by its primary key. Nothing is created by this migration: the keys are
made by ``registry init`` (or the first ``registry trust-list publish``), the first list by the
first publication.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "list_signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("kid", sa.String(length=80), nullable=False),
        sa.Column("spki_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_blob", sa.LargeBinary(), nullable=False),
        sa.Column("key_kek_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("not_before", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("changed_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("alg IN ('ES256', 'SM2-SM3')", name=op.f("ck_list_signing_keys_alg")),
        sa.CheckConstraint(
            "status IN ('current', 'next', 'retired', 'compromised')", name=op.f("ck_list_signing_keys_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_signing_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_list_signing_keys_kid")),
    )
    op.create_table(
        "trust_list_versions",
        sa.Column(
            "sequence", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("issued_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("next_update", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("jws", sa.LargeBinary(), nullable=False),
        sa.Column("peers_jws", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_trust_list_versions")),
    )


def downgrade() -> None:
    op.drop_table("trust_list_versions")
    op.drop_table("list_signing_keys")
