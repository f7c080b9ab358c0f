"""CSV exports of the lists a regulator reports from: seals, applications, enterprises, audit events.

Each export is the list's own query with the list's filters (the same permission, the same search
rules), read without a limit and streamed: a generator over a ``yield_per`` query (a server-side
cursor on PostgreSQL), so a million rows cost memory for one batch, never for the whole list.

The file is for Excel as much as for scripts:

* UTF-8 with a byte-order mark (Excel opens a BOM-less UTF-8 CSV as the local code page and shows
  the Chinese as mojibake), CRLF line ends (RFC 4180), a header row in the page's language;
* times in UTC, ISO 8601 with a ``Z`` (``2026-11-23T08:00:00Z``); dates as ``YYYY-MM-DD``; states
  and statuses as their codes (``active``); seal types by name in the page's language (a code
  such as ``02`` would lose its zero in Excel);
* formula injection neutralised (OWASP "CSV injection"): a text cell that starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return gets a leading ``'``, so a spreadsheet shows it as text
  and never evaluates it — enterprise names, addresses and audit details come from outside.

Every export is audited, one event (``list.exported``, target ``list`` / the list's name, with the
filters) written before the first row is read: a refused filter writes none.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import Select, select

from ..db.models import Enterprise, SealApplication
from ..domain.roles import Permission, require
from ..domain.seal_types import SealType
from . import applications, audit_log, enterprise_records, seal_records
from .context import Actor, ServiceContext
from .core.tx import begin

__all__ = ["BOM", "BATCH", "neutralise", "utc", "seals", "applications_csv", "enterprises", "audit_events", "filename"]

BOM = "\ufeff"
BATCH = 500  # rows fetched per round trip and written per chunk
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Column = tuple[str, str, str]  # (key, Chinese header, English header)


def neutralise(value: Any) -> Any:
    """A cell as written: text starting like a formula gets a leading ``'``; other values as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def utc(when: dt.datetime | None) -> str:
    """``2026-11-23T08:00:00Z`` (seconds; UTC), or empty."""
    if when is None:
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def filename(name: str, now: dt.datetime) -> str:
    """``seals-20261123T080000Z.csv``."""
    return f"{name}-{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}.csv"


def _csv(columns: list[Column], lang: str, rows: Iterable[list[Any]]) -> Iterator[str]:
    """The file in chunks: BOM and header first, then :data:`BATCH` rows per chunk."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow([zh if lang == "zh" else en for _key, zh, en in columns])
    yield BOM + buf.getvalue()
    buf.seek(0)
    buf.truncate()
    for n, row in enumerate(rows, 1):
        out.writerow([neutralise(v) for v in row])
        if n % BATCH == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def _stream(
    ctx: ServiceContext, stmt: Select[*tuple[Any, ...]], convert: Callable[[Any], list[Any]]
) -> Iterator[list[Any]]:
    """The rows of ``stmt``, fetched :data:`BATCH` at a time in one read transaction."""
    with ctx.reader() as s:
        result = s.execute(stmt.execution_options(yield_per=BATCH))
        for r in result:
            yield convert(r)


def _record(ctx: ServiceContext, who: Actor, name: str, **filters: Any) -> None:
    with begin(ctx, who) as tx:
        tx.audit(
            "list.exported",
            "list",
            name,
            format="csv",
            filters={k: v for k, v in filters.items() if v not in (None, "")},
        )


# -- the lists ------------------------------------------------------------------------------------

SEAL_COLUMNS: list[Column] = [
    ("es_id", "印章编码", "Seal code"),
    ("name", "印章名称", "Seal name"),
    ("seal_type", "印章类型", "Seal type"),
    ("status", "状态", "Status"),
    ("enterprise", "单位名称", "Enterprise"),
    ("uscc", "统一社会信用代码", "USCC"),
    ("valid_end", "有效期至 (UTC)", "Valid until (UTC)"),
    ("created_at", "制作时间 (UTC)", "Made at (UTC)"),
]


def seals(ctx: ServiceContext, actor: Actor, query: str = "", *, lang: str = "zh") -> Iterator[str]:
    """The seals list (an esID, a USCC or a name prefix, as the list searches), newest first."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    stmt, q, kind = seal_records.filtered(query)
    _record(ctx, actor, "seals", q=q)
    now = ctx.clock.now()

    def convert(r: Any) -> list[Any]:
        x = seal_records.row(r, now)
        return [
            x.es_id,
            x.name,
            SealType(x.seal_type).label(lang),
            x.status,
            x.enterprise,
            x.uscc,
            utc(x.valid_end),
            utc(x.created_at),
        ]

    from ..db.models import Seal

    return _csv(SEAL_COLUMNS, lang, _stream(ctx, stmt.order_by(Seal.id.desc()), convert))


