"""Publishing CRLs (design.md §5): per issuing authority a full CRL, a delta CRL and shard CRLs,
one strictly increasing CRL-number series, written atomically, never built on a download request.

A publish run for one issuer, under that issuer's lease (so two publishers never overlap):
1. one read snapshot gives the change-log watermark and every entry the CRLs will hold;
2. one atomic UPDATE reserves all the CRL numbers of the run;
3. the full CRL (with a Freshest CRL pointer), the delta CRL (base = the previous full CRL,
   holding the changes since it, removeFromCRL for releases) and every shard whose entries changed
   or that is due are built from pre-encoded entries and signed;
4. each file is written to a temporary name, fsynced and renamed over the old one, refusing to
   replace a CRL whose number is not lower; then the run is recorded with its audit event.

Publishers on one machine also take an exclusive ``flock`` on ``<publish dir>/.publish.lock`` for the
whole run, so two runs started together (the daemon, "publish now" in the admin, ``registry crl
publish``) take turns instead of one failing: the second waits for the first (at most
:data:`LOCK_WAIT_SECONDS`). Under that lock a run removes only temporary files that cannot belong to a
live publisher: those whose process is gone, or older than :data:`STALE_TEMP_SECONDS`. The database lease
still guards publishers on other machines sharing the database (they are told who holds it).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import mmap
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import Authority, CrlCounter, Lease, PublishedCrl, Revocation, RevocationEvent
from ..domain.errors import Conflict, DomainError, M, NotFound
from ..domain.roles import Permission, require
from ..pki import crl
from . import audit, authorities
from .context import Actor, ServiceContext


@dataclass(frozen=True)
class Published:
    issuer: str
    kind: str
    shard: int | None
    number: int
    path: str
    entries: int
    size: int
    sha256: str
    this_update: dt.datetime
    next_update: dt.datetime
    base_number: int | None = None


def crl_issuers(ctx: ServiceContext) -> list[str]:
    """Authorities that sign CRLs: the roots (for our CA and seal-maker certificates) and the
    issuing CAs (for holder certificates)."""
    with ctx.reader() as session:
        return list(
            session.scalars(
                select(Authority.name).where(Authority.kind.in_(("root", "issuing"))).order_by(Authority.id)
            )
        )


def relative_path(issuer: str, kind: str, shard: int | None) -> str:
    if kind == "full":
        return f"{issuer}.crl"
    if kind == "delta":
        return f"{issuer}-delta.crl"
    return f"{issuer}/shard-{shard}.crl"


# ------------------------------------------------------------------------------------------------
# Leases


@contextmanager
def lease(ctx: ServiceContext, name: str, holder: str, ttl: dt.timedelta) -> Iterator[None]:
    """Hold the named lease for the duration of the block, or raise Conflict if someone else holds
    an unexpired one. Uses the database, so it works across processes and machines."""
    now = dt.datetime.now(dt.UTC)
    with ctx.transaction() as session:
        row = session.scalar(select(Lease).where(Lease.name == name).with_for_update())
        if row is None:
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
        elif row.expires_at > now and row.holder != holder:
            raise Conflict(
                M(
                    "crl_publish.lease_held",
                    "{name} is being published by {holder} (lease until {until}Z)",
                    "{name} 正由 {holder} 发布（租约至 {until}Z）",
                ),
                name=name,
                holder=row.holder,
                until=f"{row.expires_at:%H:%M:%S}",
            )
        else:
            row.holder, row.expires_at = holder, now + ttl
    try:
        yield
    finally:
        with ctx.transaction() as session:
            session.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == holder)
                .values(expires_at=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
            )


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


# ------------------------------------------------------------------------------------------------
# Files


def crl_number_of_file(path: Path) -> int | None:
    """The cRLNumber of a published CRL file, read without walking its entries; None if absent.
    The file is mapped, not read: only the pages holding its headers and extensions are touched
    (a 1,000,000-entry CRL is 49 MB; reading it took 49 MB more memory and ~30 ms per publish)."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return None
    with fh:
        try:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return crl.peek(mapped)[0]
        except (crl.CrlError, ValueError):  # ValueError: an empty file cannot be mapped
            return None  # an unreadable file is replaced


