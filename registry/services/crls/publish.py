"""Publishing CRLs (design.md §5): per issuing authority a full CRL, a delta CRL and shard CRLs,
one strictly increasing CRL-number series, written atomically, never built on a download request.

A publish run for one issuer, under that issuer's lease (so two publishers never overlap):
1. one read snapshot gives the change-log watermark and every entry the CRLs will hold
   (registry.db.crl_entries);
2. one atomic UPDATE reserves all the CRL numbers of the run;
3. the full CRL (with a Freshest CRL pointer), the delta CRL (base = the previous full CRL,
   holding the changes since it, removeFromCRL for releases) and every shard whose entries changed
   or that is due are built from pre-encoded entries and signed;
4. each file is written to a temporary name, fsynced and renamed over the old one, refusing to
   replace a CRL whose number is not lower (registry.services.crls.files); then the run is recorded
   with its audit event.

Publishers on one machine take turns on the publish directory's lock
(:func:`~registry.services.crls.files.publish_lock`). The database lease
(:mod:`registry.services.core.leases`) still guards publishers on other machines sharing the
database (they are told who holds it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...db import crl_entries
from ...db.models import Authority, CrlCounter, PublishedCrl, RevocationEvent
from ...domain.errors import Conflict, DomainError, M, NotFound
from ...domain.roles import Permission, require
from ...pki import crl, x509
from ...pki.keys import decrypt_private_key
from .. import audit_anchor, authorities
from ..context import Actor, ServiceContext
from ..core import authorities as core_authorities
from ..core import leases
from ..core.tx import Tx, begin, reading
from .files import clean_stale_temp_files, publish_lock, relative_path, write_atomically

__all__ = ["LEASE_TTL", "BeingPublished", "Published", "crl_issuers", "pending", "publish", "run_publisher"]

#: How long one issuer's publish run holds its lease (``crl:<issuer>``).
LEASE_TTL = dt.timedelta(seconds=60)
UNKNOWN_ISSUER = M(
    "crl_publish.unknown_issuer",
    "no CRL issuer named {name}; use one of: {known}",
    "没有名为 {name} 的 CRL 签发者；可用：{known}",
)


class BeingPublished(leases.LeaseHeld):
    """Another publisher holds the issuer's lease (``crl:<issuer>``)."""

    MESSAGE = M(
        "crl_publish.lease_held",
        "{name} is being published by {holder} (lease until {until}Z)",
        "{name} 正由 {holder} 发布（租约至 {until}Z）",
    )


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


@dataclass(frozen=True)
class _Plan:
    """One signed CRL of a run, before it is written."""

    kind: str  # full, delta or shard
    shard: int | None
    number: int
    der: bytes
    entries: int
    base_number: int | None = None  # a delta CRL's base (the previous full CRL)


@dataclass
class _Read:
    """What one read snapshot gave for an issuer's run. ``full`` is dropped once its CRL is built
    (a million entries are 49 MB)."""

    auth: authorities.LoadedAuthority
    watermark: int  # the newest change-log event the CRLs hold
    base_number: int | None  # the previous full CRL's number: the delta's base
    full: tuple[bytes, int]  # (concatenated entries, count)
    delta: tuple[bytes, int]
    shards: dict[int, tuple[bytes, int]]


def crl_issuers(ctx: ServiceContext) -> list[str]:
    """Authorities that sign CRLs: the roots (for our CA and seal-maker certificates) and the
    issuing CAs (for holder certificates)."""
    with ctx.reader() as session:
        return list(
            session.scalars(
                select(Authority.name).where(Authority.kind.in_(("root", "issuing"))).order_by(Authority.id)
            )
        )


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def publish(
    ctx: ServiceContext, actor: Actor, issuers: list[str] | None = None, *, all_shards: bool = False
) -> list[Published]:
    """Publish the CRLs of ``issuers`` (default: every CRL issuer). Returns what was written."""
    require(actor.name, actor.roles, Permission.CRL_PUBLISH)
    names = issuers or crl_issuers(ctx)
    known = set(crl_issuers(ctx))
    for n in names:
        if n not in known:
            raise NotFound(UNKNOWN_ISSUER, name=repr(n), known=", ".join(sorted(known)))
    out: list[Published] = []
    holder = _holder_name()
    with publish_lock(ctx.settings.publish_dir):
        clean_stale_temp_files(ctx.settings.publish_dir)
        for name in names:
            with leases.lease(ctx, f"crl:{name}", holder, LEASE_TTL, held=BeingPublished):
                out += _publish_issuer(ctx, actor, name, all_shards=all_shards)
        _checkpoint(ctx)
    return out


