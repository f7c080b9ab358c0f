"""peers' CRLs: the newest CRL from each URL a peer's list names, and its entries stored once

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

peer_crls holds, per peer and URL, the newest CRL fetched (verified as signed by the CA the list
names for it, never lower-numbered than the one replaced); peer_revocations its entries, indexed
by (CRL, serial), so that a lookup costs an index probe per CRL of the issuer.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_sha256", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=True),
        sa.Column("base_number", sa.BigInteger(), nullable=True),
        sa.Column("this_update", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("next_update", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("fetched_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("checked_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("last_error_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('full', 'delta')", name=op.f("ck_peer_crls_kind")),
        sa.ForeignKeyConstraint(["peer_id"], ["peers.id"], name=op.f("fk_peer_crls_peer_id_peers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_crls")),
        sa.UniqueConstraint("peer_id", "url", name="uq_peer_crls_peer_url"),
    )
    op.create_table(
        "peer_revocations",
        sa.Column("crl_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("entry_der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["crl_id"], ["peer_crls.id"], name=op.f("fk_peer_revocations_crl_id_peer_crls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("crl_id", "serial", name=op.f("pk_peer_revocations")),
    )
    op.create_index("ix_peer_crls_issuer", "peer_crls", ["issuer_sha256"])


def downgrade() -> None:
    op.drop_index("ix_peer_crls_issuer", table_name="peer_crls")
    op.drop_table("peer_revocations")
    op.drop_table("peer_crls")
