"""The OCSP responder (RFC 6960, RFC 5019 profile; design.md §6).

Every certificate we issue — holder certificates (issued by the issuing CAs) and our CA and
seal-maker certificates (issued by the roots) — has a response **pre-signed** by the CA that issued
it and stored ready to send in ``ocsp_responses``:

* at issuance, in the issuance's write transaction (:func:`presign_new` while signing, then
  :func:`store_new`);
* at every status change (revoke, suspend, resume, licence event, CA revocation), in the change's
  own transaction (:func:`on_status_change`, called by ``revocation.list_certificate`` and
  ``unlist_certificate``), so a committed revocation is never answered ``good``;
* again when less than half its validity (``REGISTRY_OCSP_VALIDITY_HOURS``) remains
  (:func:`refresh`, run by ``registry ocsp refresh`` and by the CRL daemon loop);
* on first request if it is missing (certificates issued before the responder existed, or a CertID
  hashed with SHA-256 / SM3 rather than SHA-1) or past its nextUpdate.

Serving (:func:`answer`) is one indexed SELECT by (issuer, serial, hash algorithm); nothing about a
certificate's status is cached in process memory (only the immutable issuer name/key hashes and the
decrypted CA keys are). Requests with a nonce, with several CertIDs, for unknown serials, or whose
response must be signed on demand are signed live, at most ``REGISTRY_OCSP_LIVE_CONCURRENCY`` at a
time per process. Past that limit a nonce request gets the pre-signed response without the nonce
(RFC 8954 §2.1 lets a responder ignore the nonce); anything that has no pre-signed response gets
``tryLater``.

Writes that do not come from a status change (refresh, on-demand) follow "check, sign, re-check and
write": states are read, responses signed with no transaction open, then in a short write
transaction the certificates' rows are locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
single writer) and a response is stored only if its certificate's status is still the one signed.
A status change takes the same row lock first (its UPDATE of ``certificates``), so the two never
interleave.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select

from ..db.models import Certificate, OcspResponse
from ..pki import ocsp
from .context import Actor, ServiceContext
from .core.ocsp import (
    PRESIGNED_HASH,
    CertState,
    Issuer,
    issuer_for,
    read_states,
    response_row,
    signer_key,
)
from .core.ocsp import on_status_change as on_status_change
from .core.ocsp import presign_certificate as presign_certificate
from .core.ocsp import presign_new as presign_new
from .core.ocsp import store_new as store_new
from .core.tx import begin

MALFORMED = ocsp.error_response(ocsp.ResponseStatus.MALFORMED_REQUEST)
UNAUTHORIZED = ocsp.error_response(ocsp.ResponseStatus.UNAUTHORIZED)
TRY_LATER = ocsp.error_response(ocsp.ResponseStatus.TRY_LATER)
INTERNAL_ERROR = ocsp.error_response(ocsp.ResponseStatus.INTERNAL_ERROR)
_ACTOR = Actor.system("ocsp")  # the refresher's and the live answer's writes: no audit events

# ------------------------------------------------------------------------------------------------
# Check, sign, re-check and write (refresh and on-demand)


def _store_checked(ctx: ServiceContext, signed: list[tuple[CertState, dict[str, object]]]) -> int:
    """Store each signed row if its certificate's status is still the one signed; returns how many."""
    if not signed:
        return 0
    ids = sorted({s.certificate_id for s, _ in signed})
    with begin(ctx, _ACTOR) as tx:
        conn = tx.conn
        current = {s.certificate_id: s for s in read_states(conn, Certificate.id.in_(ids), lock=True)}
        keep = [row for s, row in signed if current.get(s.certificate_id) == s]
        if keep:
            conn.execute(
                delete(OcspResponse).where(
                    and_(OcspResponse.certificate_id == bindparam("c"), OcspResponse.hash_alg == bindparam("h"))
                ),
                [{"c": r["certificate_id"], "h": r["hash_alg"]} for r in keep],
            )
            conn.execute(insert(OcspResponse), keep)
    return len(keep)


@dataclass(frozen=True)
class RefreshReport:
    refreshed: int
    created: int

    def __str__(self) -> str:
        return f"ocsp: refreshed {self.refreshed}, created {self.created} pre-signed responses"