def _checkpoint(ctx: ServiceContext) -> None:
    """Anchor the audit chain's head (registry.services.audit_anchor) after the run's own events.
    A refusal (the chain disagrees with the last checkpoint) is logged: it must not stop CRLs."""
    try:
        audit_anchor.make_checkpoint(ctx)
    except DomainError as exc:
        logging.getLogger("registry.audit").error("audit checkpoint not written: %s", exc)


def _publish_issuer(ctx: ServiceContext, actor: Actor, name: str, *, all_shards: bool) -> list[Published]:
    now = ctx.clock.now()
    next_update = now + dt.timedelta(hours=ctx.settings.crl_validity_hours)
    read = _read(ctx, actor, name, now, all_shards=all_shards)
    first = _reserve_numbers(ctx, actor, read.auth.id, 2 + len(read.shards))
    plans = _sign(ctx, name, read, first, now, next_update)
    results = [_write(ctx, name, plan, now, next_update) for plan in plans]
    _record(ctx, actor, name, read, results, now, next_update)
    return results


def _read(ctx: ServiceContext, actor: Actor, name: str, now: dt.datetime, *, all_shards: bool) -> _Read:
    """Step 1: the watermark and every entry of the run's CRLs, from one snapshot."""
    s = ctx.settings
    cutoff = None if s.crl_keep_expired else now  # expired certificates leave unless configured to stay
    with reading(ctx, actor) as tx:
        crl_entries.snapshot(tx.session)
        auth = _load_authority(tx, name)
        conn = tx.conn
        watermark = conn.execute(
            select(func.coalesce(func.max(RevocationEvent.id), 0)).where(RevocationEvent.issuer_id == auth.id)
        ).scalar_one()
        prev_full = conn.execute(
            select(PublishedCrl.number, PublishedCrl.watermark)
            .where(PublishedCrl.issuer_id == auth.id, PublishedCrl.kind == "full")
            .order_by(PublishedCrl.number.desc())
            .limit(1)
        ).first()
        full = crl_entries.entries(conn, auth.id, None, cutoff)
        # Delta: the changes since the previous full CRL, one entry per certificate (its last change).
        delta = (
            (b"", 0) if prev_full is None else crl_entries.delta(conn, auth.id, prev_full.watermark, watermark, cutoff)
        )
        # Shards: issuing CAs only (root CRLs are small), those whose entries changed or are due.
        shards: dict[int, tuple[bytes, int]] = {}
        if auth.kind == "issuing":
            due = crl_entries.due_shards(
                conn,
                auth.id,
                now,
                shards=s.crl_shards,
                validity_hours=s.crl_validity_hours,
                all_shards=all_shards,
            )
            for shard in due:
                shards[shard] = crl_entries.entries(conn, auth.id, shard, cutoff)
    return _Read(auth, watermark, prev_full.number if prev_full is not None else None, full, delta, shards)


def _sign(
    ctx: ServiceContext, name: str, read: _Read, first: int, now: dt.datetime, next_update: dt.datetime
) -> list[_Plan]:
    """Step 3: the full, delta and shard CRLs of the run, numbered from ``first``, signed."""
    auth = read.auth
    full_no, delta_no = first, first + 1
    base_no = read.base_number if read.base_number is not None else full_no

    def build(
        number: int,
        entries: bytes,
        *,
        delta_base: int | None = None,
        idp_url: str | None = None,
        freshest_url: str | None = None,
    ) -> bytes:
        return crl.build_crl(
            signer=auth.signer,
            issuer_name_der=auth.certificate.subject_der,
            authority_key_id=auth.key_id,
            number=number,
            this_update=now,
            next_update=next_update,
            entries=entries,
            delta_base=delta_base,
            idp_url=idp_url,
            freshest_url=freshest_url,
        )

    full_der = build(full_no, read.full[0], freshest_url=authorities.delta_crl_url(ctx, name))
    full_count, read.full = read.full[1], (b"", 0)
    plans = [_Plan("full", None, full_no, full_der, full_count)]
    plans.append(
        _Plan("delta", None, delta_no, build(delta_no, read.delta[0], delta_base=base_no), read.delta[1], base_no)
    )
    for i, (shard, (entries, n)) in enumerate(sorted(read.shards.items())):
        number = first + 2 + i
        plans.append(
            _Plan("shard", shard, number, build(number, entries, idp_url=authorities.crl_url(ctx, name, shard)), n)
        )
    return plans


