"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:19:08.689305
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import registry.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_actor_time", ["actor", "occurred_at"], unique=False)
        batch_op.create_index("ix_audit_events_target", ["target_type", "target_id"], unique=False)

    op.create_table(
        "authorities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "algorithm",
            sa.Enum("sm2", "ecdsa", name="algorithm", native_enum=False, create_constraint=True, length=24),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("not_before", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("not_after", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_blob", sa.LargeBinary(), nullable=False),
        sa.Column("key_kek_id", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('root', 'issuing', 'seal-maker')", name=op.f("ck_authorities_kind")),
        sa.ForeignKeyConstraint(["parent_id"], ["authorities.id"], name=op.f("fk_authorities_parent_id_authorities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorities")),
        sa.UniqueConstraint("name", name=op.f("uq_authorities_name")),
    )
    op.create_table(
        "enterprises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_representative", sa.String(length=100), nullable=False),
        sa.Column("entity_type", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "cancelled",
                "revoked",
                name="licence_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprises")),
        sa.UniqueConstraint("uscc", name=op.f("uq_enterprises_uscc")),
    )
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.create_index("ix_enterprises_name", ["name"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "licence_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_licence_records_enterprise_id_enterprises")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_records")),
    )
    with op.batch_alter_table("licence_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_licence_records_enterprise_id"), ["enterprise_id"], unique=False)

    op.create_table(
        "seal_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column(
            "seal_type",
            sa.Enum(
                "01",
                "02",
                "03",
                "04",
                "05",
                "99",
                name="seal_type",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "algorithm",
            sa.Enum("sm2", "ecdsa", name="algorithm", native_enum=False, create_constraint=True, length=24),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "submitted",
                "reviewed",
                "approved",
                "issued",
                "rejected",
                "withdrawn",
                name="application_state",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("public_key_spki", sa.LargeBinary(), nullable=False),
        sa.Column("csr_der", sa.LargeBinary(), nullable=True),
        sa.Column("picture_png", sa.LargeBinary(), nullable=True),
        sa.Column("submitted_by", sa.String(length=100), nullable=False),
        sa.Column("submitted_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", registry.db.types.UTCDateTime(), nullable=True),
        sa.Column("decided_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["users.id"], name=op.f("fk_seal_applications_approved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name=op.f("fk_seal_applications_enterprise_id_enterprises")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_seal_applications_reviewed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_applications")),
    )
    with op.batch_alter_table("seal_applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seal_applications_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index("ix_seal_applications_state_submitted", ["state", "submitted_at"], unique=False)

    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "operator",
                "reviewer",
                "admin",
                "auditor",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_roles_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
    )
    op.create_table(
        "seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("es_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column(
            "seal_type",
            sa.Enum(
                "01",
                "02",
                "03",
                "04",
                "05",
                "99",
                name="seal_type",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column(
            "algorithm",
            sa.Enum("sm2", "ecdsa", name="algorithm", native_enum=False, create_constraint=True, length=24),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "suspended",
                "revoked",
                name="seal_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("picture_width_mm", sa.Integer(), nullable=False),
        sa.Column("picture_height_mm", sa.Integer(), nullable=False),
        sa.Column("valid_start", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("valid_end", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("maker_id", sa.Integer(), nullable=False),
        sa.Column("ses_der", sa.LargeBinary(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["seal_applications.id"], name=op.f("fk_seals_application_id_seal_applications")
        ),
        sa.ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], name=op.f("fk_seals_enterprise_id_enterprises")),
        sa.ForeignKeyConstraint(["maker_id"], ["authorities.id"], name=op.f("fk_seals_maker_id_authorities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seals")),
        sa.UniqueConstraint("application_id", name=op.f("uq_seals_application_id")),
        sa.UniqueConstraint("es_id", name=op.f("uq_seals_es_id")),
    )
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seals_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index("ix_seals_status_valid_end", ["status", "valid_end"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column(
            "algorithm",
            sa.Enum("sm2", "ecdsa", name="algorithm", native_enum=False, create_constraint=True, length=24),
            nullable=False,
        ),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("not_before", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("not_after", registry.db.types.UTCDateTime(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "good",
                "hold",
                "revoked",
                name="certificate_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("seal_id", sa.Integer(), nullable=True),
        sa.Column("created_at", registry.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('holder', 'ca', 'seal-maker')", name=op.f("ck_certificates_kind")),
        sa.ForeignKeyConstraint(["issuer_id"], ["authorities.id"], name=op.f("fk_certificates_issuer_id_authorities")),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"], name=op.f("fk_certificates_seal_id_seals")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("issuer_id", "serial", name="uq_certificates_issuer_serial"),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_key_fingerprint"), ["key_fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_certificates_seal_id"), ["seal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificates_seal_id"))
        batch_op.drop_index(batch_op.f("ix_certificates_key_fingerprint"))

    op.drop_table("certificates")
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.drop_index("ix_seals_status_valid_end")
        batch_op.drop_index(batch_op.f("ix_seals_enterprise_id"))

    op.drop_table("seals")
    op.drop_table("user_roles")
    with op.batch_alter_table("seal_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_seal_applications_state_submitted")
        batch_op.drop_index(batch_op.f("ix_seal_applications_enterprise_id"))

    op.drop_table("seal_applications")
    with op.batch_alter_table("licence_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_licence_records_enterprise_id"))

    op.drop_table("licence_records")
    op.drop_table("users")
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_index("ix_enterprises_name")

    op.drop_table("enterprises")
    op.drop_table("authorities")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_target")
        batch_op.drop_index("ix_audit_events_actor_time")

    op.drop_table("audit_events")
