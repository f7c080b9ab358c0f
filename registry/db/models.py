"""Typed SQLAlchemy 2.0 models.

Conventions: times are timezone-aware UTC in Python and stored as naive UTC (portable between
SQLite and PostgreSQL); states are enums stored as strings with a CHECK constraint; certificate
serial numbers are lower-case hex (they are 127-bit, wider than BIGINT).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ..domain.roles import Role
from ..domain.seal_types import SealType
from ..domain.states import ApplicationState, CertificateStatus, LicenceStatus, SealStatus
from ..pki.keys import Algorithm
from .types import UTCDateTime as UTCDateTime  # re-export: the name's old home


def _enum(cls: type, name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Enterprise(Base):
    """A market entity and the data of its (electronic) business licence."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_representative: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300), default="")
    registered_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[LicenceStatus] = mapped_column(_enum(LicenceStatus, "licence_status"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    # where the portal's notices go (set by the legal representative in the portal; "" for none)
    contact_email: Mapped[str] = mapped_column(String(254), default="", server_default="")

    history: Mapped[list[LicenceRecord]] = relationship(
        back_populates="enterprise", order_by="LicenceRecord.id", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_enterprises_name", "name"),)


class LicenceRecord(Base):
    """One entry of an enterprise's licence history: what changed, when, from which source."""

    __tablename__ = "licence_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    recorded_at: Mapped[dt.datetime]
    event: Mapped[str] = mapped_column(String(32))  # registered | changed | status
    changes: Mapped[dict[str, Any]]  # field -> [old, new]
    source: Mapped[str] = mapped_column(String(200))

    enterprise: Mapped[Enterprise] = relationship(back_populates="history")


class User(Base):
    """A member of the regulator's staff."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]
    # second factor (TOTP, RFC 6238): the secret is AES-256-GCM wrapped under the key-encryption key
    totp_secret_blob: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)  # no code used twice
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)  # zh | en; None: browser's

    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), primary_key=True)


class EnterprisePerson(Base):
    """A person of an enterprise whom its legal representative authorised in the enterprise portal
    (password + TOTP), to hold or manage particular seals (:class:`SealGrant`)."""

    __tablename__ = "enterprise_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))  # unique within the enterprise
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    totp_secret_blob: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    enterprise: Mapped[Enterprise] = relationship()
    grants: Mapped[list[SealGrant]] = relationship(back_populates="person", cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("enterprise_id", "username", name="uq_enterprise_people_username"),)


class SealGrant(Base):
    """A person's authority over one seal of their enterprise: ``hold`` (see, download, report loss)
    or ``manage`` (also renew and cancel). Withdrawing the authority deletes the row (audited)."""

    __tablename__ = "seal_grants"

    person_id: Mapped[int] = mapped_column(ForeignKey("enterprise_people.id"), primary_key=True)
    seal_id: Mapped[int] = mapped_column(ForeignKey("seals.id"), primary_key=True, index=True)
    authority: Mapped[str] = mapped_column(String(8))
    granted_at: Mapped[dt.datetime]
    granted_by: Mapped[str] = mapped_column(String(100))

    person: Mapped[EnterprisePerson] = relationship(back_populates="grants")

    __table_args__ = (CheckConstraint("authority IN ('hold', 'manage')", name="authority"),)


class Authority(Base):
    """A key of ours with its certificate: a root or issuing CA, or the seal-maker (制章者) unit."""

    __tablename__ = "authorities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. sm2-issuing
    kind: Mapped[str] = mapped_column(String(16))  # root | issuing | seal-maker
    algorithm: Mapped[Algorithm] = mapped_column(_enum(Algorithm, "algorithm"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("authorities.id"))
    subject: Mapped[str] = mapped_column(String(400))
    serial: Mapped[str] = mapped_column(String(40))
    not_before: Mapped[dt.datetime]
    not_after: Mapped[dt.datetime]
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_blob: Mapped[bytes] = mapped_column(LargeBinary)  # AES-256-GCM wrapped PKCS#8
    key_kek_id: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]

    parent: Mapped[Authority | None] = relationship(remote_side="Authority.id")

    __table_args__ = (CheckConstraint("kind IN ('root', 'issuing', 'seal-maker')", name="kind"),)


class SealApplication(Base):
    """An application for one seal, through review (operator) and approval (reviewer)."""

    __tablename__ = "seal_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    seal_type: Mapped[SealType] = mapped_column(_enum(SealType, "seal_type"))
    algorithm: Mapped[Algorithm] = mapped_column(_enum(Algorithm, "algorithm"))
    state: Mapped[ApplicationState] = mapped_column(_enum(ApplicationState, "application_state"))
    channel: Mapped[str] = mapped_column(String(16))  # counter | portal | cli | reissue
    public_key_spki: Mapped[bytes] = mapped_column(LargeBinary)
    csr_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    picture_png: Mapped[bytes | None] = mapped_column(LargeBinary)  # uploaded or previewed, until issued
    submitted_by: Mapped[str] = mapped_column(String(100))
    submitted_at: Mapped[dt.datetime]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None]
    decided_reason: Mapped[str | None] = mapped_column(Text)

    enterprise: Mapped[Enterprise] = relationship()
    seal: Mapped[Seal | None] = relationship(back_populates="application", uselist=False)

    __table_args__ = (Index("ix_seal_applications_state_submitted", "state", "submitted_at"),)


class Seal(Base):
    """An issued electronic seal (GB/T 38540 SESeal) and its current status."""

    __tablename__ = "seals"

    id: Mapped[int] = mapped_column(primary_key=True)
    es_id: Mapped[str] = mapped_column(String(64), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    seal_type: Mapped[SealType] = mapped_column(_enum(SealType, "seal_type"))
    name: Mapped[str] = mapped_column(String(300))
    algorithm: Mapped[Algorithm] = mapped_column(_enum(Algorithm, "algorithm"))
    status: Mapped[SealStatus] = mapped_column(_enum(SealStatus, "seal_status"))
    # The picture itself lives only inside ses_der (SES_ESPictureInfo): storing it twice would double
    # the bytes written per issuance. Use registry.services.seals.seal_picture() to read it.
    picture_width_mm: Mapped[int] = mapped_column(Integer)
    picture_height_mm: Mapped[int] = mapped_column(Integer)
    valid_start: Mapped[dt.datetime]
    valid_end: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(32))  # RFC 5280 name, e.g. keyCompromise
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("seals.id"))
    maker_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    ses_der: Mapped[bytes] = mapped_column(LargeBinary)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("seal_applications.id"), unique=True)

    enterprise: Mapped[Enterprise] = relationship()
    maker: Mapped[Authority] = relationship()
    application: Mapped[SealApplication | None] = relationship(back_populates="seal")
    certificates: Mapped[list[Certificate]] = relationship(back_populates="seal", foreign_keys="Certificate.seal_id")

    __table_args__ = (Index("ix_seals_status_valid_end", "status", "valid_end"),)

    def effective_status(self, now: dt.datetime) -> str:
        """``expired`` once past validEnd (never stored), else the stored status."""
        if self.status is SealStatus.ACTIVE and now > self.valid_end:
            return "expired"
        return self.status.value


class Certificate(Base):
    """A certificate we issued: holder (签章者) certificates and our own CA / seal-maker certificates."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    serial: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # holder | ca | seal-maker
    subject: Mapped[str] = mapped_column(String(400))
    algorithm: Mapped[Algorithm] = mapped_column(_enum(Algorithm, "algorithm"))
    shard: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[dt.datetime]
    not_after: Mapped[dt.datetime]
    der: Mapped[bytes] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # SHA-256 of the SPKI
    status: Mapped[CertificateStatus] = mapped_column(_enum(CertificateStatus, "certificate_status"))
    seal_id: Mapped[int | None] = mapped_column(ForeignKey("seals.id"), index=True)
    created_at: Mapped[dt.datetime]

    issuer: Mapped[Authority] = relationship()
    seal: Mapped[Seal | None] = relationship(back_populates="certificates")

    __table_args__ = (
        UniqueConstraint("issuer_id", "serial", name="uq_certificates_issuer_serial"),
        CheckConstraint("kind IN ('holder', 'ca', 'seal-maker')", name="kind"),
    )


class AuditEvent(Base):
    """Append-only audit log, written in the same transaction as the change it records, and
    hash-chained: ``seq`` numbers the events 1, 2, 3 ... without gaps, ``hash`` covers the event's
    content, its ``seq`` and ``prev_hash`` (the hash of event ``seq - 1``). The encoding is in
    ``registry.services.audit``; ``id`` is only a storage key and is not covered."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target_id", "occurred_at", "seq"),
        Index("ix_audit_events_actor_time", "actor", "occurred_at"),
        # the audit page (registry.services.audit_log): newest first overall, per action and per
        # target type; text_pattern_ops so that an action prefix is a byte-order range on PostgreSQL
        # whatever the database's collation
        Index("ix_audit_events_time", "occurred_at", "seq"),
        Index(
            "ix_audit_events_action_time", "action", "occurred_at", "seq", postgresql_ops={"action": "text_pattern_ops"}
        ),
        Index("ix_audit_events_type_time", "target_type", "occurred_at", "seq"),
    )


class Revocation(Base):
    """A certificate currently listed on its issuer's CRLs (revoked, or on hold), with its CRL entry
    pre-encoded (RFC 5280 §5.1.2.6) when the revocation happened: a full CRL is then a header, the
    concatenated ``entry_der`` of these rows and one signature. Resuming a held certificate deletes
    its row; the change log below keeps the history."""

    __tablename__ = "revocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), unique=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    shard: Mapped[int] = mapped_column(Integer)
    reason: Mapped[int] = mapped_column(SmallInteger)  # RFC 5280 CRLReason code
    revoked_at: Mapped[dt.datetime]  # the event time, never earlier
    invalidity_date: Mapped[dt.datetime | None]
    not_after: Mapped[dt.datetime]  # certificate expiry (entries may leave after it)
    entry_der: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_revocations_issuer_shard", "issuer_id", "shard"),)


class RevocationEvent(Base):
    """Append-only change log of CRL listings, per issuer: ``listed`` (revoked or held, with its
    entry) or ``unlisted`` (released from hold, with a removeFromCRL entry). Delta CRLs are cut
    from it; the id is the watermark a published CRL records."""

    __tablename__ = "revocation_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    shard: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[dt.datetime]
    not_after: Mapped[dt.datetime]
    entry_der: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_revocation_events_issuer_id", "issuer_id", "id"),
        CheckConstraint("kind IN ('listed', 'unlisted')", name="kind"),
    )


class CrlCounter(Base):
    """The one CRL-number series of an issuer, shared by its full, delta and shard CRLs."""

    __tablename__ = "crl_counters"

    issuer_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger)


class PublishedCrl(Base):
    """Every CRL written to the publish directory: the index page, the stale alarm and the next
    delta's base come from here."""

    __tablename__ = "published_crls"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    kind: Mapped[str] = mapped_column(String(8))  # full | delta | shard
    shard: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(BigInteger)
    base_number: Mapped[int | None] = mapped_column(BigInteger)
    watermark: Mapped[int] = mapped_column(BigInteger)  # last revocation_events.id included
    path: Mapped[str] = mapped_column(String(200))  # relative to the publish directory
    this_update: Mapped[dt.datetime]
    next_update: Mapped[dt.datetime]
    entries: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[dt.datetime]

    issuer: Mapped[Authority] = relationship()

    __table_args__ = (
        UniqueConstraint("issuer_id", "number", name="uq_published_crls_issuer_number"),
        Index("ix_published_crls_path", "path", "number"),
        CheckConstraint("kind IN ('full', 'delta', 'shard')", name="kind"),
    )


class Lease(Base):
    """A named lease held by one process at a time (e.g. the CRL publisher of one issuer), so two
    publishers on two machines never collide; an expired lease can be taken over."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[dt.datetime]


class WebSession(Base):
    """A signed-in browser session of the admin or the enterprise portal, kept on the server: the
    cookie carries only a random token whose SHA-256 is ``id``. Sign-out, deactivation and a password
    or second-factor reset end the rows, so a copied cookie stops working everywhere at once."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the cookie token
    kind: Mapped[str] = mapped_column(String(16))  # staff | representative | person
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise_people.id"), default=None)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), default=None)
    legal_representative: Mapped[str | None] = mapped_column(String(200), default=None)  # as at sign-in
    created_at: Mapped[dt.datetime]
    seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]  # the absolute end
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)

    __table_args__ = (
        Index("ix_web_sessions_user", "user_id"),
        Index("ix_web_sessions_person", "person_id"),
        Index("ix_web_sessions_enterprise", "enterprise_id"),
        CheckConstraint("kind IN ('staff', 'representative', 'person')", name="kind"),
    )


class UsedChallenge(Base):
    """An e-licence sign-in challenge that was answered: a credential made for it signs in once."""

    __tablename__ = "used_challenges"

    challenge: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[dt.datetime] = mapped_column(index=True)


class OcspResponse(Base):
    """A pre-signed OCSP response (RFC 6960 / RFC 5019), ready to send: one per certificate and
    CertID hash algorithm (SHA-1 signed at issuance; SHA-256 / SM3 on first request). Rewritten in
    the transaction of every status change of its certificate and refreshed before nextUpdate. The
    responder finds it with one indexed SELECT by (issuer, serial, hash algorithm)."""

    __tablename__ = "ocsp_responses"

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), primary_key=True)
    hash_alg: Mapped[str] = mapped_column(String(8), primary_key=True)  # sha1 | sha256 | sm3
    issuer_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    serial: Mapped[str] = mapped_column(String(40))  # lower-case hex, as certificates
    status: Mapped[str] = mapped_column(String(8))  # good | revoked (hold is revoked)
    this_update: Mapped[dt.datetime]
    next_update: Mapped[dt.datetime] = mapped_column(index=True)
    response_der: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        UniqueConstraint("issuer_id", "serial", "hash_alg", name="uq_ocsp_responses_issuer_serial_hash"),
        CheckConstraint("hash_alg IN ('sha1', 'sha256', 'sm3')", name="hash_alg"),
        CheckConstraint("status IN ('good', 'revoked')", name="status"),
    )