def write_atomically(path: Path, data: bytes, number: int) -> None:
    """temp file in the same directory → fsync → refuse if the published number is not lower →
    rename over → fsync the directory. A publisher killed at any point leaves the old file served."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        os.fchmod(fh.fileno(), 0o644)  # CRLs are public: readable by a static server under another user
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    hold = os.environ.get("REGISTRY_TEST_HOLD_BEFORE_RENAME")
    if hold:  # tests only: stop between write and rename so a test can kill the publisher here
        import time

        Path(hold).write_text(str(tmp))
        time.sleep(120)
    try:
        current = crl_number_of_file(path)
        if current is not None and current >= number:
            raise Conflict(
                M(
                    "crl_publish.number_not_higher",
                    "{file}: refusing to replace CRL number {current} with {number}",
                    "{file}：拒绝用编号 {number} 替换编号为 {current} 的 CRL",
                ),
                file=path.name,
                current=current,
                number=number,
            )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


#: A temporary file this old is removed even if its process number is alive (it was reused).
STALE_TEMP_SECONDS = 3600
#: How long a run waits for another run on this machine to finish before giving up with Conflict.
LOCK_WAIT_SECONDS = 300.0
LOCK_NAME = ".publish.lock"
_TEMP_PID = re.compile(r"\.(\d+)\.(\d+)\.tmp$")


@contextmanager
def publish_lock(publish_dir: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the publish directory's lock file (``flock``, exclusive) for the block, waiting for
    another holder for at most ``wait`` seconds (:data:`LOCK_WAIT_SECONDS`). The kernel releases the
    lock when its holder exits, so a killed publisher never leaves it held."""
    publish_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(publish_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        limit = time.monotonic() + (LOCK_WAIT_SECONDS if wait is None else wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= limit:
                    raise Conflict(
                        M(
                            "crl_publish.lock_busy",
                            "another CRL publish run on this server has been running for more than "
                            "{seconds:.0f} s; try again later",
                            "本服务器上另一次 CRL 发布已运行超过 {seconds:.0f} 秒，请稍后再试",
                        ),
                        seconds=LOCK_WAIT_SECONDS if wait is None else wait,
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def clean_stale_temp_files(publish_dir: Path, now: float | None = None) -> int:
    """Remove temporary files left by a publisher that died before renaming: those whose process
    (the number in the name) is gone, and any older than :data:`STALE_TEMP_SECONDS`. Called under
    :func:`publish_lock`, so no live publisher on this machine is writing; a file of a live process
    elsewhere (another machine sharing the directory) is left until it is stale."""
    n = 0
    if not publish_dir.exists():
        return 0
    now = time.time() if now is None else now
    for tmp in publish_dir.rglob(".*.tmp"):
        try:
            age = now - tmp.stat().st_mtime
        except FileNotFoundError:
            continue
        m = _TEMP_PID.search(tmp.name)
        dead = m is not None and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1)))
        if dead or age > STALE_TEMP_SECONDS:
            tmp.unlink(missing_ok=True)
            n += 1
    return n


# ------------------------------------------------------------------------------------------------
# Publishing


def publish(
    ctx: ServiceContext, actor: Actor, issuers: list[str] | None = None, *, all_shards: bool = False
) -> list[Published]:
    """Publish the CRLs of ``issuers`` (default: every CRL issuer). Returns what was written."""
    require(actor.name, actor.roles, Permission.CRL_PUBLISH)
    names = issuers or crl_issuers(ctx)
    known = set(crl_issuers(ctx))
    for n in names:
        if n not in known:
            raise NotFound(
                M(
                    "crl_publish.unknown_issuer",
                    "no CRL issuer named {name}; use one of: {known}",
                    "没有名为 {name} 的 CRL 签发者；可用：{known}",
                ),
                name=repr(n),
                known=", ".join(sorted(known)),
            )
    out: list[Published] = []
    holder = _holder_name()
    with publish_lock(ctx.settings.publish_dir):
        clean_stale_temp_files(ctx.settings.publish_dir)
        for name in names:
            with lease(ctx, f"crl:{name}", holder, dt.timedelta(seconds=60)):
                out += _publish_issuer(ctx, actor, name, all_shards=all_shards)
        _checkpoint(ctx)
    return out