APPLICATION_COLUMNS: list[Column] = [
    ("id", "申请编号", "Application"),
    ("state", "状态", "State"),
    ("seal_type", "印章类型", "Seal type"),
    ("enterprise", "单位名称", "Enterprise"),
    ("uscc", "统一社会信用代码", "USCC"),
    ("channel", "渠道", "Channel"),
    ("submitted_by", "提交人", "Submitted by"),
    ("submitted_at", "提交时间 (UTC)", "Submitted at (UTC)"),
]


def applications_csv(
    ctx: ServiceContext,
    actor: Actor,
    *,
    state: str = "open",
    query: str = "",
    oldest_first: bool = True,
    lang: str = "zh",
) -> Iterator[str]:
    """The applications list: the state filter (``open`` = submitted, reviewed or approved), a USCC
    or a name prefix, in the list's order of submission."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    states, q, ent_filter = applications.queue_filter(state, query)
    _record(ctx, actor, "applications", state=state, q=q, order="oldest" if oldest_first else "newest")
    A = SealApplication
    stmt = (
        select(A.id, A.state, A.seal_type, Enterprise.name, Enterprise.uscc, A.channel, A.submitted_by, A.submitted_at)
        .join(Enterprise, Enterprise.id == A.enterprise_id)
        .where(A.state.in_(states))
    )
    if ent_filter is not None:
        stmt = stmt.where(ent_filter)
    order = (A.submitted_at.asc(), A.id.asc()) if oldest_first else (A.submitted_at.desc(), A.id.desc())

    def convert(r: Any) -> list[Any]:
        return [r[0], r[1].value, r[2].label(lang), r[3], r[4], r[5], r[6], utc(r[7])]

    return _csv(APPLICATION_COLUMNS, lang, _stream(ctx, stmt.order_by(*order), convert))


ENTERPRISE_COLUMNS: list[Column] = [
    ("uscc", "统一社会信用代码", "USCC"),
    ("name", "单位名称", "Enterprise"),
    ("legal_representative", "法定代表人", "Legal representative"),
    ("entity_type", "类型", "Entity type"),
    ("status", "执照状态", "Licence status"),
    ("registered_on", "成立日期", "Registered on"),
    ("live_seals", "在用印章数", "Seals in use"),
]


def enterprises(
    ctx: ServiceContext, actor: Actor, query: str = "", *, status: str | None = None, lang: str = "zh"
) -> Iterator[str]:
    """The enterprises list (a USCC or a name prefix; a licence status), newest registered first."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    wanted = enterprise_records.licence_status(status)
    q, kind, conditions = enterprise_records.name_filter(ctx.engine.dialect.name, query)
    _record(ctx, actor, "enterprises", q=q, status=wanted.value if wanted else None)
    stmt = enterprise_records.columns().where(*conditions)
    if wanted is not None:
        stmt = stmt.where(Enterprise.status == wanted)

    def convert(r: Any) -> list[Any]:
        return [r[1], r[2], r[3], r[4], r[5].value, r[6].isoformat() if r[6] else "", r[7]]

    return _csv(ENTERPRISE_COLUMNS, lang, _stream(ctx, stmt.order_by(Enterprise.id.desc()), convert))


AUDIT_COLUMNS: list[Column] = [
    ("seq", "序号", "Number"),
    ("occurred_at", "时间 (UTC)", "Time (UTC)"),
    ("actor", "操作人", "Who"),
    ("action", "操作", "Action"),
    ("target_type", "对象类型", "Target type"),
    ("target_id", "对象", "Target"),
    ("details", "详情 (JSON)", "Details (JSON)"),
]


def audit_events(
    ctx: ServiceContext, actor: Actor, filt: audit_log.AuditFilter | None = None, *, lang: str = "zh"
) -> Iterator[str]:
    """The audit log with the page's filter (:func:`registry.services.audit_log.parse_filter`),
    newest first; details as compact JSON."""
    require(actor.name, actor.roles, Permission.AUDIT_VIEW)
    filt = filt or audit_log.AuditFilter()
    _record(
        ctx,
        actor,
        "audit",
        actor=filt.actor,
        action=filt.action,
        type=filt.target_type,
        target=filt.target_id,
        since=utc(filt.since) or None,
        until=utc(filt.until) or None,
    )
    stmt = audit_log.statement(ctx.engine.dialect.name, filt, None, None, None)

    def convert(r: Any) -> list[Any]:
        x = audit_log._row(r)
        return [
            x.seq,
            utc(x.occurred_at) if x.occurred_at else x.occurred_text,
            x.actor,
            x.action,
            x.target_type,
            x.target_id,
            x.details,
        ]

    return _csv(AUDIT_COLUMNS, lang, _stream(ctx, stmt, convert))
