#!/usr/bin/env python3
"""The audit page's queries at scale: with N audit events (default 1,000,000) in a fresh database,
the median and 95th-percentile time of a page (first and a deep one) for every filter, and the plan
each query gets. Compare the figures with the same run at --events 1000: keyset pages through
indexes cost the same at any size.

Usage: scripts/bench_audit_page.py [--events N] [--postgres URL-of-a-database-we-may-create-next-to]
       [--keep DIR]

Events are inserted directly (not chained: the page does not read the hashes), with the shape of a
busy registry: 60 staff plus system actors, seal issuing dominating the actions, batches of events
sharing one time (as record_many writes them), spread over two years.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.db.migrate import upgrade  # noqa: E402
from registry.db.models import AuditEvent  # noqa: E402
from registry.domain.roles import Role  # noqa: E402
from registry.services import audit_log  # noqa: E402
from registry.services.context import Actor, FrozenClock, ServiceContext  # noqa: E402
from registry.services.core.tx import reading  # noqa: E402

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
ACTIONS = [
    ("seal.issued", "seal", 50),
    ("application.submitted", "application", 10),
    ("application.reviewed", "application", 8),
    ("application.approved", "application", 8),
    ("seal.revoked", "seal", 4),
    ("seal.suspended", "seal", 1),
    ("seal.resumed", "seal", 1),
    ("signin.succeeded", "user", 12),
    ("signin.failed", "user", 2),
    ("licence.changed", "enterprise", 2),
    ("licence.imported", "licence-file", 1),
    ("crl.published", "authority", 1),
    ("user.created", "user", 0.05),
    ("totp.reset", "user", 0.01),
    ("user.deactivated", "user", 0.01),
]
STAFF = [f"staff{i:02d}" for i in range(60)]


def populate(url: str, n: int) -> None:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    rnd = random.Random(5)
    names, targets, weights = zip(*ACTIONS, strict=True)
    seconds = 2 * 365 * 86400
    seq, batch = 0, []
    with engine.begin() as conn:
        while seq < n:
            when = START + dt.timedelta(seconds=seconds * seq // n)
            for _ in range(min(n - seq, rnd.choice((1, 1, 1, 2, 5, 20)))):  # events sharing a time
                seq += 1
                i = rnd.choices(range(len(names)), weights)[0]
                batch.append(
                    {
                        "seq": seq,
                        "occurred_at": when,
                        "actor": rnd.choice(STAFF) if rnd.random() < 0.9 else "system",
                        "action": names[i],
                        "target_type": targets[i],
                        "target_id": f"T{rnd.randrange(n // 3):08d}",
                        "details": {"n": seq},
                        "prev_hash": "0" * 64,
                        "hash": "0" * 64,
                    }
                )
            if len(batch) >= 20000:
                conn.execute(insert(AuditEvent), batch)
                batch = []
        if batch:
            conn.execute(insert(AuditEvent), batch)
        conn.execute(text("ANALYZE audit_events" if conn.dialect.name == "postgresql" else "SELECT 1"))
    engine.dispose()


def plan(ctx: ServiceContext, filt: audit_log.AuditFilter, after: tuple[dt.datetime, int] | None) -> str:
    dialect = ctx.engine.dialect
    with reading(ctx, Actor("bench", roles=frozenset({Role.AUDITOR}))) as tx:
        conn = tx.conn
        actions = audit_log.actions_with_prefix(tx, filt.action) if filt.action else None
        sql = str(
            audit_log.statement(dialect.name, filt, after, 51, actions).compile(
                dialect=dialect, compile_kwargs={"literal_binds": True}
            )
        )
        if dialect.name == "sqlite":
            return " | ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        lines = [r[0].strip() for r in conn.exec_driver_sql("EXPLAIN " + sql)]
        return " | ".join(line for line in lines if "Scan" in line or "Sort" in line)


def measure(ctx: ServiceContext, n: int, label: str) -> None:
    who = Actor("bench", roles=frozenset({Role.AUDITOR}))
    late = START + dt.timedelta(days=500)
    cases = [
        ("no filter", audit_log.AuditFilter()),
        ("actor", audit_log.AuditFilter(actor="staff07")),
        ("action prefix seal.", audit_log.AuditFilter(action="seal.")),
        ("action prefix (rare) totp.", audit_log.AuditFilter(action="totp.")),
        ("target type+id", audit_log.AuditFilter(target_type="seal", target_id=f"T{n // 7:08d}")),
        ("target id, any type", audit_log.AuditFilter(target_id=f"T{n // 7:08d}")),
        ("target type (rare) authority", audit_log.AuditFilter(target_type="authority")),
        (
            "time: one day, a year ago",
            audit_log.AuditFilter(since=START + dt.timedelta(days=200), until=START + dt.timedelta(days=201)),
        ),
        ("time: up to 500 days", audit_log.AuditFilter(until=late)),
        (
            "actor + action + time",
            audit_log.AuditFilter(
                actor="staff07", action="application.", since=START + dt.timedelta(days=100), until=late
            ),
        ),
    ]
    print(
        f"\n{label}: {n:,} events; milliseconds per page of 50 (median / p95 of 30), first page and the "
        "page after the 40th event of it"
    )
    for name, filt in cases:
        first = audit_log.search(ctx, who, filt)
        deep_after = first.rows[min(40, len(first.rows) - 1)].seq if first.rows else None
        figures = []
        for after in (None, deep_after):
            times = []
            for _ in range(30):
                t0 = time.perf_counter()
                audit_log.search(ctx, who, filt, after=after)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            figures.append(f"{statistics.median(times):6.2f} / {times[int(len(times) * 0.95) - 1]:6.2f}")
        key = (first.rows[-1].occurred_at, first.rows[-1].seq) if first.rows else None
        print(f"  {name:32s} {figures[0]}   {figures[1]}   rows {len(first.rows):2d}")
        print(f"      plan: {plan(ctx, filt, key)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--postgres", help="a PostgreSQL URL; a scratch database is created next to it")
    ap.add_argument("--keep", help="directory for the SQLite database (kept)")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-audit-"))
    work.mkdir(parents=True, exist_ok=True)
    targets = [("SQLite", f"sqlite:///{work / 'audit.db'}", None)]
    if args.postgres:
        name = f"bench_audit_{uuid.uuid4().hex[:8]}"
        targets.append(("PostgreSQL", args.postgres.rpartition("/")[0] + "/" + name, name))
    for label, url, pg_name in targets:
        admin = None
        if pg_name:
            admin = create_engine(
                args.postgres.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{pg_name}"'))
        try:
            upgrade(url)
            t0 = time.perf_counter()
            populate(url, args.events)
            print(f"{label}: {args.events:,} events inserted in {time.perf_counter() - t0:.0f} s")
            settings = Settings.from_env(
                {
                    "REGISTRY_INSTANCE_PATH": str(work / "instance"),
                    "REGISTRY_DATABASE_URL": url,
                    "REGISTRY_KEK": "11" * 32,
                    "REGISTRY_SECRET_KEY": "bench",
                }
            )
            ctx = ServiceContext.create(settings, clock=FrozenClock(START))
            measure(ctx, args.events, label)
            ctx.engine.dispose()
        finally:
            if admin is not None:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
                admin.dispose()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