def _checkpoint(ctx: ServiceContext) -> None:
    """Anchor the audit chain's head (registry.services.audit_anchor) after the run's own events.
    A refusal (the chain disagrees with the last checkpoint) is logged: it must not stop CRLs."""
    import logging

    from . import audit_anchor

    try:
        audit_anchor.make_checkpoint(ctx)
    except DomainError as exc:
        logging.getLogger("registry.audit").error("audit checkpoint not written: %s", exc)


def _snapshot(session: Session) -> None:
    # One consistent view of the watermark and the entries (PostgreSQL defaults to READ COMMITTED,
    # where each statement could see a different state; SQLite's read transaction is a snapshot).
    if session.bind is not None and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _publish_issuer(ctx: ServiceContext, actor: Actor, name: str, *, all_shards: bool) -> list[Published]:
    s = ctx.settings
    now = ctx.clock.now()
    next_update = now + dt.timedelta(hours=s.crl_validity_hours)
    cutoff = None if s.crl_keep_expired else now

    with ctx.reader() as session:
        _snapshot(session)
        auth = authorities.load(ctx, session, name) if _is_active(session, name) else _load_inactive(ctx, session, name)
        conn = session.connection()
        issuer_id = auth.id
        watermark = conn.execute(
            select(func.coalesce(func.max(RevocationEvent.id), 0)).where(RevocationEvent.issuer_id == issuer_id)
        ).scalar_one()
        prev_full = conn.execute(
            select(PublishedCrl.number, PublishedCrl.watermark)
            .where(PublishedCrl.issuer_id == issuer_id, PublishedCrl.kind == "full")
            .order_by(PublishedCrl.number.desc())
            .limit(1)
        ).first()
        # Full CRL: every listed entry (expired certificates leave unless configured to stay).
        full_entries, full_count = _entries(conn, issuer_id, None, cutoff)
        # Delta: the changes since the previous full CRL, one entry per certificate (its last change).
        delta_entries, delta_count = (
            (b"", 0) if prev_full is None else _delta(conn, issuer_id, prev_full.watermark, watermark, cutoff)
        )
        # Shards: issuing CAs only (root CRLs are small), those whose entries changed or are due.
        shard_data: dict[int, tuple[bytes, int]] = {}
        if auth.kind == "issuing":
            due = _due_shards(conn, ctx, issuer_id, now, all_shards)
            for shard in due:
                shard_data[shard] = _entries(conn, issuer_id, shard, cutoff)

    count = 2 + len(shard_data)
    first = _reserve_numbers(ctx, issuer_id, count)
    full_no, delta_no = first, first + 1
    base_no = prev_full.number if prev_full is not None else full_no
    signer, issuer_der, aki = auth.signer, auth.certificate.subject_der, auth.key_id
    plans: list[tuple[str, int | None, int, bytes, int, int | None]] = []
    full_der = crl.build_crl(
        signer=signer,
        issuer_name_der=issuer_der,
        authority_key_id=aki,
        number=full_no,
        this_update=now,
        next_update=next_update,
        entries=full_entries,
        freshest_url=authorities.delta_crl_url(ctx, name),
    )
    del full_entries
    plans.append(("full", None, full_no, full_der, full_count, None))
    delta_der = crl.build_crl(
        signer=signer,
        issuer_name_der=issuer_der,
        authority_key_id=aki,
        number=delta_no,
        this_update=now,
        next_update=next_update,
        entries=delta_entries,
        delta_base=base_no,
    )
    plans.append(("delta", None, delta_no, delta_der, delta_count, base_no))
    for i, (shard, (entries, n)) in enumerate(sorted(shard_data.items())):
        shard_der = crl.build_crl(
            signer=signer,
            issuer_name_der=issuer_der,
            authority_key_id=aki,
            number=first + 2 + i,
            this_update=now,
            next_update=next_update,
            entries=entries,
            idp_url=authorities.crl_url(ctx, name, shard),
        )
        plans.append(("shard", shard, first + 2 + i, shard_der, n, None))

    results: list[Published] = []
    for kind, shard, number, data, entries_n, base in plans:
        rel = relative_path(name, kind, shard)
        write_atomically(s.publish_dir / rel, data, number)
        results.append(
            Published(
                name,
                kind,
                shard,
                number,
                rel,
                entries_n,
                len(data),
                hashlib.sha256(data).hexdigest(),
                now,
                next_update,
                base,
            )
        )
    with ctx.transaction() as session:
        session.execute(
            insert(PublishedCrl),
            [
                {
                    "issuer_id": issuer_id,
                    "kind": r.kind,
                    "shard": r.shard,
                    "number": r.number,
                    "base_number": r.base_number,
                    "watermark": watermark,
                    "path": r.path,
                    "this_update": now,
                    "next_update": next_update,
                    "entries": r.entries,
                    "size": r.size,
                    "sha256": r.sha256,
                    "published_at": dt.datetime.now(dt.UTC),
                }
                for r in results
            ],
        )
        audit.record(
            session,
            ctx,
            actor,
            "crl.published",
            "authority",
            name,
            watermark=watermark,
            crls=[{"kind": r.kind, "shard": r.shard, "number": r.number, "entries": r.entries} for r in results],
        )
    return results


