"""What a CRL publish run reads (registry.services.crl_publish): the pre-encoded entries of a full
or shard CRL, the changes of a delta CRL, and which shards are due. Storage code: the entry readers
build dialect-specific SQL (``?`` or ``%s`` marks, SQLite's ``NOT INDEXED``, PostgreSQL's exported
snapshots) and work on the driver's own connection.

Reading the entries: one value per database round trip, concatenated by the database's own C code
(string_agg on PostgreSQL, group_concat on SQLite), instead of one Python bytes object per row
(1,000,000 entries: ~0.5 s instead of ~1.0 s). An aggregate over the same WHERE scans as the plain
SELECT would, so the order is the one the row-by-row read gave: the shard index, a sequential scan,
or for a large full CRL id ranges in id order (SQLite: rowid ranges; PostgreSQL: primary-key range
scans, as the two halves read before). tests/services/test_crl_entries_read.py checks it byte for byte.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.orm import Session

from .models import PublishedCrl, Revocation, RevocationEvent

__all__ = [
    "PARALLEL_MIN_ROWS",
    "PG_CHUNK_IDS",
    "PG_READERS",
    "SQLITE_CHUNK_IDS",
    "delta",
    "due_shards",
    "entries",
    "fetch",
    "pg_entries",
    "pg_parallel",
    "snapshot",
    "sqlite_entries",
]

PARALLEL_MIN_ROWS = 200_000  # PostgreSQL: a full CRL spanning this many ids is read on PG_READERS connections
PG_READERS = 4  # this connection + 3 on the same exported snapshot (4 beat 2 even on 2 cores)
PG_CHUNK_IDS = 125_000  # id span of one string_agg round trip (~6 MB): bounds libpq's buffers
SQLITE_CHUNK_IDS = 1_000_000  # id span of one group_concat (~50 MB, far below SQLite's 1 GB value limit)

_REVOCATIONS = cast(Table, Revocation.__table__)


def snapshot(session: Session) -> None:
    """One consistent view of the watermark and the entries (PostgreSQL defaults to READ COMMITTED,
    where each statement could see a different state; SQLite's read transaction is a snapshot).
    Call before the session's first statement."""
    if session.bind is not None and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def entries(conn: Connection, issuer_id: int, shard: int | None, cutoff: dt.datetime | None) -> tuple[bytes, int]:
    """The concatenated pre-encoded entries of one CRL (full: ``shard`` None) and their number,
    expired certificates left out when ``cutoff`` is given. Read inside the caller's transaction (on
    PostgreSQL its REPEATABLE READ snapshot, exported to the extra readers of a large full CRL)."""
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    # A full CRL reads most of the table: going through the table in rowid order (a scan, or rowid
    # ranges) beats walking the (issuer, shard) index and fetching each row by rowid, three times over
    # on SQLite. Shards use the index.
    hint = " NOT INDEXED" if shard is None and dialect.name == "sqlite" else ""
    where = f"FROM {_REVOCATIONS.name}{hint} WHERE issuer_id = {mark}"
    params: list[object] = [issuer_id]
    if shard is not None:
        where += f" AND shard = {mark}"
        params.append(shard)
    if cutoff is not None:
        to_db = _REVOCATIONS.c.not_after.type.bind_processor(dialect)  # the column's own storage format
        where += f" AND not_after >= {mark}"
        params.append(to_db(cutoff) if to_db else cutoff)
    dbapi = conn.connection.driver_connection
    if dialect.name == "postgresql":
        return pg_entries(conn, dbapi, where, params, full=shard is None)
    return sqlite_entries(dbapi, _REVOCATIONS.name, where, params, full=shard is None)


def sqlite_entries(dbapi: Any, table: str, where: str, params: list[object], *, full: bool) -> tuple[bytes, int]:
    """:func:`entries` on SQLite (``dbapi``: the sqlite3 connection): group_concat, over rowid
    ranges for a full CRL; row by row in a database not in UTF-8."""
    cur = dbapi.cursor()
    try:
        if cur.execute("PRAGMA encoding").fetchone()[0] != "UTF-8":
            # group_concat passes blobs through as text; only a UTF-8 database leaves their bytes alone
            return fetch(dbapi.cursor(), f"SELECT entry_der {where}", params)
        agg = f"SELECT CAST(group_concat(entry_der, x'') AS BLOB), count(*) {where}"
        if not full:
            blob, n = cur.execute(agg, params).fetchone()
            return blob or b"", n
        # Full CRL: rowid ranges (a range search that still reads the table in order), so no single
        # value nears SQLite's length limit. min()/max() of the rowid alone are two B-tree descents.
        lo = cur.execute(f"SELECT min(id) FROM {table}").fetchone()[0]
        hi = cur.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
        parts: list[bytes] = []
        n = 0
        for start in range(lo - 1, hi, SQLITE_CHUNK_IDS) if lo is not None else ():
            blob, k = cur.execute(
                f"{agg} AND id > ? AND id <= ?", [*params, start, start + SQLITE_CHUNK_IDS]
            ).fetchone()
            if blob:
                parts.append(blob)
            n += k
    finally:
        cur.close()
    return parts[0] if len(parts) == 1 else b"".join(parts), n


def pg_entries(conn: Connection, dbapi: Any, where: str, params: list[object], *, full: bool) -> tuple[bytes, int]:
    """:func:`entries` on PostgreSQL (``dbapi``: the psycopg connection): one string_agg, or for a
    large full CRL id ranges read in parallel (:func:`pg_parallel`)."""
    agg = f"SELECT string_agg(entry_der, ''::bytea), count(*) {where}"
    if full:
        lo, hi = conn.exec_driver_sql(
            f"SELECT min(id), max(id) FROM {_REVOCATIONS.name} WHERE issuer_id = %(i)s", {"i": params[0]}
        ).one()
        if lo is not None and hi - lo >= PARALLEL_MIN_ROWS:
            ranges = [(start, min(start + PG_CHUNK_IDS, hi)) for start in range(lo - 1, hi, PG_CHUNK_IDS)]
            return pg_parallel(conn, f"{agg} AND id > %s AND id <= %s", params, ranges)
    with dbapi.cursor(binary=True) as cur:  # binary: bytea arrives as its bytes, not hex text
        blob, n = cur.execute(agg, params).fetchone()
    return blob or b"", n


def pg_parallel(conn: Connection, sql: str, params: list[object], ranges: list[tuple[int, int]]) -> tuple[bytes, int]:
    """One string_agg per id range, the ranges dealt round-robin to PG_READERS connections: this
    one and others pinned to this transaction's exported snapshot, so all see the same state. The
    parts are joined in range order."""
    exported = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    readers = min(PG_READERS, len(ranges))
    parts: list[tuple[bytes, int] | None] = [None] * len(ranges)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read(k: int, driver: Any, pinned: bool) -> None:
        try:
            with driver.cursor(binary=True) as cur:
                if pinned:  # must precede any query of that transaction
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cur.execute(f"SET TRANSACTION SNAPSHOT '{exported}'")
                for i in range(k, len(ranges), readers):
                    if stop.is_set():
                        return
                    blob, n = cur.execute(sql, [*params, *ranges[i]]).fetchone()
                    parts[i] = (blob or b"", n)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
            stop.set()

    others = []
    workers: list[threading.Thread] = []
    try:
        for k in range(1, readers):
            others.append(conn.engine.raw_connection())
            workers.append(
                threading.Thread(
                    target=read, args=(k, others[-1].driver_connection, True), name=f"crl-entries-reader-{k}"
                )
            )
            workers[-1].start()
        read(0, conn.connection.driver_connection, False)
    except BaseException:
        stop.set()  # e.g. no connection to be had: the readers already started stop at their next range
        raise
    finally:
        for w in workers:
            w.join()
        for other in others:
            try:
                other.rollback()
            finally:
                other.close()
    if errors:
        raise errors[0]
    done = [p for p in parts if p is not None]
    if len(done) != len(parts):  # every reader either filled its ranges or reported an error
        raise RuntimeError(f"CRL entries: {len(parts) - len(done)} of {len(parts)} id ranges were not read")
    return b"".join([blob for blob, _n in done]), sum(n for _blob, n in done)


def fetch(cursor: Any, sql: str, params: list[object]) -> tuple[bytes, int]:
    """Row by row: the fallback (a SQLite database not in UTF-8) and the tests' reference."""
    buf = bytearray()
    n = 0
    try:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(50_000)
            if not rows:
                break
            buf += b"".join([r[0] for r in rows])
            n += len(rows)
    finally:
        cursor.close()
    return bytes(buf), n


def delta(
    conn: Connection, issuer_id: int, base_watermark: int, watermark: int, cutoff: dt.datetime | None
) -> tuple[bytes, int]:
    """The entries of a delta CRL: one per certificate changed in the change log after
    ``base_watermark`` up to ``watermark`` (its last change), and removeFromCRL entries for releases
    of certificates the base CRL listed."""
    last: dict[int, tuple[str, bytes, dt.datetime]] = {}
    for cert_id, kind, entry, not_after in conn.execute(
        select(
            RevocationEvent.certificate_id, RevocationEvent.kind, RevocationEvent.entry_der, RevocationEvent.not_after
        )
        .where(
            RevocationEvent.issuer_id == issuer_id, RevocationEvent.id > base_watermark, RevocationEvent.id <= watermark
        )
        .order_by(RevocationEvent.id)
    ):
        last[cert_id] = (kind, entry, not_after)
    released = [c for c, (kind, _e, _n) in last.items() if kind == "unlisted"]
    on_base: set[int] = set()
    if released:
        # removeFromCRL only for certificates the base CRL listed (RFC 5280 §5.3.1)
        for cert_id, kind in conn.execute(
            select(RevocationEvent.certificate_id, RevocationEvent.kind)
            .where(RevocationEvent.certificate_id.in_(released), RevocationEvent.id <= base_watermark)
            .order_by(RevocationEvent.id)
        ):
            if kind == "listed":
                on_base.add(cert_id)
            else:
                on_base.discard(cert_id)
    parts = [
        entry
        for cert_id, (kind, entry, not_after) in last.items()
        if (kind == "listed" and (cutoff is None or not_after >= cutoff)) or (kind == "unlisted" and cert_id in on_base)
    ]
    return b"".join(parts), len(parts)


def due_shards(
    conn: Connection, issuer_id: int, now: dt.datetime, *, shards: int, validity_hours: float, all_shards: bool
) -> list[int]:
    """Shards (of ``shards``) to publish: never published, past half their validity
    (``validity_hours``), or changed since their own last publication (one query over the change log)."""
    if all_shards:
        return list(range(shards))
    newest = (
        select(func.max(PublishedCrl.number))
        .where(PublishedCrl.issuer_id == issuer_id, PublishedCrl.kind == "shard")
        .group_by(PublishedCrl.shard)
    )
    latest = {
        shard: (wm, nu)
        for shard, wm, nu in conn.execute(
            select(PublishedCrl.shard, PublishedCrl.watermark, PublishedCrl.next_update).where(
                PublishedCrl.issuer_id == issuer_id, PublishedCrl.kind == "shard", PublishedCrl.number.in_(newest)
            )
        )
    }
    half = dt.timedelta(hours=validity_hours / 2)
    due = {k for k in range(shards) if k not in latest or latest[k][1] - now < half}
    low = min((wm for wm, _nu in latest.values()), default=0)
    for shard, max_id in conn.execute(
        select(RevocationEvent.shard, func.max(RevocationEvent.id))
        .where(RevocationEvent.issuer_id == issuer_id, RevocationEvent.id > low)
        .group_by(RevocationEvent.shard)
    ):
        if shard in latest and max_id > latest[shard][0]:
            due.add(shard)
    return sorted(due)