def refresh(ctx: ServiceContext, *, batch: int = 500, now: dt.datetime | None = None) -> RefreshReport:
    """Re-sign, in batches, every stored response with less than half its validity left, and sign
    the missing SHA-1 response of any certificate that has none. Safe to run on several machines."""
    now = now or ctx.clock.now()
    due_before = now + dt.timedelta(hours=ctx.settings.ocsp_validity_hours) / 2
    refreshed = created = 0
    done: set[tuple[int, str]] = set()  # a row whose status changed meanwhile is not retried in this run
    while True:
        with ctx.engine.connect() as conn:
            due = conn.execute(
                select(OcspResponse.certificate_id, OcspResponse.hash_alg)
                .where(OcspResponse.next_update <= due_before)
                .order_by(OcspResponse.next_update)
                .limit(batch + len(done))
            ).all()
            due = [r for r in due if (r[0], r[1]) not in done][:batch]
            missing = (
                conn.execute(
                    select(Certificate.id)
                    .outerjoin(
                        OcspResponse,
                        and_(
                            OcspResponse.certificate_id == Certificate.id, OcspResponse.hash_alg == PRESIGNED_HASH.value
                        ),
                    )
                    .where(OcspResponse.certificate_id.is_(None))
                    .order_by(Certificate.id)
                    .limit(batch)
                )
                .scalars()
                .all()
            )
            missing = [c for c in missing if (c, PRESIGNED_HASH.value) not in done]
            if not due and not missing:
                break
            states = {
                s.certificate_id: s for s in read_states(conn, Certificate.id.in_({c for c, _ in due} | set(missing)))
            }
        work = [(c, h) for c, h in due] + [(c, PRESIGNED_HASH.value) for c in missing]
        signed = [(states[c], response_row(ctx, states[c], ocsp.HashAlgorithm(h), now)) for c, h in work if c in states]
        stored = _store_checked(ctx, signed)
        done.update(work)
        refreshed += min(stored, len(due))
        created += max(0, stored - len(due))
    return RefreshReport(refreshed, created)


def refresher(ctx: ServiceContext, every: float = 60.0) -> Callable[[], Iterator[str]]:
    """For the CRL daemon loop: run :func:`refresh` at most every ``every`` seconds; yields a line
    when it signed something."""
    last = [float("-inf")]

    def tick() -> Iterator[str]:
        if time.monotonic() - last[0] < every:
            return
        last[0] = time.monotonic()
        report = refresh(ctx)
        if report.refreshed or report.created:
            yield str(report)

    return tick


# ------------------------------------------------------------------------------------------------
# Answering


@dataclass(frozen=True)
class Answer:
    """What to send: the DER ``OCSPResponse``; for a pre-signed response also its thisUpdate and
    nextUpdate, which the HTTP layer turns into RFC 5019 caching headers."""

    body: bytes
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    cacheable: bool = False
    kind: str = "error"  # presigned | live | fallback | error


def _limiter(ctx: ServiceContext) -> threading.BoundedSemaphore | None:
    n = ctx.settings.ocsp_live_concurrency
    if n <= 0:
        return None
    return ctx.cached(("ocsp-live",), lambda: threading.BoundedSemaphore(n))


_LOOKUP = select(OcspResponse.response_der, OcspResponse.this_update, OcspResponse.next_update).where(
    OcspResponse.issuer_id == bindparam("i"),
    OcspResponse.serial == bindparam("s"),
    OcspResponse.hash_alg == bindparam("h"),
)


_LOOKUP_SQL = (
    "SELECT response_der, this_update, next_update FROM ocsp_responses "
    "WHERE issuer_id = {p} AND serial = {p} AND hash_alg = {p}"
)


def _lookup(
    ctx: ServiceContext, issuer_id: int, serial: str, alg: str
) -> tuple[bytes, dt.datetime, dt.datetime] | None:
    """The serving SELECT on a DBAPI connection this thread keeps for it, in autocommit: no pool
    checkout, no BEGIN/ROLLBACK round trips, no statement compilation. Falls back to SQLAlchemy
    (and drops the connection) on any database error."""
    local = ctx.cached(("ocsp-reader",), threading.local)
    pid = os.getpid()
    try:
        if getattr(local, "pid", None) != pid:  # first use in this thread, or a forked worker
            proxy = ctx.engine.raw_connection()
            proxy.rollback()
            dbapi: Any = proxy.driver_connection  # sqlite3 or psycopg: the DBAPI connection itself
            if dbapi is None:  # only a connection already closed has none
                raise RuntimeError("the pool handed out a closed connection")
            if ctx.engine.dialect.name == "postgresql":
                dbapi.autocommit = True
            local.proxy, local.dbapi, local.pid = proxy, dbapi, pid
            local.sql = _LOOKUP_SQL.format(p="?" if ctx.engine.dialect.paramstyle == "qmark" else "%s")
        cur = local.dbapi.cursor()
        try:
            cur.execute(local.sql, (issuer_id, serial, alg))
            row = cur.fetchone()
        finally:
            cur.close()
    except Exception:  # noqa: BLE001 - a dropped connection: the next request opens another
        local.pid = None
        with ctx.engine.connect() as conn:
            found = conn.execute(_LOOKUP, {"i": issuer_id, "s": serial, "h": alg}).first()
        return None if found is None else (found.response_der, found.this_update, found.next_update)
    if row is None:
        return None
    return bytes(row[0]), _utc(row[1]), _utc(row[2])


