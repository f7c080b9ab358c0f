"""peer registries: whom we recognise, the keys we accept for their lists, every list accepted

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

peers holds each peer (proposed, active, suspended, withdrawn) with its fetch bookkeeping;
peer_keys the list-signing keys accepted for it (pinned at admission, or announced in a rollover);
peer_lists every version of its trust list that verified and was accepted, with the signed bytes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("area_code", sa.String(length=6), nullable=False),
        sa.Column("trust_list_url", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_since", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("state_by", sa.String(length=100), nullable=False),
        sa.Column("state_reason", sa.String(length=500), nullable=True),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("proposed_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("list_sequence", sa.BigInteger(), nullable=True),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("last_modified", sa.String(length=64), nullable=True),
        sa.Column("last_fetch_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_success_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_error_code", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("last_error_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint("kind IN ('registry', 'ca')", name=op.f("ck_peers_kind")),
        sa.CheckConstraint("state IN ('proposed', 'active', 'suspended', 'withdrawn')", name=op.f("ck_peers_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peers")),
        sa.UniqueConstraint("name", name=op.f("uq_peers_name")),
    )
    op.create_table(
        "peer_keys",
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("added_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("from_sequence", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("source IN ('pinned', 'rollover')", name=op.f("ck_peer_keys_source")),
        sa.ForeignKeyConstraint(["peer_id"], ["peers.id"], name=op.f("fk_peer_keys_peer_id_peers")),
        sa.PrimaryKeyConstraint("peer_id", "kid", name=op.f("pk_peer_keys")),
    )
    op.create_table(
        "peer_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("next_update", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("jws", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["peer_id"], ["peers.id"], name=op.f("fk_peer_lists_peer_id_peers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_lists")),
        sa.UniqueConstraint("peer_id", "sequence", name="uq_peer_lists_peer_sequence"),
    )


def downgrade() -> None:
    op.drop_table("peer_lists")
    op.drop_table("peer_keys")
    op.drop_table("peers")