def _is_active(session: Session, name: str) -> bool:
    return bool(session.scalar(select(Authority.active).where(Authority.name == name)))


def _load_inactive(ctx: ServiceContext, session: Session, name: str) -> authorities.LoadedAuthority:
    # A revoked issuing CA still publishes its CRLs (its certificates' status must stay answerable).
    from ..pki import x509
    from ..pki.keys import decrypt_private_key

    row = session.scalar(select(Authority).where(Authority.name == name))
    assert row is not None
    return authorities.LoadedAuthority(
        row.id,
        row.name,
        row.kind,
        row.algorithm,
        x509.Certificate.from_der(row.certificate_der),
        decrypt_private_key(row.key_blob, ctx.require_keyring().keys),
    )


# Reading the entries: one value per database round trip, concatenated by the database's own C code
# (string_agg on PostgreSQL, group_concat on SQLite), instead of one Python bytes object per row
# (1,000,000 entries: ~0.5 s instead of ~1.0 s). An aggregate over the same WHERE scans as the plain
# SELECT would, so the order is the one the row-by-row read gave: the shard index, a sequential scan,
# or for a large full CRL id ranges in id order (SQLite: rowid ranges; PostgreSQL: primary-key range
# scans, as the two halves read before). tests/services/test_crl_entries_read.py checks it byte for byte.

PARALLEL_MIN_ROWS = 200_000  # PostgreSQL: a full CRL spanning this many ids is read on PG_READERS connections
PG_READERS = 4  # this connection + 3 on the same exported snapshot (4 beat 2 even on 2 cores)
PG_CHUNK_IDS = 125_000  # id span of one string_agg round trip (~6 MB): bounds libpq's buffers
SQLITE_CHUNK_IDS = 1_000_000  # id span of one group_concat (~50 MB, far below SQLite's 1 GB value limit)


