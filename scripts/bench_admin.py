#!/usr/bin/env python3
"""Admin portal latency at scale: the applications queue, the seal search, a seal detail page, the
enterprise list and search and an enterprise's page, through Flask's test client as a signed-in staff member, with 1,000,000 seals and 100,000
applications in the database, next to the same pages with 100 seals (keyset pagination: a list page
should cost the same at both sizes).

For each database (SQLite file; PostgreSQL if reachable) two databases are built in the same run:

  large  --seals seals (default 1,000,000) and --applications applications (default 100,000)
  small  100 seals and 200 applications (enough for a second page of the open queue)

Loading: a few real seals are issued through registry.services.seals.issue_seal (SM2 holder
certificate and SESeal, with their applications); then synthetic rows that copy them are bulk-inserted
(executemany on SQLite, binary COPY on PostgreSQL, one transaction per table): enterprises with
distinct valid USCCs and names "深圳市" + two-character trade name + industry + "有限公司" (four
seals each: 01, 02, 04, 05), seals with distinct esIDs (newest = highest id, created over three
years), one holder certificate per seal with a distinct serial, and applications in every state
(submitted 15 %, reviewed 10 %, approved 5 %, issued 60 % — linked to a seal —, rejected 8 %,
withdrawn 2 %) with submitted_at spread over three years. The seal pictures are 64 px (a 3.5 KB
SESeal instead of ~18 KB at 472 px) so a million seals load in minutes; list pages never read the
SESeal and the detail page reads one. Synthetic rows have no audit events, licence records or OCSP
responses (the measured pages read those by indexed key only). After loading: ANALYZE on SQLite,
VACUUM (ANALYZE) on PostgreSQL (what autovacuum would do after a bulk load, so it does not run
during the measurements).

Each page is requested --requests times (after --warmup requests) with a fresh random esID, USCC or
name where the page takes one (a "page 2" follows the first page's next-page link); the figures are
the wall time of client.get() (routing, session, the service's SQL, template rendering), median and
95th percentile, and the median time spent in SQL statements (cursor execute, as SQLAlchemy's cursor events see it). Target: 95th percentile under
50 ms. --explain prints each page's SQL with its plan (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE).

Peer, same databases, same run: the open applications queue's SQL as registry.services.applications
.queue writes it today (state IN (...), ORDER BY submitted_at, id; keyset as an OR), against the
proposed form in proposed_queue() (one ordered index range per state after a row-value keyset,
UNION ALL, ordered and limited again), on page 1, page 2 and a deep page; both must return the same
ids. The proposed time includes building the statement in Python (~1 ms).

Usage: scripts/bench_admin.py [--seals 1000000] [--applications 100000] [--requests 300]
                              [--postgres URL] [--skip-postgres] [--explain] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import html as htmlmod
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _benchlib  # noqa: E402
from sqlalchemy import event, literal, select, text, tuple_, union_all  # noqa: E402

from registry.config import Settings  # noqa: E402
from registry.db.migrate import upgrade  # noqa: E402
from registry.db.models import Enterprise, SealApplication  # noqa: E402
from registry.domain.esid import make_esid  # noqa: E402
from registry.domain.roles import Role  # noqa: E402
from registry.domain.seal_types import SealType  # noqa: E402
from registry.domain.states import ApplicationState  # noqa: E402
from registry.pki import picture, totp  # noqa: E402
from registry.pki.uscc import orgcode_check_char, uscc_check_char  # noqa: E402
from registry.services import applications, authorities, licences, seals, users  # noqa: E402
from registry.services.context import Actor, ServiceContext  # noqa: E402
from registry.web import create_app  # noqa: E402

ADMIN = Actor.system("bench")
TYPES = ["01", "02", "04", "05"]
TEMPLATE_ENTERPRISES = 2  # real seals: 2 enterprises × the standard set of four
TARGET_MS = 50.0
PASSWORD = "bench horse battery staple"
# trade names (字号): two of these characters; with 25 industries, 250,000 distinct names
CHARS = (
    "华信达通安泰宏盛鑫源恒福瑞祥和昌隆兴嘉天宇海金德新美佳康丰博创联合众利永顺明光辉晨星云峰宝"
    "中东南西北正大长城远航腾飞凯旋欣荣锦绣朗润启元汇聚智慧卓越精诚广益振豪庭友同心立春秋阳青松柏竹梅兰菊泉湖江山川"
)
assert len(set(CHARS)) == len(CHARS) == 100
INDUSTRIES = [
    "科技",
    "贸易",
    "实业",
    "电子",
    "物流",
    "投资",
    "建设",
    "医药",
    "食品",
    "服饰",
    "餐饮",
    "文化",
    "传媒",
    "教育",
    "咨询",
    "能源",
    "材料",
    "机械",
    "化工",
    "软件",
    "网络",
    "环保",
    "置业",
    "家居",
    "旅游",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
STATES = [("submitted", 15), ("reviewed", 10), ("approved", 5), ("issued", 60), ("rejected", 8), ("withdrawn", 2)]


def uscc(i: int) -> str:
    """Distinct valid USCCs (as scripts/bench_issue.py)."""
    body = f"B{i:07d}"
    first17 = "91440300" + body + orgcode_check_char(body)
    return first17 + uscc_check_char(first17)


def enterprise_name(k: int) -> str:
    return f"深圳市{CHARS[k % 100]}{CHARS[(k // 100) % 100]}{INDUSTRIES[(k // 10_000) % 25]}有限公司"


def representative(k: int) -> str:
    return SURNAMES[k % 20] + GIVEN[(k // 20) % 20]


def settings_for(url: str, instance: Path) -> Settings:
    return Settings.from_env(
        {
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_INSTANCE_PATH": str(instance),
            "REGISTRY_KEK": "22" * 32,
            "REGISTRY_SECRET_KEY": "bench-secret",
            "REGISTRY_BASE_URL": "http://bench.test",
        }
    )


# ------------------------------------------------------------------------------------------------
# Loading


class Writer:
    """Bulk insert of raw (database-representation) rows: executemany on SQLite, binary COPY on
    PostgreSQL; one transaction per table."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.pg = ctx.engine.dialect.name == "postgresql"

    def raw(self, sql: str) -> list[tuple[Any, ...]]:
        with self.ctx.engine.connect() as c:
            return [tuple(r) for r in c.exec_driver_sql(sql)]

    def columns(self, table: str) -> list[str]:
        with self.ctx.engine.connect() as c:
            return list(c.exec_driver_sql(f"SELECT * FROM {table} WHERE 1 = 0").keys())

    def write(self, table: str, cols: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        n = 0
        dbapi = self.ctx.engine.raw_connection()
        try:
            cur = dbapi.cursor()
            if self.pg:
                types = dict(self._pg_types(cur, table))
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as cp:
                    cp.set_types([types[c] for c in cols])
                    for row in rows:
                        cp.write_row(row)
                        n += 1
            else:
                # a 1 GB page cache: the unique indexes (esID, serial, key hash) take random inserts
                cur.execute("PRAGMA cache_size = -1000000")
                cur.execute("BEGIN")
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                for chunk in _chunks(rows, 20_000):
                    cur.executemany(sql, chunk)
                    n += len(chunk)
            dbapi.commit() if self.pg else cur.execute("COMMIT")
        finally:
            dbapi.close()
        return n

    @staticmethod
    def _pg_types(cur: Any, table: str) -> list[tuple[str, int]]:
        cur.execute(
            "SELECT attname, atttypid::int FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        return list(cur.fetchall())

    def finish(self, tables: list[str]) -> None:
        with self.ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            if self.pg:
                for t in tables:
                    c.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
                c.exec_driver_sql("VACUUM (ANALYZE)")
            else:
                c.exec_driver_sql("ANALYZE")
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _chunks(rows: Iterable[tuple[Any, ...]], n: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for r in rows:
        chunk.append(r)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Dataset:
    label: str  # e.g. "SQLite"
    url: str
    n_seals: int
    n_apps: int
    ctx: ServiceContext | None = None
    load_seconds: float = 0.0
    es_ids: list[str] = field(default_factory=list)  # a random sample, for the detail page / esID search
    usccs: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)  # "深圳市" + trade name: ~25 enterprises at 1M seals
    broad: list[str] = field(default_factory=list)  # "深圳市" + one character: > 1,000 enterprises


def _ts(t: dt.datetime, pg: bool) -> Any:
    """A naive-UTC time as the column stores it (SQLAlchemy's SQLite DateTime: ISO text with micros)."""
    return t if pg else t.strftime("%Y-%m-%d %H:%M:%S.%f")


def load(ds: Dataset, instance: Path, png: bytes, seed: int = 1) -> None:
    t0 = time.perf_counter()
    upgrade(ds.url)
    ctx = ServiceContext.create(settings_for(ds.url, instance))
    ds.ctx = ctx
    authorities.ensure_hierarchies(ctx, ADMIN)
    users.add_user(ctx, ADMIN, "olivia", [Role.OPERATOR])
    users.add_user(ctx, ADMIN, "rita", [Role.REVIEWER])
    lines = ["uscc,name,legal_representative,entity_type,address,registered_on,status"]
    lines += [
        f"{uscc(k)},{enterprise_name(k)},{representative(k)},有限责任公司,深圳市南山区科技园,2020-01-01,active"
        for k in range(TEMPLATE_ENTERPRISES)
    ]
    licences.import_licences(ctx, ADMIN, "\n".join(lines).encode(), "bench.csv")
    for k in range(TEMPLATE_ENTERPRISES):
        for t in TYPES:
            seals.issue_seal(
                ctx,
                ADMIN,
                seals.IssueRequest(
                    uscc=uscc(k),
                    seal_type=t,
                    key=seals.KeyMaterial(generate=True),
                    operator="olivia",
                    approver="rita",
                    picture_png=png,
                ),
            )

    w = Writer(ctx)
    pg = w.pg
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    span = dt.timedelta(days=3 * 365)
    t_start = now - span - dt.timedelta(days=1)
    validity = dt.timedelta(days=ctx.settings.seal_validity_days)
    shards = ctx.settings.crl_shards
    area = ctx.settings.area_code

    # templates, as stored
    ecols = w.columns("enterprises")
    scols = w.columns("seals")
    ccols = w.columns("certificates")
    acols = w.columns("seal_applications")
    tmpl_ent = dict(zip(ecols, w.raw("SELECT * FROM enterprises ORDER BY id")[0], strict=True))
    tmpl_seal = {
        r[scols.index("seal_type")]: dict(zip(scols, r, strict=True))
        for r in w.raw("SELECT * FROM seals WHERE enterprise_id = (SELECT min(id) FROM enterprises)")
    }
    tmpl_cert = {
        s["id"]: dict(zip(ccols, r, strict=True))
        for s in tmpl_seal.values()
        for r in w.raw(f"SELECT * FROM certificates WHERE seal_id = {s['id']}")
    }
    tmpl_app = dict(zip(acols, w.raw("SELECT * FROM seal_applications ORDER BY id")[0], strict=True))
    users_by_name = dict(w.raw("SELECT username, id FROM users"))
    ent0 = w.raw("SELECT max(id) FROM enterprises")[0][0]
    seal0 = w.raw("SELECT max(id) FROM seals")[0][0]
    cert0 = w.raw("SELECT max(id) FROM certificates")[0][0]
    app0 = w.raw("SELECT max(id) FROM seal_applications")[0][0]

    n_seals = ds.n_seals - TEMPLATE_ENTERPRISES * 4
    n_ents = (n_seals + 3) // 4
    n_apps = ds.n_apps - TEMPLATE_ENTERPRISES * 4

    def ent_rows() -> Iterator[tuple[Any, ...]]:
        for e in range(n_ents):
            k = TEMPLATE_ENTERPRISES + e
            created = t_start + span * (e / max(1, n_ents))
            row = dict(
                tmpl_ent,
                id=ent0 + 1 + e,
                uscc=uscc(k),
                name=enterprise_name(k),
                legal_representative=representative(k),
                created_at=_ts(created, pg),
                updated_at=_ts(created, pg),
            )
            if pg:
                row["registered_on"] = dt.date(2000 + k % 25, 1 + k % 12, 1 + k % 28)
            else:
                row["registered_on"] = f"{2000 + k % 25:04d}-{1 + k % 12:02d}-{1 + k % 28:02d}"
            yield tuple(row[c] for c in ecols)

    # applications: states independent of age; an issued one is linked to the seal made after it
    weights = [w_ for _s, w_ in STATES]
    names = [s for s, _w in STATES]
    app_state = rng.choices(names, weights, k=n_apps)
    seal_of_app: dict[int, int] = {}  # synthetic seal index -> application id
    app_rows_list: list[tuple[Any, ...]] = []
    step = span / max(1, n_apps)
    taken: set[int] = set()
    for a in range(n_apps):
        submitted = t_start + step * a + dt.timedelta(seconds=rng.randrange(max(1, int(step.total_seconds()))))
        state = app_state[a]
        j = min(n_seals - 1, int((submitted - t_start + dt.timedelta(days=2)) / span * n_seals))
        if state == "issued" and j not in taken and j >= 0:
            taken.add(j)
            seal_of_app[j] = app0 + 1 + a
            ent_k, stype = j // 4, TYPES[j % 4]
        else:
            if state == "issued":
                state = "rejected"  # small data set: more applications than seals to link
            ent_k, stype = rng.randrange(n_ents), rng.choice(TYPES)
        reviewed = state in ("reviewed", "approved", "issued") or (state == "rejected" and a % 2 == 0)
        approved = state in ("approved", "issued")
        row = dict(
            tmpl_app,
            id=app0 + 1 + a,
            enterprise_id=ent0 + 1 + ent_k,
            seal_type=stype,
            state=state,
            channel="portal" if a % 3 == 0 else "counter",
            submitted_by="olivia",
            submitted_at=_ts(submitted, pg),
            reviewed_by_id=users_by_name["olivia"] if reviewed else None,
            reviewed_at=_ts(submitted + dt.timedelta(hours=3), pg) if reviewed else None,
            approved_by_id=users_by_name["rita"] if approved else None,
            approved_at=_ts(submitted + dt.timedelta(hours=20), pg) if approved else None,
            decided_reason="营业执照信息与申请不符" if state == "rejected" else None,
        )
        app_rows_list.append(tuple(row[c] for c in acols))

    def seal_rows() -> Iterator[tuple[Any, ...]]:
        for j in range(n_seals):
            e = j // 4
            k = TEMPLATE_ENTERPRISES + e
            tmpl = tmpl_seal[TYPES[j % 4]]
            created = t_start + span * (j / max(1, n_seals)) + dt.timedelta(days=2)
            name = (
                tmpl["name"]
                .replace(enterprise_name(0), enterprise_name(k))
                .replace(representative(0), representative(k))
            )
            es_id = make_esid(area, SealType(TYPES[j % 4]), created.year, rng.getrandbits(64).to_bytes(8, "big"))
            row = dict(
                tmpl,
                id=seal0 + 1 + j,
                es_id=es_id,
                enterprise_id=ent0 + 1 + e,
                name=name,
                valid_start=_ts(created, pg),
                valid_end=_ts(created + validity, pg),
                created_at=_ts(created, pg),
                application_id=seal_of_app.get(j),
            )
            yield tuple(row[c] for c in scols)

    def cert_rows() -> Iterator[tuple[Any, ...]]:
        # same walk as seal_rows (names and times), no esIDs needed
        for j in range(n_seals):
            k = TEMPLATE_ENTERPRISES + j // 4
            tmpl = tmpl_cert[tmpl_seal[TYPES[j % 4]]["id"]]
            created = t_start + span * (j / max(1, n_seals)) + dt.timedelta(days=2)
            serial = rng.getrandbits(127) | (1 << 120)
            subject = (
                tmpl["subject"]
                .replace(enterprise_name(0), enterprise_name(k))
                .replace(representative(0), representative(k))
                .replace(uscc(0), uscc(k))
            )
            row = dict(
                tmpl,
                id=cert0 + 1 + j,
                serial=format(serial, "x"),
                subject=subject,
                shard=serial % shards,
                not_before=_ts(created, pg),
                not_after=_ts(created + validity, pg),
                key_fingerprint=format(rng.getrandbits(256), "064x"),
                seal_id=seal0 + 1 + j,
                created_at=_ts(created, pg),
            )
            yield tuple(row[c] for c in ccols)

    counts = {}
    counts["enterprises"] = w.write("enterprises", ecols, ent_rows())
    counts["seal_applications"] = w.write("seal_applications", acols, app_rows_list)
    counts["seals"] = w.write("seals", scols, seal_rows())
    counts["certificates"] = w.write("certificates", ccols, cert_rows())
    w.finish(["enterprises", "seal_applications", "seals", "certificates"])
    ds.load_seconds = time.perf_counter() - t0
    got = dict(w.raw("SELECT 'seals', count(*) FROM seals UNION ALL SELECT 'apps', count(*) FROM seal_applications"))
    assert got["seals"] == ds.n_seals and got["apps"] == ds.n_apps, got

    # what the requests ask for: random seals and enterprises
    ids = rng.sample(range(1, got["seals"] + 1), min(2000, got["seals"]))
    with ctx.engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT s.es_id, e.uscc, e.name FROM seals s JOIN enterprises e ON e.id = s.enterprise_id "
                "WHERE s.id IN (" + ",".join(map(str, ids)) + ")"
            )
        ).all()
    ds.es_ids = [r[0] for r in rows]
    ds.usccs = [r[1] for r in rows]
    ds.prefixes = [r[2][:5] for r in rows]
    ds.broad = [r[2][:4] for r in rows]


