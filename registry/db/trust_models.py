"""The tables of mutual recognition (mutual-recognition.md §2): our list-signing keys and the
trust lists we published; the peers we recognise, the keys we accept for them, every list of theirs
we accepted, and their CRLs with the entries stored once. Registered on :data:`registry.db.models.Base`
(``registry.db`` imports this module, so the metadata always holds these tables)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base

__all__ = ["ListSigningKey", "TrustListVersion", "Peer", "PeerKey", "PeerList", "PeerCrl", "PeerRevocationPage"]


class ListSigningKey(Base):
    """A key that signs our trust lists and nothing else (mutual-recognition.md §2.1): one SM2
    (``SM2-SM3``) and one P-256 (``ES256``) are current at a time, wrapped under the KEK like the CA
    keys. ``kid`` is ``sha256:`` + the SHA-256 of the SubjectPublicKeyInfo DER, what peers pin.
    ``status``: ``current`` signs, ``next`` is announced for a rollover from ``not_before``,
    ``retired`` and ``compromised`` are listed but never sign again."""

    __tablename__ = "list_signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))  # ES256 | SM2-SM3
    kid: Mapped[str] = mapped_column(String(80), unique=True)
    spki_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_blob: Mapped[bytes] = mapped_column(LargeBinary)  # AES-256-GCM wrapped PKCS#8
    key_kek_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    changed_at: Mapped[dt.datetime]

    __table_args__ = (
        CheckConstraint("alg IN ('ES256', 'SM2-SM3')", name="alg"),
        CheckConstraint("status IN ('current', 'next', 'retired', 'compromised')", name="status"),
    )


class TrustListVersion(Base):
    """Every trust list we published, kept for ever: ``sequence`` 1, 2, 3 ... (the primary key, so
    a number is never handed out twice), the exact ``payload`` bytes (``list.json``) and the signed
    ``jws`` (``list.jws``). The files under the publish directory's ``trust/`` are written from
    these rows after the row commits, so a crash between the two is repaired by the next run and
    never leaves a served list the database does not know. ``content_sha256`` hashes what the list
    says apart from its sequence, times and previous link: a change there (a CA added, revoked,
    a key announced) is what makes a new list due at once."""

    __tablename__ = "trust_list_versions"

    sequence: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    issued_at: Mapped[dt.datetime]
    next_update: Mapped[dt.datetime]
    sha256: Mapped[str] = mapped_column(String(64))  # of payload
    content_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    jws: Mapped[bytes] = mapped_column(LargeBinary)
    peers_jws: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(String(32))  # first | changed | half-life | requested
    published_by: Mapped[str] = mapped_column(String(100))


class Peer(Base):
    """Another registry (or, later, a certification authority) whose trust list we read
    (mutual-recognition.md §2.2). ``state``: ``proposed`` (fetched and verified under the pinned
    keys, waiting for a second person), ``active``, ``suspended`` (its list still fetched, what it
    vouches for is indeterminate), ``withdrawn`` (no longer fetched). The fetch bookkeeping
    (``last_*``, ``etag``) is what the refresher and the admin page report."""

    __tablename__ = "peers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # registry | ca
    area_code: Mapped[str] = mapped_column(String(6))
    trust_list_url: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16))
    state_since: Mapped[dt.datetime]
    state_by: Mapped[str] = mapped_column(String(100))
    state_reason: Mapped[str | None] = mapped_column(String(500))
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[dt.datetime]
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[dt.datetime | None]
    list_sequence: Mapped[int | None] = mapped_column(BigInteger)  # the list in force
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    last_fetch_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    last_error_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint("state IN ('proposed', 'active', 'suspended', 'withdrawn')", name="state"),
        CheckConstraint("kind IN ('registry', 'ca')", name="kind"),
    )


class PeerKey(Base):
    """A list-signing key we accept for a peer: pinned at admission (fingerprints read out of
    band), or taken over in a rollover its previous list announced."""

    __tablename__ = "peer_keys"

    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id"), primary_key=True)
    kid: Mapped[str] = mapped_column(String(80), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # pinned | rollover
    added_at: Mapped[dt.datetime]
    from_sequence: Mapped[int | None] = mapped_column(BigInteger)  # the list that announced it

    __table_args__ = (CheckConstraint("source IN ('pinned', 'rollover')", name="source"),)


class PeerList(Base):
    """Every version of a peer's trust list that verified and was accepted, kept for ever (old
    signatures are judged against the list in force at the time; equivocation is detected against
    these), with the exact signed document."""

    __tablename__ = "peer_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # of the payload
    issued_at: Mapped[dt.datetime]
    next_update: Mapped[dt.datetime]
    jws: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("peer_id", "sequence", name="uq_peer_lists_peer_sequence"),)


class PeerCrl(Base):
    """The newest CRL fetched from one URL a peer's list names for one of its CAs (full, delta or a
    shard), verified as signed by that listed CA and never lower-numbered than the one it replaced.
    Its entries are in ``peer_revocation_pages``, stored once, not re-parsed by every worker."""

    __tablename__ = "peer_crls"

    id: Mapped[int] = mapped_column(primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("peers.id"))
    service_id: Mapped[str] = mapped_column(String(64))  # the listed CA (its id in the peer's list)
    issuer_sha256: Mapped[str] = mapped_column(String(64))  # SHA-256 of that CA's certificate
    url: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(8))  # full | delta
    number: Mapped[int | None] = mapped_column(BigInteger)
    base_number: Mapped[int | None] = mapped_column(BigInteger)
    this_update: Mapped[dt.datetime]
    next_update: Mapped[dt.datetime | None]
    entries: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(String(200))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime]
    checked_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    last_error_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("peer_id", "url", name="uq_peer_crls_peer_url"),
        CheckConstraint("kind IN ('full', 'delta')", name="kind"),
        Index("ix_peer_crls_issuer", "issuer_sha256"),
    )


class PeerRevocationPage(Base):
    """A page of a peer's CRL entries (registry.pki.crl.pages): up to 64 entries in serial order,
    their DER as received (decoded when looked up: reason, dates), keyed by (CRL, the page's
    highest serial key). A lookup finds the issuer's CRLs in ``peer_crls`` (by the listed CA's
    certificate hash), probes this key for the first page whose last key is not below the serial,
    and searches that one page. A million entries are 15,625 rows, not a million: storing them is
    a fraction of a second on either database. On SQLite the table is WITHOUT ROWID (one b-tree,
    ordered by the key)."""

    __tablename__ = "peer_revocation_pages"

    crl_id: Mapped[int] = mapped_column(ForeignKey("peer_crls.id", ondelete="CASCADE"), primary_key=True)
    last_key: Mapped[bytes] = mapped_column(LargeBinary(21), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    keys: Mapped[bytes] = mapped_column(LargeBinary)
    ends: Mapped[bytes] = mapped_column(LargeBinary)
    entries: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = {"sqlite_with_rowid": False}
