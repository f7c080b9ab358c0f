"""ocsp responses: pre-signed OCSP responses, one per certificate and CertID hash algorithm

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ocsp_responses",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("hash_alg", sa.String(length=8), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("this_update", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("next_update", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("response_der", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("hash_alg IN ('sha1', 'sha256', 'sm3')", name=op.f("ck_ocsp_responses_hash_alg")),
        sa.CheckConstraint("status IN ('good', 'revoked')", name=op.f("ck_ocsp_responses_status")),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificates.id"], name=op.f("fk_ocsp_responses_certificate_id_certificates")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["authorities.id"], name=op.f("fk_ocsp_responses_issuer_id_authorities")
        ),
        sa.PrimaryKeyConstraint("certificate_id", "hash_alg", name=op.f("pk_ocsp_responses")),
        sa.UniqueConstraint("issuer_id", "serial", "hash_alg", name="uq_ocsp_responses_issuer_serial_hash"),
    )
    with op.batch_alter_table("ocsp_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ocsp_responses_next_update"), ["next_update"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ocsp_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ocsp_responses_next_update"))
    op.drop_table("ocsp_responses")