def _entries(conn, issuer_id: int, shard: int | None, cutoff: dt.datetime | None) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    """The concatenated pre-encoded entries of one CRL (full: ``shard`` None) and their number,
    expired certificates left out when ``cutoff`` is given. Read inside the caller's transaction (on
    PostgreSQL its REPEATABLE READ snapshot, exported to the extra readers of a large full CRL)."""
    table = Revocation.__table__
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    # A full CRL reads most of the table: going through the table in rowid order (a scan, or rowid
    # ranges) beats walking the (issuer, shard) index and fetching each row by rowid, three times over
    # on SQLite. Shards use the index.
    hint = " NOT INDEXED" if shard is None and dialect.name == "sqlite" else ""
    where = f"FROM {table.name}{hint} WHERE issuer_id = {mark}"
    params: list[object] = [issuer_id]
    if shard is not None:
        where += f" AND shard = {mark}"
        params.append(shard)
    if cutoff is not None:
        to_db = table.c.not_after.type.bind_processor(dialect)  # the column's own storage format
        where += f" AND not_after >= {mark}"
        params.append(to_db(cutoff) if to_db else cutoff)
    dbapi = conn.connection.driver_connection
    if dialect.name == "postgresql":
        return _pg_entries(conn, dbapi, where, params, full=shard is None)
    return _sqlite_entries(dbapi, table.name, where, params, full=shard is None)


def _sqlite_entries(dbapi, table: str, where: str, params: list[object], *, full: bool) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    cur = dbapi.cursor()
    try:
        if cur.execute("PRAGMA encoding").fetchone()[0] != "UTF-8":
            # group_concat passes blobs through as text; only a UTF-8 database leaves their bytes alone
            return _fetch(dbapi.cursor(), f"SELECT entry_der {where}", params)
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


def _pg_entries(conn, dbapi, where: str, params: list[object], *, full: bool) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    agg = f"SELECT string_agg(entry_der, ''::bytea), count(*) {where}"
    if full:
        lo, hi = conn.exec_driver_sql(
            f"SELECT min(id), max(id) FROM {Revocation.__tablename__} WHERE issuer_id = %(i)s", {"i": params[0]}
        ).one()
        if lo is not None and hi - lo >= PARALLEL_MIN_ROWS:
            ranges = [(start, min(start + PG_CHUNK_IDS, hi)) for start in range(lo - 1, hi, PG_CHUNK_IDS)]
            return _pg_parallel(conn, f"{agg} AND id > %s AND id <= %s", params, ranges)
    with dbapi.cursor(binary=True) as cur:  # binary: bytea arrives as its bytes, not hex text
        blob, n = cur.execute(agg, params).fetchone()
    return blob or b"", n


def _pg_parallel(conn, sql: str, params: list[object], ranges: list[tuple[int, int]]) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
    """One string_agg per id range, the ranges dealt round-robin to PG_READERS connections: this
    one and others pinned to this transaction's exported snapshot, so all see the same state. The
    parts are joined in range order."""
    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    readers = min(PG_READERS, len(ranges))
    parts: list[tuple[bytes, int] | None] = [None] * len(ranges)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read(k: int, driver, pinned: bool) -> None:  # type: ignore[no-untyped-def]
        try:
            with driver.cursor(binary=True) as cur:
                if pinned:  # must precede any query of that transaction
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    cur.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
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
    assert len(done) == len(parts)
    return b"".join([blob for blob, _n in done]), sum(n for _blob, n in done)


def _fetch(cursor, sql: str, params: list[object]) -> tuple[bytes, int]:  # type: ignore[no-untyped-def]
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


def _delta(
    conn,
    issuer_id: int,
    base_watermark: int,
    watermark: int,  # type: ignore[no-untyped-def]
    cutoff: dt.datetime | None,
) -> tuple[bytes, int]:
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


def _due_shards(
    conn,
    ctx: ServiceContext,
    issuer_id: int,
    now: dt.datetime,  # type: ignore[no-untyped-def]
    all_shards: bool,
) -> list[int]:
    """Shards to publish: never published, past half their validity, or changed since their own
    last publication (one query over the change log)."""
    n = ctx.settings.crl_shards
    if all_shards:
        return list(range(n))
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
    half = dt.timedelta(hours=ctx.settings.crl_validity_hours / 2)
    due = {k for k in range(n) if k not in latest or latest[k][1] - now < half}
    low = min((wm for wm, _nu in latest.values()), default=0)
    for shard, max_id in conn.execute(
        select(RevocationEvent.shard, func.max(RevocationEvent.id))
        .where(RevocationEvent.issuer_id == issuer_id, RevocationEvent.id > low)
        .group_by(RevocationEvent.shard)
    ):
        if shard in latest and max_id > latest[shard][0]:
            due.add(shard)
    return sorted(due)