def _utc(value: object) -> dt.datetime:
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite stores text
    if not isinstance(when, dt.datetime):
        raise TypeError(f"a stored OCSP response time is not a time: {value!r}")
    return when.replace(tzinfo=dt.UTC)


def _serial_hex(serial: int) -> str | None:
    return format(serial, "x") if serial > 0 else None


def answer(ctx: ServiceContext, request_der: bytes) -> Answer:
    """The response to one DER ``OCSPRequest``. Never raises for bad input: a malformed request
    gets ``malformedRequest``, an issuer that is not ours ``unauthorized`` (RFC 5019 §2.2.3)."""
    try:
        req = ocsp.parse_request(request_der)
    except ocsp.OcspError:
        return Answer(MALFORMED)
    issuers = [issuer_for(ctx, cid) for cid in req.cert_ids]
    if any(i is None for i in issuers) or len({i.id for i in issuers if i}) != 1:
        return Answer(UNAUTHORIZED)  # not ours, or several CAs in one request (one signer per response)
    issuer = issuers[0]
    if issuer is None:  # excluded just above; checked again for the reader
        return Answer(UNAUTHORIZED)
    now = ctx.clock.now()
    stored = None
    if len(req.cert_ids) == 1:
        cid = req.cert_ids[0]
        serial = _serial_hex(cid.serial)
        if serial is not None:
            stored = _lookup(ctx, issuer.id, serial, cid.hash_algorithm.value)
            if stored is not None and stored[2] <= now:
                stored = None  # expired: the refresher is behind; sign afresh below
        if stored is not None and req.nonce_extension is None:
            return Answer(*stored, True, "presigned")
    limiter = _limiter(ctx)
    if limiter is None or not limiter.acquire(blocking=False):
        if stored is not None:  # RFC 8954 §2.1: answer without the nonce rather than not at all
            return Answer(*stored, True, "fallback")
        return Answer(TRY_LATER)
    try:
        return _answer_live(ctx, req, issuer, now)
    finally:
        limiter.release()


def _answer_live(ctx: ServiceContext, req: ocsp.OcspRequest, issuer: Issuer, now: dt.datetime) -> Answer:
    serials = {cid.serial: _serial_hex(cid.serial) for cid in req.cert_ids}
    with ctx.engine.connect() as conn:
        states = {
            s.serial: s
            for s in read_states(
                conn,
                and_(Certificate.issuer_id == issuer.id, Certificate.serial.in_([s for s in serials.values() if s])),
            )
        }
    next_update = now + dt.timedelta(hours=ctx.settings.ocsp_validity_hours)
    if req.nonce_extension is None and len(req.cert_ids) == 1:
        cid = req.cert_ids[0]
        state = states.get(serials[cid.serial] or "")
        if state is not None:  # missing or expired pre-signed response: sign it, store it, send it
            row = response_row(ctx, state, cid.hash_algorithm, now)
            _store_checked(ctx, [(state, row)])
            # response_row's values are typed object (it feeds executemany): these two are the bytes and
            # the datetime that sign() returned
            return Answer(row["response_der"], now, row["next_update"], True, "presigned")  # type: ignore[arg-type]
    singles = []
    for cid in req.cert_ids:
        state = states.get(serials[cid.serial] or "")
        if state is None:
            singles.append(ocsp.single_response(cid, "unknown", now, next_update))
        else:
            singles.append(
                ocsp.single_response(
                    cid,
                    state.status,
                    now,
                    next_update,
                    revoked_at=state.revoked_at,
                    reason=state.reason,
                    invalidity_date=state.invalidity_date,
                )
            )
    body = ocsp.build_response(
        signer=signer_key(ctx, issuer.id), produced_at=now, responses=singles, nonce_extension=req.nonce_extension
    )
    return Answer(body, now, next_update, False, "live")