class AuditChainHead(Base):
    """The audit chain's last link (one row, ``id`` 1): the seq and hash of the newest event.
    Appending an event locks this row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write
    transaction holds the database's single write lock), so events get contiguous numbers and one
    unbroken chain. It also reveals a removed tail: the head names an event that is gone."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)  # 0 before the first event
    last_hash: Mapped[str] = mapped_column(String(64))  # the genesis value before the first event

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


# ------------------------------------------------------------------------------------------------
# E-mail notifications (registry.services.notify)

NOTICE_KINDS = (
    "application_approved",
    "application_rejected",
    "application_reissue",
    "seal_issued",
    "seal_revoked",
    "seal_suspended",
    "seal_resumed",
    "seal_expiring",
)
NOTICE_STATES = ("pending", "sent", "folded", "undeliverable")
DIGEST_STATES = ("sending", "sent", "failed", "undeliverable")


class Notification(Base):
    """One thing an enterprise is told by e-mail: derived from an audit event (``audit:<seq>``) or
    from the daily expiry scan (``expiry:<seal id>:<days>``). ``dedupe_key`` is unique, so running
    the job again never records a notice twice. ``pending`` until the digest that carries it is
    sent; ``folded`` when a later notice of the same digest says it all (an approval followed by the
    issuance); ``undeliverable`` when the enterprise has no contact address."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    kind: Mapped[str] = mapped_column(String(24))
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)
    seal_id: Mapped[int | None] = mapped_column(ForeignKey("seals.id"))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("seal_applications.id"))
    occurred_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]
    details: Mapped[dict[str, Any]]  # what the e-mail says, as it was when the event happened
    state: Mapped[str] = mapped_column(String(16), default="pending")
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("notification_digests.id"), index=True)

    __table_args__ = (
        Index("ix_notifications_state_enterprise", "state", "enterprise_id"),
        # the portal's notice centre: an enterprise's newest first, a seal's (an authorised person's)
        Index("ix_notifications_enterprise_id", "enterprise_id", "id"),
        Index("ix_notifications_seal_id", "seal_id", "id"),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in NOTICE_KINDS) + ")", name="kind"),
        CheckConstraint("state IN (" + ", ".join(f"'{k}'" for k in NOTICE_STATES) + ")", name="state"),
    )


