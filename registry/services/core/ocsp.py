"""The OCSP responder's pre-signed responses, the lower floor (the responder itself, refresh and
serving, is :mod:`registry.services.ocsp`, whose docstring tells the whole design).

Every certificate we issue has a response pre-signed by the CA that issued it, stored in
``ocsp_responses``: :func:`presign_new` signs the ``good`` response of a certificate being issued
(no transaction open) and :func:`store_new` stores it in the issuance's transaction;
:func:`on_status_change` re-signs the responses of a certificate whose status changes, in the
change's own transaction (``core.revocation.list_certificate`` and ``unlist_certificate`` call it),
so a committed revocation is never answered ``good``; :func:`presign_certificate` stores the
response of a CA certificate just made. The issuers (names, key hashes) and the CAs' decrypted keys
are cached per process; nothing about a certificate's status is."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, delete, insert, select

from ...db.models import Authority, Certificate, OcspResponse, Revocation
from ...domain.states import CertificateStatus
from ...pki import ocsp, x509
from ...pki.crl import CrlReason
from ...pki.keys import PrivateKey, decrypt_private_key
from ..context import ServiceContext
from .tx import Tx

__all__ = [
    "PRESIGNED_HASH",
    "CertState",
    "Issuer",
    "issuer_by_id",
    "issuer_index",
    "on_status_change",
    "presign_certificate",
    "presign_new",
    "response_row",
    "sign",
    "signer_key",
    "read_states",
    "store_new",
]

PRESIGNED_HASH = ocsp.HashAlgorithm.SHA1  # RFC 5019 §2.1.1: clients use SHA-1 CertIDs
_ISSUER_RELOAD_SECONDS = 30.0


# ------------------------------------------------------------------------------------------------
# Issuers (immutable: cached per process)


@dataclass(frozen=True)
class Issuer:
    id: int
    name: str
    name_der: bytes
    key_point: bytes


@dataclass(frozen=True)
class _IssuerIndex:
    by_hash: dict[tuple[ocsp.HashAlgorithm, bytes, bytes], Issuer]
    by_id: dict[int, Issuer]
    loaded_at: float


def issuer_index(ctx: ServiceContext, *, reload: bool = False, conn: Connection | None = None) -> _IssuerIndex:
    key = ("ocsp-issuers",)
    if reload:
        ctx.forget(key)

    def build() -> _IssuerIndex:
        by_hash: dict[tuple[ocsp.HashAlgorithm, bytes, bytes], Issuer] = {}
        by_id: dict[int, Issuer] = {}
        stmt = select(Authority.id, Authority.name, Authority.certificate_der)
        if conn is not None:  # inside a transaction that may have just added the authority
            rows = conn.execute(stmt).all()
        else:
            with ctx.engine.connect() as own:
                rows = own.execute(stmt).all()
        for row in rows:
            cert = x509.Certificate.from_der(row.certificate_der)
            issuer = Issuer(row.id, row.name, cert.subject_der, cert.public_key.point)
            by_id[row.id] = issuer
            for alg in ocsp.HashAlgorithm:
                by_hash[(alg, alg.digest(issuer.name_der), alg.digest(issuer.key_point))] = issuer
        return _IssuerIndex(by_hash, by_id, time.monotonic())

    return ctx.cached(key, build)


def issuer_for(ctx: ServiceContext, cid: ocsp.CertId) -> Issuer | None:
    index = issuer_index(ctx)
    found = index.by_hash.get((cid.hash_algorithm, cid.issuer_name_hash, cid.issuer_key_hash))
    if found is None and time.monotonic() - index.loaded_at > _ISSUER_RELOAD_SECONDS:
        found = issuer_index(ctx, reload=True).by_hash.get(
            (cid.hash_algorithm, cid.issuer_name_hash, cid.issuer_key_hash)
        )  # a CA created since
    return found


def issuer_by_id(ctx: ServiceContext, issuer_id: int, conn: Connection | None = None) -> Issuer:
    index = issuer_index(ctx)
    if issuer_id not in index.by_id:
        index = issuer_index(ctx, reload=True, conn=conn)
    return index.by_id[issuer_id]


def signer_key(ctx: ServiceContext, issuer_id: int, conn: Connection | None = None) -> PrivateKey:
    """The issuing CA's key: it answers for its own certificates (RFC 6960 §2.6, no delegated
    responder). A revoked (inactive) CA still answers, as it still publishes its CRLs."""

    def build() -> PrivateKey:
        stmt = select(Authority.key_blob).where(Authority.id == issuer_id)
        if conn is not None:
            blob = conn.execute(stmt).scalar_one()
        else:
            with ctx.engine.connect() as own:
                blob = own.execute(stmt).scalar_one()
        return decrypt_private_key(blob, ctx.require_keyring().keys)

    return ctx.cached(("ocsp-signer", issuer_id), build)


# ------------------------------------------------------------------------------------------------
# Certificate states and signing


@dataclass(frozen=True)
class CertState:
    certificate_id: int
    issuer_id: int
    serial: str  # lower-case hex
    status: str  # good | revoked (a hold is revoked with certificateHold)
    revoked_at: dt.datetime | None = None
    reason: CrlReason | None = None
    invalidity_date: dt.datetime | None = None


_STATE_COLUMNS = (
    Certificate.id,
    Certificate.issuer_id,
    Certificate.serial,
    Certificate.status,
    Revocation.revoked_at,
    Revocation.reason,
    Revocation.invalidity_date,
)


def _state_of(row: Row[*tuple[Any, ...]]) -> CertState:
    if row.status is CertificateStatus.GOOD or row.revoked_at is None:
        return CertState(row.id, row.issuer_id, row.serial, "good")
    return CertState(
        row.id, row.issuer_id, row.serial, "revoked", row.revoked_at, CrlReason(row.reason), row.invalidity_date
    )


def read_states(conn: Connection, where: ColumnElement[bool], lock: bool = False) -> list[CertState]:
    stmt = (
        select(*_STATE_COLUMNS)
        .outerjoin(Revocation, Revocation.certificate_id == Certificate.id)
        .where(where)
        .order_by(Certificate.id)
    )
    if lock:
        stmt = stmt.with_for_update(of=Certificate)  # PostgreSQL; SQLite's writer lock covers it
    return [_state_of(r) for r in conn.execute(stmt)]


def sign(
    ctx: ServiceContext, state: CertState, alg: ocsp.HashAlgorithm, now: dt.datetime, *, conn: Connection | None = None
) -> tuple[bytes, dt.datetime]:
    issuer = issuer_by_id(ctx, state.issuer_id, conn)
    cid = ocsp.cert_id(alg, issuer.name_der, issuer.key_point, int(state.serial, 16))
    next_update = now + dt.timedelta(hours=ctx.settings.ocsp_validity_hours)
    single = ocsp.single_response(
        cid,
        state.status,
        now,
        next_update,
        revoked_at=state.revoked_at,
        reason=state.reason,
        invalidity_date=state.invalidity_date,
    )
    return ocsp.build_response(
        signer=signer_key(ctx, state.issuer_id, conn), produced_at=now, responses=[single]
    ), next_update


def response_row(
    ctx: ServiceContext, state: CertState, alg: ocsp.HashAlgorithm, now: dt.datetime, conn: Connection | None = None
) -> dict[str, object]:
    der, next_update = sign(ctx, state, alg, now, conn=conn)
    return {
        "certificate_id": state.certificate_id,
        "hash_alg": alg.value,
        "issuer_id": state.issuer_id,
        "serial": state.serial,
        "status": state.status,
        "this_update": now,
        "next_update": next_update,
        "response_der": der,
    }


# ------------------------------------------------------------------------------------------------
# Hooks: issuance and status changes (inside the caller's transaction)


def presign_new(ctx: ServiceContext, issuer_id: int, serial_hex: str, now: dt.datetime) -> dict[str, object]:
    """The ``good`` response of a certificate being issued (signed with no transaction open); pass
    it to :func:`store_new` once the certificate's id is known, in the issuance's transaction."""
    return response_row(ctx, CertState(0, issuer_id, serial_hex, "good"), PRESIGNED_HASH, now)


def store_new(tx: Tx, rows: list[dict[str, object]], certificate_ids: Iterable[int]) -> None:
    """Insert the responses of :func:`presign_new` for the certificates just inserted (one executemany)."""
    for row, cert_id in zip(rows, certificate_ids, strict=True):
        row["certificate_id"] = cert_id
    if rows:
        tx.conn.execute(insert(OcspResponse), rows)


def on_status_change(tx: Tx, cert: Certificate, at: dt.datetime) -> None:
    """Re-sign every stored response of ``cert`` (at least the SHA-1 one) with its new status, in the
    caller's transaction: a committed revocation is never answered ``good``."""
    tx.session.flush()  # the certificate's new status and its revocations row; takes the row lock
    conn = tx.conn
    state = read_states(conn, Certificate.id == cert.id, lock=True)[0]
    algs = {PRESIGNED_HASH.value} | set(
        conn.execute(select(OcspResponse.hash_alg).where(OcspResponse.certificate_id == cert.id)).scalars()
    )
    rows = [response_row(tx.ctx, state, ocsp.HashAlgorithm(a), at, conn) for a in sorted(algs)]
    conn.execute(delete(OcspResponse).where(OcspResponse.certificate_id == cert.id))
    conn.execute(insert(OcspResponse), rows)


def presign_certificate(tx: Tx, cert: Certificate, at: dt.datetime) -> None:
    """Store the SHA-1 response of a certificate added in the caller's transaction (our CA and
    seal-maker certificates, made by ``ensure_hierarchies``)."""
    tx.session.flush()
    conn = tx.conn
    state = read_states(conn, Certificate.id == cert.id)[0]
    conn.execute(insert(OcspResponse), [response_row(tx.ctx, state, PRESIGNED_HASH, at, conn)])
