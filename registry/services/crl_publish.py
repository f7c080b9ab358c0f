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
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import Authority, CrlCounter, Lease, PublishedCrl, Revocation, RevocationEvent
from ..domain.errors import Conflict, NotFound
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
        return list(session.scalars(select(Authority.name).where(Authority.kind.in_(("root", "issuing")))
                                    .order_by(Authority.id)))


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
    now = dt.datetime.now(dt.timezone.utc)
    with ctx.transaction() as session:
        row = session.scalar(select(Lease).where(Lease.name == name).with_for_update())
        if row is None:
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
        elif row.expires_at > now and row.holder != holder:
            raise Conflict(f"{name} is being published by {row.holder} (lease until "
                           f"{row.expires_at:%H:%M:%S}Z)")
        else:
            row.holder, row.expires_at = holder, now + ttl
    try:
        yield
    finally:
        with ctx.transaction() as session:
            session.execute(update(Lease).where(Lease.name == name, Lease.holder == holder)
                            .values(expires_at=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)))


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


# ------------------------------------------------------------------------------------------------
# Files


def crl_number_of_file(path: Path) -> int | None:
    """The cRLNumber of a published CRL file, read without walking its entries; None if absent."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return crl.peek(data)[0]
    except crl.CrlError:
        return None  # an unreadable file is replaced


def write_atomically(path: Path, data: bytes, number: int) -> None:
    """temp file in the same directory → fsync → refuse if the published number is not lower →
    rename over → fsync the directory. A publisher killed at any point leaves the old file served."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
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
            raise Conflict(f"{path.name}: refusing to replace CRL number {current} with {number}")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def clean_stale_temp_files(publish_dir: Path) -> int:
    """Remove temporary files left by a publisher that died before renaming."""
    n = 0
    if publish_dir.exists():
        for tmp in publish_dir.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            n += 1
    return n


# ------------------------------------------------------------------------------------------------
# Publishing


def publish(ctx: ServiceContext, actor: Actor, issuers: list[str] | None = None, *,
            all_shards: bool = False) -> list[Published]:
    """Publish the CRLs of ``issuers`` (default: every CRL issuer). Returns what was written."""
    require(actor.name, actor.roles, Permission.CRL_PUBLISH)
    names = issuers or crl_issuers(ctx)
    known = set(crl_issuers(ctx))
    for n in names:
        if n not in known:
            raise NotFound(f"no CRL issuer named {n!r}; use one of: {', '.join(sorted(known))}")
    clean_stale_temp_files(ctx.settings.publish_dir)
    out: list[Published] = []
    holder = _holder_name()
    for name in names:
        with lease(ctx, f"crl:{name}", holder, dt.timedelta(seconds=60)):
            out += _publish_issuer(ctx, actor, name, all_shards=all_shards)
    return out


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
        watermark = conn.execute(select(func.coalesce(func.max(RevocationEvent.id), 0))
                                 .where(RevocationEvent.issuer_id == issuer_id)).scalar_one()
        prev_full = conn.execute(select(PublishedCrl.number, PublishedCrl.watermark)
                                 .where(PublishedCrl.issuer_id == issuer_id, PublishedCrl.kind == "full")
                                 .order_by(PublishedCrl.number.desc()).limit(1)).first()
        # Full CRL: every listed entry (expired certificates leave unless configured to stay).
        full_entries, full_count = _entries(conn, issuer_id, None, cutoff)
        # Delta: the changes since the previous full CRL, one entry per certificate (its last change).
        delta_entries, delta_count = (b"", 0) if prev_full is None else _delta(conn, issuer_id, prev_full.watermark,
                                                                                watermark, cutoff)
        # Shards: issuing CAs only (root CRLs are small), those whose entries changed or are due.
        shard_data: dict[int, tuple[bytearray, int]] = {}
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
    full_der = crl.build_crl(signer=signer, issuer_name_der=issuer_der, authority_key_id=aki, number=full_no,
                             this_update=now, next_update=next_update, entries=full_entries,
                             freshest_url=authorities.delta_crl_url(ctx, name))
    del full_entries
    plans.append(("full", None, full_no, full_der, full_count, None))
    delta_der = crl.build_crl(signer=signer, issuer_name_der=issuer_der, authority_key_id=aki, number=delta_no,
                              this_update=now, next_update=next_update, entries=delta_entries,
                              delta_base=base_no)
    plans.append(("delta", None, delta_no, delta_der, delta_count, base_no))
    for i, (shard, (entries, n)) in enumerate(sorted(shard_data.items())):
        shard_der = crl.build_crl(signer=signer, issuer_name_der=issuer_der, authority_key_id=aki,
                                  number=first + 2 + i, this_update=now, next_update=next_update, entries=entries,
                                  idp_url=authorities.crl_url(ctx, name, shard))
        plans.append(("shard", shard, first + 2 + i, shard_der, n, None))

    results: list[Published] = []
    for kind, shard, number, data, entries_n, base in plans:
        rel = relative_path(name, kind, shard)
        write_atomically(s.publish_dir / rel, data, number)
        results.append(Published(name, kind, shard, number, rel, entries_n, len(data),
                                 hashlib.sha256(data).hexdigest(), now, next_update, base))
    with ctx.transaction() as session:
        session.execute(insert(PublishedCrl), [
            {"issuer_id": issuer_id, "kind": r.kind, "shard": r.shard, "number": r.number,
             "base_number": r.base_number, "watermark": watermark, "path": r.path, "this_update": now,
             "next_update": next_update, "entries": r.entries, "size": r.size, "sha256": r.sha256,
             "published_at": dt.datetime.now(dt.timezone.utc)} for r in results])
        audit.record(session, ctx, actor, "crl.published", "authority", name, watermark=watermark,
                     crls=[{"kind": r.kind, "shard": r.shard, "number": r.number, "entries": r.entries}
                           for r in results])
    return results