class NotificationDigest(Base):
    """The one e-mail an enterprise gets on a day (its local day, REGISTRY_NOTIFY_TIMEZONE), holding
    every pending notice. Unique per (enterprise, day). A failed send stays ``failed`` (attempts and
    the last error recorded) and is retried by the next run, moving to that run's day; once ``sent``,
    nothing more goes to that enterprise until the next day."""

    __tablename__ = "notification_digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    local_day: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str] = mapped_column(String(254), default="")
    cc_addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300), default="")
    message_id: Mapped[str] = mapped_column(String(200), default="")
    notices: Mapped[int] = mapped_column(Integer, default=0)  # shown in the e-mail
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    body_text: Mapped[str | None] = mapped_column(Text)  # the plain-text part as sent

    __table_args__ = (
        UniqueConstraint("enterprise_id", "local_day", name="uq_notification_digests_enterprise_day"),
        Index("ix_notification_digests_status", "status"),
        CheckConstraint("status IN (" + ", ".join(f"'{k}'" for k in DIGEST_STATES) + ")", name="status"),
    )


class NoticeRead(Base):
    """How far one reader of an enterprise's notices in the portal has read: the newest
    notification id shown to them (a watermark; the unread ones are those above it). ``reader`` is
    0 for the legal representative (whoever the licence names) and the EnterprisePerson id of an
    authorised person."""

    __tablename__ = "notice_reads"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), primary_key=True)
    reader: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seen_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime]


class NotifyState(Base):
    """The notification job's place (one row, ``id`` 1): the last audit event it has read (``seq``),
    and the local day of its last expiry scan."""

    __tablename__ = "notify_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    audit_seq: Mapped[int] = mapped_column(BigInteger)
    expiry_scanned_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)