def _write(ctx: ServiceContext, name: str, plan: _Plan, now: dt.datetime, next_update: dt.datetime) -> Published:
    """Step 4: one CRL file written atomically."""
    rel = relative_path(name, plan.kind, plan.shard)
    write_atomically(ctx.settings.publish_dir / rel, plan.der, plan.number)
    return Published(
        name,
        plan.kind,
        plan.shard,
        plan.number,
        rel,
        plan.entries,
        len(plan.der),
        hashlib.sha256(plan.der).hexdigest(),
        now,
        next_update,
        plan.base_number,
    )


def _record(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    read: _Read,
    results: list[Published],
    now: dt.datetime,
    next_update: dt.datetime,
) -> None:
    """The run's rows in ``published_crls`` and its audit event, in one transaction."""
    with begin(ctx, actor) as tx:
        tx.session.execute(
            insert(PublishedCrl),
            [
                {
                    "issuer_id": read.auth.id,
                    "kind": r.kind,
                    "shard": r.shard,
                    "number": r.number,
                    "base_number": r.base_number,
                    "watermark": read.watermark,
                    "path": r.path,
                    "this_update": now,
                    "next_update": next_update,
                    "entries": r.entries,
                    "size": r.size,
                    "sha256": r.sha256,
                    "published_at": dt.datetime.now(dt.UTC),  # when the files were written, not the clock's time
                }
                for r in results
            ],
        )
        tx.audit(
            "crl.published",
            "authority",
            name,
            watermark=read.watermark,
            crls=[{"kind": r.kind, "shard": r.shard, "number": r.number, "entries": r.entries} for r in results],
        )


def _load_authority(tx: Tx, name: str) -> authorities.LoadedAuthority:
    """The issuer with its key. A revoked issuing CA still publishes its CRLs (its certificates'
    status must stay answerable), so an inactive one is loaded here, not by authorities.load."""
    ctx, session = tx.ctx, tx.session
    active = session.scalar(select(Authority.active).where(Authority.name == name))
    if active:
        return core_authorities.load(tx, name)
    row = session.scalar(select(Authority).where(Authority.name == name))
    if row is None:
        raise NotFound(UNKNOWN_ISSUER, name=repr(name), known=", ".join(sorted(crl_issuers(ctx))))
    return authorities.LoadedAuthority(
        row.id,
        row.name,
        row.kind,
        row.algorithm,
        x509.Certificate.from_der(row.certificate_der),
        decrypt_private_key(row.key_blob, ctx.require_keyring().keys),
    )


def _reserve_numbers(ctx: ServiceContext, actor: Actor, issuer_id: int, count: int) -> int:
    """Reserve ``count`` consecutive CRL numbers atomically; returns the first. The row update
    serialises concurrent publishers, so no number is ever handed out twice."""
    for _attempt in range(3):
        try:
            with begin(ctx, actor) as tx:
                conn = tx.conn
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


def checkpoint_audit_chain(ctx: ServiceContext) -> tuple[audit_anchor.Checkpoint, bool]:
    """``registry audit checkpoint``: sign the audit chain's head into a new checkpoint under the
    publish directory's lock (the one writer there, so numbers are not handed out twice), or, when
    the newest checkpoint already records the head, that one. Returns it and whether it is new."""
    with publish_lock(ctx.settings.publish_dir):
        made = audit_anchor.make_checkpoint(ctx)
        if made is not None:
            return made, True
        newest = audit_anchor.newest_checkpoint(ctx)
    if newest is None:
        raise Conflict(
            M(
                "audit.checkpoint_missing",
                "no audit checkpoint was made and none is on record; try again",
                "未生成审计检查点，也没有已有的检查点；请重试",
            )
        )
    return newest, False