# ------------------------------------------------------------------------------------------------
# Measuring


def _csrf(page: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page
    )
    assert m, "no CSRF token in the page"
    return m.group(1)


def signed_in_client(ctx: ServiceContext, name: str = "bencher"):  # type: ignore[no-untyped-def]
    """The whole first sign-in, as tests/web/test_admin_auth.py sign_in does it."""
    _user, password = users.add_user(ctx, ADMIN, name, [Role.OPERATOR])
    client = create_app({"TESTING": True}, ctx=ctx).test_client()
    r = client.post(
        "/admin/login",
        data={
            "username": name,
            "password": password,
            "csrf_token": _csrf(client.get("/admin/login").get_data(as_text=True)),
        },
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/login/enrol"), r.status_code
    page = client.get("/admin/login/enrol").get_data(as_text=True)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/admin/login/enrol", data={"code": totp.code_at(secret, ctx.clock.now()), "csrf_token": _csrf(page)}
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/"), r.status_code
    r = client.post(
        "/admin/password",
        data={
            "current": password,
            "new": PASSWORD,
            "csrf_token": _csrf(client.get("/admin/password").get_data(as_text=True)),
        },
    )
    assert r.status_code == 302, r.status_code
    assert client.get("/admin/").status_code == 200
    return client


class SqlTimer:
    """Time spent in SQL per request (cursor execute → results fetched by SQLAlchemy) and the
    statements themselves, for --explain."""

    def __init__(self, engine: Any) -> None:
        self.total = 0.0
        self.statements: list[tuple[str, Any]] = []
        self.capture = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        self._t = 0.0

    def _before(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self._t = time.perf_counter()
        if self.capture:
            self.statements.append((statement, parameters))

    def _after(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.total += time.perf_counter() - self._t


@dataclass
class Page:
    name: str
    url: Callable[[Dataset, random.Random], str]
    check: Callable[[str], bool] = lambda html: True


def _next_link(client: Any, url: str, pattern: str, *, optional: bool = False) -> str | None:
    page = client.get(url).get_data(as_text=True)
    m = re.search(r'href="(' + pattern + r'[^"]*)"', page)
    assert m or optional, f"no next-page link on {url}"
    return htmlmod.unescape(m.group(1)) if m else None


# (database URL, page name) of the "page 2" pages measured on their first page: the data set has one
# page only (the small set has 25 enterprises, fewer than a page)
SINGLE_PAGE: set[tuple[str, str]] = set()


def pages(client_of: Callable[[Dataset], Any]) -> list[Page]:
    next_cache: dict[tuple[str, str], str] = {}

    def nxt(
        first: str, pattern: str, name: str = "", optional: bool = False
    ) -> Callable[[Dataset, random.Random], str]:
        def url(ds: Dataset, _rng: random.Random) -> str:
            key = (ds.url, first)
            if key not in next_cache:
                link = _next_link(client_of(ds), first, pattern, optional=optional)
                if link is None:
                    SINGLE_PAGE.add((ds.url, name))
                next_cache[key] = link or first
            return next_cache[key]

        return url

    return [
        Page("queue: open, oldest first", lambda ds, r: "/admin/applications"),
        Page("queue: open, page 2", nxt("/admin/applications", r"/admin/applications\?[^\"]*after_id=")),
        Page("queue: state=reviewed", lambda ds, r: "/admin/applications?state=reviewed"),
        Page("seals: newest", lambda ds, r: "/admin/seals"),
        Page("seals: newest, page 2", nxt("/admin/seals", r"/admin/seals\?[^\"]*after=")),
        Page("seals: q=USCC", lambda ds, r: "/admin/seals?q=" + r.choice(ds.usccs)),
        Page("seals: q=esID", lambda ds, r: "/admin/seals?q=" + r.choice(ds.es_ids)),
        Page("seals: q=name prefix (~25 firms)", lambda ds, r: "/admin/seals?q=" + r.choice(ds.prefixes)),
        Page("seals: q=name prefix (>1,000 firms)", lambda ds, r: "/admin/seals?q=" + r.choice(ds.broad)),
        Page("seal detail (random esID)", lambda ds, r: "/admin/seals/" + r.choice(ds.es_ids)),
        Page("enterprises: newest", lambda ds, r: "/admin/enterprises"),
        Page(
            "enterprises: newest, page 2",
            nxt(
                "/admin/enterprises", r"/admin/enterprises\?[^\"]*after=", "enterprises: newest, page 2", optional=True
            ),
        ),
        Page("enterprises: q=USCC", lambda ds, r: "/admin/enterprises?q=" + r.choice(ds.usccs)),
        Page("enterprises: q=name prefix (~25 firms)", lambda ds, r: "/admin/enterprises?q=" + r.choice(ds.prefixes)),
        Page("enterprises: q=name prefix (>1,000 firms)", lambda ds, r: "/admin/enterprises?q=" + r.choice(ds.broad)),
        Page(
            "enterprises: q=深圳市 (all), page 2",
            nxt(
                "/admin/enterprises?q=深圳市",
                r"/admin/enterprises\?[^\"]*after=",
                "enterprises: q=深圳市 (all), page 2",
                optional=True,
            ),
        ),
        Page("enterprise detail (random USCC)", lambda ds, r: "/admin/enterprises/" + r.choice(ds.usccs)),
    ]


@dataclass
class Result:
    median: float
    p95: float
    sql_median: float
    statements: list[tuple[str, Any]]


def measure(client: Any, timer: SqlTimer, ds: Dataset, page: Page, n: int, warmup: int, rng: random.Random) -> Result:
    urls = [page.url(ds, rng) for _ in range(n + warmup)]
    timer.capture = True
    timer.statements = []
    r = client.get(urls[0])
    assert r.status_code == 200, (urls[0], r.status_code)
    statements = timer.statements
    timer.capture = False
    for u in urls[1:warmup]:
        assert client.get(u).status_code == 200
    times, sql = [], []
    for u in urls[warmup:]:
        timer.total = 0.0
        t0 = time.perf_counter()
        r = client.get(u)
        times.append(time.perf_counter() - t0)
        sql.append(timer.total)
        assert r.status_code == 200, (u, r.status_code)
    times.sort()
    return Result(
        statistics.median(times) * 1000,
        times[max(0, int(len(times) * 0.95 + 0.5) - 1)] * 1000,
        statistics.median(sql) * 1000,
        statements,
    )


def proposed_queue(states: list[ApplicationState], after: tuple[dt.datetime, int] | None, limit: int) -> Any:
    """The open queue as it could be written so that every page reads about ``limit`` index entries
    per state (not what registry.services.applications.queue does today): one branch per state, each
    an ordered range of ix_seal_applications_state_submitted after the row-value keyset (submitted_at,
    id), merged with UNION ALL, ordered and limited again, then joined to the enterprises."""
    A = SealApplication
    branches = []
    for st in states:
        b = select(A.id, A.enterprise_id, A.state, A.seal_type, A.channel, A.submitted_at).where(A.state == st)
        if after is not None:
            b = b.where(
                tuple_(A.submitted_at, A.id)
                > tuple_(literal(after[0], A.submitted_at.type), literal(after[1], A.id.type))
            )
        sub = b.order_by(A.submitted_at, A.id).limit(limit).subquery()
        branches.append(select(*sub.c))
    u = union_all(*branches).subquery()
    return (
        select(u.c.id, u.c.state, u.c.seal_type, u.c.channel, u.c.submitted_at, Enterprise.name, Enterprise.uscc)
        .join(Enterprise, Enterprise.id == u.c.enterprise_id)
        .order_by(u.c.submitted_at, u.c.id)
        .limit(limit)
    )


def queue_sql_peer(ds: Dataset, n: int) -> list[tuple[str, float, float, float, float]]:
    """SQL only, same database, same positions: the service's queue query as written against the
    proposed form above, on page 1, page 2 and a deep page (~ position 20,000 of the open queue)."""
    ctx = ds.ctx
    assert ctx is not None
    actor = Actor.system("bench")
    out = []
    with ctx.reader() as s:
        keys = s.execute(
            select(SealApplication.submitted_at, SealApplication.id)
            .where(SealApplication.state.in_(applications.OPEN))
            .order_by(SealApplication.submitted_at, SealApplication.id)
        ).all()
    positions = [("page 1", None), ("page 2", keys[49] if len(keys) > 50 else None)]
    if len(keys) > 20_050:
        positions.append(("page 401", keys[19_999]))
    for label, key in positions:
        if label != "page 1" and key is None:
            continue
        after = (key[0], key[1]) if key is not None else None
        a_ids = [
            r.id
            for r in applications.queue(
                ctx, actor, after=(after[0].isoformat(), after[1]) if after else None, limit=applications.PAGE_SIZE + 1
            ).rows
        ]
        with ctx.reader() as s:
            b_ids = [
                r[0] for r in s.execute(proposed_queue(list(applications.OPEN), after, applications.PAGE_SIZE + 1))
            ]
        assert a_ids == b_ids, f"proposed queue differs on {label}"
        res = []
        for fn in (
            lambda after=after: applications.queue(
                ctx, actor, after=(after[0].isoformat(), after[1]) if after else None
            ),
            lambda after=after: _run(ctx, proposed_queue(list(applications.OPEN), after, applications.PAGE_SIZE + 1)),
        ):
            times = []
            for i in range(n + 10):
                t0 = time.perf_counter()
                fn()
                if i >= 10:
                    times.append(time.perf_counter() - t0)
            times.sort()
            res += [statistics.median(times) * 1000, times[max(0, int(len(times) * 0.95 + 0.5) - 1)] * 1000]
        out.append((label, *res))
    return out


def _run(ctx: ServiceContext, stmt: Any) -> list[Any]:
    with ctx.reader() as s:
        return s.execute(stmt).all()


def explain(ctx: ServiceContext, statements: list[tuple[str, Any]]) -> None:
    pg = ctx.engine.dialect.name == "postgresql"
    for stmt, params in statements:
        if not stmt.lstrip().upper().startswith("SELECT") or "FROM users" in stmt or "user_roles" in stmt:
            continue
        print("    SQL:", " ".join(stmt.split())[:400])
        with ctx.engine.connect() as c:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
            for row in c.exec_driver_sql(prefix + stmt, params):
                print("      ", " | ".join(str(x) for x in row))


def _cpu_idle(since: tuple[int, int] | None = None):  # type: ignore[no-untyped-def]
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    mark = (fields[3] + fields[4], sum(fields))
    if since is None:
        return mark
    return (mark[0] - since[0]) / max(1, mark[1] - since[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seals", type=int, default=1_000_000)
    ap.add_argument("--applications", type=int, default=100_000)
    ap.add_argument("--small-seals", type=int, default=100)
    ap.add_argument("--small-applications", type=int, default=200)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument(
        "--postgres", default=os.environ.get("REGISTRY_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--explain", action="store_true", help="print each page's SQL and its plan")
    ap.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the databases (SQLite files in DIR, PostgreSQL databases "
        "not dropped) and print their URLs, for EXPLAIN by hand",
    )
    args = ap.parse_args()

    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; large: {args.seals:,} seals, "
        f"{args.applications:,} applications; small: {args.small_seals} seals, {args.small_applications} "
        f"applications; {args.requests} requests per page after {args.warmup} warm-up",
        flush=True,
    )
    png = picture.render_seal(
        enterprise_name(0), "合同专用章", shape="round", size_px=64, font_path=picture.find_cjk_font(None)
    )
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-admin-"))
    tmp.mkdir(parents=True, exist_ok=True)
    backends: list[tuple[str, list[Dataset], list[Callable[[], None]]]] = []
    if not args.skip_sqlite:
        backends.append(
            (
                "SQLite",
                [
                    Dataset("SQLite", f"sqlite:///{tmp / 'small.db'}", args.small_seals, args.small_applications),
                    Dataset("SQLite", f"sqlite:///{tmp / 'large.db'}", args.seals, args.applications),
                ],
                [],
            )
        )
    if not args.skip_postgres:
        made = [_benchlib.pg_database(args.postgres, "registry_bench_admin") for _ in range(2)]
        if all(made):
            backends.append(
                (
                    "PostgreSQL",
                    [
                        Dataset(
                            "PostgreSQL",
                            made[0][0],
                            args.small_seals,  # type: ignore[index]
                            args.small_applications,
                        ),
                        Dataset("PostgreSQL", made[1][0], args.seals, args.applications),
                    ],  # type: ignore[index]
                    [m[1] for m in made],
                )
            )  # type: ignore[index]
        else:
            for m in made:
                if m:
                    m[1]()
    table: list[tuple[str, str, Result, Result]] = []
    peers: list[tuple[Any, ...]] = []
    try:
        for label, (small, large), _drops in backends:
            for ds in (small, large):
                load(ds, tmp, png)
                print(
                    f"{label}: loaded {ds.n_seals:,} seals and {ds.n_apps:,} applications in {ds.load_seconds:.1f} s",
                    flush=True,
                )
            clients = {ds.url: signed_in_client(ds.ctx) for ds in (small, large)}  # type: ignore[arg-type]
            timers = {ds.url: SqlTimer(ds.ctx.engine) for ds in (small, large)}  # type: ignore[union-attr]
            rng = random.Random(7)
            for page in pages(lambda d, clients=clients: clients[d.url]):
                idle0 = _cpu_idle()
                res = [
                    measure(clients[ds.url], timers[ds.url], ds, page, args.requests, args.warmup, rng)
                    for ds in (small, large)
                ]
                idle = _cpu_idle(idle0)
                table.append(
                    (
                        label,
                        page.name
                        + (" (small set: one page, page 1 measured)" if (small.url, page.name) in SINGLE_PAGE else ""),
                        res[0],
                        res[1],
                    )
                )
                single = [d.n_seals for d in (small, large) if (d.url, page.name) in SINGLE_PAGE]
                print(
                    f"  {label:10} {page.name:36} small {res[0].median:6.1f} / {res[0].p95:6.1f} ms   "
                    f"large {res[1].median:6.1f} / {res[1].p95:6.1f} ms (SQL {res[1].sql_median:5.1f})   "
                    f"(machine CPU idle {idle:.0%})"
                    + "".join(f"  [{n:,} seals: one page only, page 1 measured]" for n in single),
                    flush=True,
                )
                if args.explain:
                    print(f"    -- plans at {large.n_seals:,} seals:")
                    explain(large.ctx, res[1].statements)  # type: ignore[arg-type]
            for ds in (small, large):
                for row in queue_sql_peer(ds, args.requests):
                    peers.append((label, ds.n_seals, *row))
                    print(
                        f"  {label:10} open queue SQL, {ds.n_seals:,} seals, {row[0]:8}: as written "
                        f"{row[1]:6.2f} / {row[2]:6.2f} ms, proposed {row[3]:5.2f} / {row[4]:5.2f} ms",
                        flush=True,
                    )
                ds.ctx.engine.dispose()  # type: ignore[union-attr]
    finally:
        if args.keep:
            for _label, sets, _drops in backends:
                print("kept:", ", ".join(d.url for d in sets))
        else:
            for _label, _sets, drops in backends:
                for drop in drops:
                    drop()
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(
        f"| database | page | {args.small_seals} seals: median / p95 ms | {args.seals:,} seals: median / p95 ms "
        f"(of which SQL, median) | p95 < {TARGET_MS:.0f} ms |"
    )
    print("|---|---|---|---|---|")
    for label, name, s, big in table:
        ok = "OK" if big.p95 < TARGET_MS and s.p95 < TARGET_MS else "MISSED"
        print(
            f"| {label} | {name} | {s.median:.1f} / {s.p95:.1f} | {big.median:.1f} / {big.p95:.1f} "
            f"({big.sql_median:.1f}) | {ok} |"
        )
    print()
    print(
        "| database | open queue, SQL only (service call vs statement) | as written: median / p95 ms | "
        "proposed per-state UNION ALL + row-value keyset: median / p95 ms |"
    )
    print("|---|---|---|---|")
    for label, n, pos, a_med, a_p95, b_med, b_p95 in peers:
        print(f"| {label} | {n:,} seals, {pos} | {a_med:.2f} / {a_p95:.2f} | {b_med:.2f} / {b_p95:.2f} |")
    print()
    for label, sets, _drops in backends:
        print(
            f"loading {label}: "
            + ", ".join(f"{d.n_seals:,} seals + {d.n_apps:,} applications {d.load_seconds:.1f} s" for d in sets)
        )
    print(
        f"target: 95th percentile under {TARGET_MS:.0f} ms per page, and a list page at {args.seals:,} seals "
        f"as fast as at {args.small_seals}"
    )


if __name__ == "__main__":
    main()