def _reserve_numbers(ctx: ServiceContext, issuer_id: int, count: int) -> int:
    """Reserve ``count`` consecutive CRL numbers atomically; returns the first. The row update
    serialises concurrent publishers, so no number is ever handed out twice."""
    for _attempt in range(3):
        try:
            with ctx.transaction() as session:
                conn = session.connection()
                last = conn.execute(
                    update(CrlCounter)
                    .where(CrlCounter.issuer_id == issuer_id)
                    .values(last_number=CrlCounter.last_number + count)
                    .returning(CrlCounter.last_number)
                ).scalar()
                if last is None:
                    conn.execute(insert(CrlCounter).values(issuer_id=issuer_id, last_number=count))
                    last = count
                return int(last) - count + 1
        except IntegrityError:  # two first publishers raced to create the counter row
            continue
    raise Conflict(
        M("crl_publish.reserve_failed", "could not reserve CRL numbers; try again", "未能预留 CRL 编号，请重试")
    )


# ------------------------------------------------------------------------------------------------
# The publisher loop


def pending(ctx: ServiceContext) -> list[str]:
    """Issuers whose CRLs miss a change or are past half their validity."""
    now = ctx.clock.now()
    half = dt.timedelta(hours=ctx.settings.crl_validity_hours / 2)
    out = []
    with ctx.reader() as session:
        for auth_id, name in session.execute(
            select(Authority.id, Authority.name).where(Authority.kind.in_(("root", "issuing")))
        ):
            last = session.execute(
                select(PublishedCrl.watermark, PublishedCrl.next_update)
                .where(PublishedCrl.issuer_id == auth_id, PublishedCrl.kind == "full")
                .order_by(PublishedCrl.number.desc())
                .limit(1)
            ).first()
            top = session.scalar(
                select(func.coalesce(func.max(RevocationEvent.id), 0)).where(RevocationEvent.issuer_id == auth_id)
            )
            if last is None or top > last.watermark or last.next_update - now < half:
                out.append(name)
    return out


def run_publisher(
    ctx: ServiceContext,
    actor: Actor,
    *,
    interval: float | None = None,
    max_seconds: float | None = None,
    stop: threading.Event | None = None,
    also: Callable[[], Iterable[str]] | None = None,
) -> Iterator[str]:
    """Check every ``interval`` seconds; publish the issuers that need it. Yields a line per CRL
    written. A lease held by another publisher is skipped quietly (that one is publishing).
    ``also`` runs once per round after the CRLs (the OCSP refresh); its lines are yielded too."""
    import time

    wait = interval if interval is not None else max(0.2, float(ctx.settings.crl_publish_interval))
    stop = stop or threading.Event()
    started = time.monotonic()
    while not stop.is_set():
        try:
            due = pending(ctx)
        except Exception as exc:  # noqa: BLE001 - a daemon reports and retries (database restart...)
            yield f"error: cannot check for changes: {type(exc).__name__}: {exc}"
            due = []
        for name in due:
            try:
                for p in publish(ctx, actor, [name]):
                    yield f"{p.path} number {p.number} entries {p.entries}"
            except Conflict as exc:
                yield f"skipped {name}: {exc}"
            except Exception as exc:  # noqa: BLE001 - keep publishing the other issuers
                yield f"error: publishing {name} failed: {type(exc).__name__}: {exc}"
        if also is not None:
            try:
                yield from also()
            except Exception as exc:  # noqa: BLE001 - a daemon reports and retries
                yield f"error: {type(exc).__name__}: {exc}"
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            return
        stop.wait(wait)