def _is_active(session: Session, name: str) -> bool:
    return bool(session.scalar(select(Authority.active).where(Authority.name == name)))


def _load_inactive(ctx: ServiceContext, session: Session, name: str) -> authorities.LoadedAuthority:
    # A revoked issuing CA still publishes its CRLs (its certificates' status must stay answerable).
    from ..pki import x509
    from ..pki.keys import decrypt_private_key

    row = session.scalar(select(Authority).where(Authority.name == name))
    assert row is not None
    return authorities.LoadedAuthority(row.id, row.name, row.kind, row.algorithm,
                                       x509.Certificate.from_der(row.certificate_der),
                                       decrypt_private_key(row.key_blob, ctx.require_keyring().keys))


PARALLEL_MIN_ROWS = 200_000


def _entries(conn, issuer_id: int, shard: int | None, cutoff: dt.datetime | None) -> tuple[bytearray, int]:  # type: ignore[no-untyped-def]
    """The concatenated pre-encoded entries of one CRL, streamed in chunks straight from the DBAPI
    cursor (a server-side cursor on PostgreSQL): a million rows become one buffer without a Python
    object per row beyond the blob itself. A large full CRL on PostgreSQL is read as two halves in
    parallel, the second on another connection pinned to this transaction's exported snapshot, so
    both halves see exactly the same state."""
    table = Revocation.__table__
    dialect = conn.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    # A full CRL reads most of the table: a sequential scan beats walking the (issuer, shard) index
    # and fetching each row by rowid, three times over on SQLite. Shards use the index.
    hint = " NOT INDEXED" if shard is None and dialect.name == "sqlite" else ""
    sql = f"SELECT entry_der FROM {table.name}{hint} WHERE issuer_id = {mark}"
    params: list[object] = [issuer_id]
    if shard is not None:
        sql += f" AND shard = {mark}"
        params.append(shard)
    if cutoff is not None:
        to_db = table.c.not_after.type.bind_processor(dialect)  # the column's own storage format
        sql += f" AND not_after >= {mark}"
        params.append(to_db(cutoff) if to_db else cutoff)
    dbapi = conn.connection.driver_connection
    if dialect.name != "postgresql":
        return _fetch(dbapi.cursor(), sql, params)
    tag = f"{os.getpid()}_{threading.get_ident()}"
    if shard is None:
        lo, hi = conn.exec_driver_sql(f"SELECT min(id), max(id) FROM {table.name} WHERE issuer_id = %(i)s",
                                      {"i": issuer_id}).one()
        if lo is not None and hi - lo >= PARALLEL_MIN_ROWS:
            return _fetch_halves(conn, sql, params, (lo + hi) // 2, tag)
    return _fetch(dbapi.cursor(name=f"crl_entries_{tag}", binary=True), sql, params)


def _fetch(cursor, sql: str, params: list[object]) -> tuple[bytearray, int]:  # type: ignore[no-untyped-def]
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
    return buf, n


def _fetch_halves(conn, sql: str, params: list[object], mid: int, tag: str) -> tuple[bytearray, int]:  # type: ignore[no-untyped-def]
    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    other = conn.engine.raw_connection()
    result: dict[str, object] = {}

    def second_half() -> None:
        try:
            driver = other.driver_connection
            with driver.cursor() as cur:  # must precede any query of that transaction
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            result["rows"] = _fetch(driver.cursor(name=f"crl_entries_b_{tag}", binary=True),
                                    sql + " AND id > %s", [*params, mid])
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=second_half, name="crl-entries-second-half")
    worker.start()
    try:
        first, n1 = _fetch(conn.connection.driver_connection.cursor(name=f"crl_entries_a_{tag}", binary=True),
                           sql + " AND id <= %s", [*params, mid])
    finally:
        worker.join()
        try:
            other.rollback()
        finally:
            other.close()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    second, n2 = result["rows"]  # type: ignore[misc]
    first += second
    return first, n1 + n2


def _delta(conn, issuer_id: int, base_watermark: int, watermark: int,  # type: ignore[no-untyped-def]
           cutoff: dt.datetime | None) -> tuple[bytes, int]:
    last: dict[int, tuple[str, bytes, dt.datetime]] = {}
    for cert_id, kind, entry, not_after in conn.execute(
            select(RevocationEvent.certificate_id, RevocationEvent.kind, RevocationEvent.entry_der,
                   RevocationEvent.not_after)
            .where(RevocationEvent.issuer_id == issuer_id, RevocationEvent.id > base_watermark,
                   RevocationEvent.id <= watermark).order_by(RevocationEvent.id)):
        last[cert_id] = (kind, entry, not_after)
    released = [c for c, (kind, _e, _n) in last.items() if kind == "unlisted"]
    on_base: set[int] = set()
    if released:
        # removeFromCRL only for certificates the base CRL listed (RFC 5280 §5.3.1)
        for cert_id, kind in conn.execute(
                select(RevocationEvent.certificate_id, RevocationEvent.kind)
                .where(RevocationEvent.certificate_id.in_(released), RevocationEvent.id <= base_watermark)
                .order_by(RevocationEvent.id)):
            if kind == "listed":
                on_base.add(cert_id)
            else:
                on_base.discard(cert_id)
    parts = [entry for cert_id, (kind, entry, not_after) in last.items()
             if (kind == "listed" and (cutoff is None or not_after >= cutoff))
             or (kind == "unlisted" and cert_id in on_base)]
    return b"".join(parts), len(parts)


def _due_shards(conn, ctx: ServiceContext, issuer_id: int, now: dt.datetime,  # type: ignore[no-untyped-def]
                all_shards: bool) -> list[int]:
    """Shards to publish: never published, past half their validity, or changed since their own
    last publication (one query over the change log)."""
    n = ctx.settings.crl_shards
    if all_shards:
        return list(range(n))
    newest = (select(func.max(PublishedCrl.number))
              .where(PublishedCrl.issuer_id == issuer_id, PublishedCrl.kind == "shard")
              .group_by(PublishedCrl.shard))
    latest = {shard: (wm, nu) for shard, wm, nu in conn.execute(
        select(PublishedCrl.shard, PublishedCrl.watermark, PublishedCrl.next_update)
        .where(PublishedCrl.issuer_id == issuer_id, PublishedCrl.kind == "shard", PublishedCrl.number.in_(newest)))}
    half = dt.timedelta(hours=ctx.settings.crl_validity_hours / 2)
    due = {k for k in range(n) if k not in latest or latest[k][1] - now < half}
    low = min((wm for wm, _nu in latest.values()), default=0)
    for shard, max_id in conn.execute(select(RevocationEvent.shard, func.max(RevocationEvent.id))
                                      .where(RevocationEvent.issuer_id == issuer_id, RevocationEvent.id > low)
                                      .group_by(RevocationEvent.shard)):
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
                last = conn.execute(update(CrlCounter).where(CrlCounter.issuer_id == issuer_id)
                                    .values(last_number=CrlCounter.last_number + count)
                                    .returning(CrlCounter.last_number)).scalar()
                if last is None:
                    conn.execute(insert(CrlCounter).values(issuer_id=issuer_id, last_number=count))
                    last = count
                return int(last) - count + 1
        except IntegrityError:  # two first publishers raced to create the counter row
            continue
    raise Conflict("could not reserve CRL numbers; try again")


# ------------------------------------------------------------------------------------------------
# The publisher loop


def pending(ctx: ServiceContext) -> list[str]:
    """Issuers whose CRLs miss a change or are past half their validity."""
    now = ctx.clock.now()
    half = dt.timedelta(hours=ctx.settings.crl_validity_hours / 2)
    out = []
    with ctx.reader() as session:
        for auth_id, name in session.execute(select(Authority.id, Authority.name)
                                             .where(Authority.kind.in_(("root", "issuing")))):
            last = session.execute(select(PublishedCrl.watermark, PublishedCrl.next_update)
                                   .where(PublishedCrl.issuer_id == auth_id, PublishedCrl.kind == "full")
                                   .order_by(PublishedCrl.number.desc()).limit(1)).first()
            top = session.scalar(select(func.coalesce(func.max(RevocationEvent.id), 0))
                                 .where(RevocationEvent.issuer_id == auth_id))
            if last is None or top > last.watermark or last.next_update - now < half:
                out.append(name)
    return out


def run_publisher(ctx: ServiceContext, actor: Actor, *, interval: float | None = None,
                  max_seconds: float | None = None, stop: threading.Event | None = None,
                  also: Callable[[], Iterable[str]] | None = None) -> Iterator[str]:
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
