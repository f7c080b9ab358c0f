"""The auditor's view of the audit log: filtered, newest first, in keyset pages (issue 5).

Order: ``occurred_at`` descending, then ``seq`` descending (events of one transaction share a
time). A page continues after the last event it showed, named by its ``seq``: never OFFSET.

Each filter is served by an index, so a page costs the same at a million events as at a hundred
(``scripts/bench_audit_page.py`` measures it):

==========================  ==============================================================
filter                      index
==========================  ==============================================================
none, time range            ``ix_audit_events_time`` (occurred_at, seq)
actor (exact)               ``ix_audit_events_actor_time`` (actor, occurred_at)
action (prefix)             ``ix_audit_events_action_time`` (action, occurred_at, seq): the
                            distinct actions under the prefix by a loose index scan, then one
                            ordered scan per action, merged (see :func:`statement`)
target type                 ``ix_audit_events_type_time`` (target_type, occurred_at, seq)
target type and id          ``ix_audit_events_target`` (target_type, target_id, occurred_at, seq);
                            an id without a type looks in every type of :data:`TARGET_TYPES`
==========================  ==============================================================

Rows are read defensively (details and time as stored, decoded here) so that a log edited behind
the application's back can still be listed next to the integrity check that reports it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Executable,
    Select,
    String,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)

from ..db.models import AuditEvent
from ..domain.errors import M, ValidationError
from ..domain.roles import Permission, require
from .context import Actor, ServiceContext
from .core.tx import Tx, reading

__all__ = ["TARGET_TYPES", "PAGE_SIZE", "AuditFilter", "AuditRow", "AuditPage", "parse_filter", "search", "statement"]

PAGE_SIZE = 50
# What the services record events about (``target_type``); the page offers these in its filter.
TARGET_TYPES = ("application", "authority", "enterprise", "licence-file", "list", "seal", "user")
_ACTION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_E = AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""  # a prefix: "seal." or "seal.revoked"
    target_type: str = ""
    target_id: str = ""
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive

    @property
    def empty(self) -> bool:
        return not (self.actor or self.action or self.target_type or self.target_id or self.since or self.until)


@dataclass(frozen=True)
class AuditRow:
    seq: int
    id: int
    occurred_at: dt.datetime | None
    occurred_text: str  # as stored when it cannot be read as a time
    actor: str
    action: str
    target_type: str
    target_id: str
    details: str  # compact JSON (UTF-8, not escaped): shown as text, never as markup


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    filter: AuditFilter
    next_after: int | None  # the seq to continue after, if there are more


_WHEN = {"from": M("audit_filter.from", "from", "起始时间"), "to": M("audit_filter.to", "to", "结束时间")}


def _time(text: str, what: str, *, end: bool) -> dt.datetime | None:
    """``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM`` or ``...:SS`` (a ``T`` and a trailing ``Z`` allowed), in
    UTC. An end time covers the whole unit it names: ``2026-11-23`` ends at midnight after it."""
    text = (text or "").strip()
    if not text:
        return None
    body = text[:-1] if text.endswith(("Z", "z")) else text
    for fmt, unit in (
        ("%Y-%m-%d", dt.timedelta(days=1)),
        ("%Y-%m-%dT%H:%M", dt.timedelta(minutes=1)),
        ("%Y-%m-%d %H:%M", dt.timedelta(minutes=1)),
        ("%Y-%m-%dT%H:%M:%S", dt.timedelta(seconds=1)),
        ("%Y-%m-%d %H:%M:%S", dt.timedelta(seconds=1)),
    ):
        try:
            when = dt.datetime.strptime(body, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        return when + unit if end else when
    raise ValidationError(
        M(
            "audit_filter.bad_time",
            "{what}: {value} is not a time; use YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC)",
            "{what}：{value} 不是时间；请使用 YYYY-MM-DD 或 YYYY-MM-DD HH:MM（UTC）",
        ),
        what=_WHEN[what],
        value=repr(text[:40]),
    )


def parse_filter(
    actor: str = "", action: str = "", target_type: str = "", target_id: str = "", since: str = "", until: str = ""
) -> AuditFilter:
    """The filter from the page's fields, or :class:`ValidationError` naming the bad one."""
    actor, action = (actor or "").strip(), (action or "").strip()
    target_type, target_id = (target_type or "").strip(), (target_id or "").strip()
    if len(actor) > 100:
        raise ValidationError(
            M("audit_filter.actor_too_long", "actor: longer than 100 characters", "操作人：超过 100 个字符")
        )
    if action and not _ACTION.match(action):
        raise ValidationError(
            M(
                "audit_filter.bad_action",
                "action: the start of an action name, e.g. seal. or user.created (letters, digits, . _ -)",
                "操作：须为操作名称的开头，例如 seal. 或 user.created（字母、数字、. _ -）",
            )
        )
    if target_type and target_type not in TARGET_TYPES:
        raise ValidationError(
            M("audit_filter.bad_target_type", "target type: one of {types}", "对象类型：须为 {types} 之一"),
            types=", ".join(TARGET_TYPES),
        )
    if len(target_id) > 64:
        raise ValidationError(
            M("audit_filter.target_too_long", "target: longer than 64 characters", "对象：超过 64 个字符")
        )
    start, end = _time(since, "from", end=False), _time(until, "to", end=True)
    if start is not None and end is not None and start >= end:
        raise ValidationError(M("audit_filter.range", "the time range ends before it starts", "时间范围的结束早于开始"))
    return AuditFilter(actor, action, target_type, target_id, start, end)


_MAX_ACTIONS = 200  # distinct actions under one prefix (the services use a few dozen in all)


def actions_with_prefix(tx: Tx, prefix: str) -> list[str] | None:
    """The distinct actions starting with ``prefix``, found with one index seek each (a loose index
    scan of ``ix_audit_events_action_time``), in byte order; None if there are more than
    :data:`_MAX_ACTIONS`. Byte order, so the prefix range is exact under any collation: PostgreSQL's
    ``~>~`` / ``~<~`` operators (the text_pattern_ops index), SQLite's BINARY collation. Reads on
    the transaction's connection (:attr:`Tx.conn <registry.services.core.tx.Tx.conn>`)."""
    conn = tx.conn
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # every string starting with prefix is below it
    first: Executable
    then: Executable
    if conn.dialect.name == "postgresql":
        first = text(
            "SELECT action FROM audit_events WHERE action ~>=~ :lo AND action ~<~ :hi ORDER BY action USING ~<~ LIMIT 1"
        )
        then = text(
            "SELECT action FROM audit_events WHERE action ~>~ :lo AND action ~<~ :hi ORDER BY action USING ~<~ LIMIT 1"
        )
    else:
        first = select(func.min(_E.action)).where(_E.action >= bindparam("lo"), _E.action < bindparam("hi"))
        then = select(func.min(_E.action)).where(_E.action > bindparam("lo"), _E.action < bindparam("hi"))
    out: list[str] = []
    found = conn.execute(first, {"lo": prefix, "hi": upper}).scalar()
    while found is not None:
        if len(out) == _MAX_ACTIONS:
            return None
        out.append(found)
        found = conn.execute(then, {"lo": found, "hi": upper}).scalar()
    return out


def _prefix(dialect: str, prefix: str) -> Any:
    if dialect == "sqlite":
        return _E.action.op("GLOB")(prefix + "*")  # no GLOB metacharacters: _ACTION allows none
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _E.action.like(escaped + "%", escape="\\")


_COLUMNS = (
    _E.id,
    _E.seq,
    type_coerce(_E.occurred_at, String).label("at"),
    _E.actor,
    _E.action,
    _E.target_type,
    _E.target_id,
    type_coerce(_E.details, String).label("details"),
)
_NEWEST = (_E.occurred_at.desc(), _E.seq.desc())


def statement(
    dialect: str,
    filt: AuditFilter,
    after: tuple[dt.datetime, int] | None = None,
    limit: int | None = PAGE_SIZE,
    actions: list[str] | None = None,
) -> Select[*tuple[Any, ...]]:
    """The page's query: ``filt``, after the event (occurred_at, seq) ``after``, newest first.

    With an action prefix and its ``actions`` (:func:`actions_with_prefix`), and neither an actor
    nor a target id, the page is the newest ``limit`` of the union of one ordered index scan per
    action, each stopping after ``limit`` rows: a prefix such as ``seal.`` then costs a few short
    scans, not a sort of half the log."""
    stmt = select(*_COLUMNS)
    if filt.actor:
        stmt = stmt.where(_E.actor == filt.actor)
    if filt.target_type:
        stmt = stmt.where(_E.target_type == filt.target_type)
        if filt.target_id:
            stmt = stmt.where(_E.target_id == filt.target_id)
    elif filt.target_id:
        stmt = stmt.where(_E.target_type.in_(TARGET_TYPES), _E.target_id == filt.target_id)
    if filt.since is not None:
        stmt = stmt.where(_E.occurred_at >= filt.since)
    if filt.until is not None:
        stmt = stmt.where(_E.occurred_at < filt.until)
    if after is not None:
        at, seq = after
        # (occurred_at, seq) < (at, seq); the first term lets each index bound its scan
        stmt = stmt.where(_E.occurred_at <= at, or_(_E.occurred_at < at, and_(_E.occurred_at == at, _E.seq < seq)))
    if filt.action:
        if actions is None or filt.actor or filt.target_id:
            # an actor or a target narrows the log more than an action does: read through its index,
            # testing the prefix on the way
            stmt = stmt.where(_prefix(dialect, filt.action))
        elif not actions:
            stmt = stmt.where(false())
        elif len(actions) == 1:
            stmt = stmt.where(_E.action == actions[0])
        else:
            parts = [select(stmt.where(_E.action == a).order_by(*_NEWEST).limit(limit).subquery()) for a in actions]
            merged = union_all(*parts).subquery()
            return select(merged).order_by(merged.c.at.desc(), merged.c.seq.desc()).limit(limit)
    return stmt.order_by(*_NEWEST).limit(limit)


def search(
    ctx: ServiceContext,
    actor: Actor,
    filt: AuditFilter = AuditFilter(),
    *,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """Events matching ``filt``, newest first, ``limit`` at a time after the event ``after`` (a seq)."""
    require(actor.name, actor.roles, Permission.AUDIT_VIEW)
    with reading(ctx, actor) as tx:
        s = tx.session
        key = None
        if after is not None:
            at = s.scalar(select(_E.occurred_at).where(_E.seq == after))
            if at is None:
                raise ValidationError(
                    M(
                        "audit_filter.bad_cursor",
                        "no audit event number {after} to continue after",
                        "没有可继续的审计事件编号 {after}",
                    ),
                    after=after,
                )
            key = (at, after)
        actions = actions_with_prefix(tx, filt.action) if filt.action else None
        rows = s.execute(statement(ctx.engine.dialect.name, filt, key, limit + 1, actions)).all()
    out = [_row(r) for r in rows[:limit]]
    return AuditPage(out, filt, out[-1].seq if len(rows) > limit else None)


def _row(r: Any) -> AuditRow:
    when: dt.datetime | None
    raw = r.at
    try:
        when = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except ValueError:
        when = None
    details = r.details
    if isinstance(details, (dict, list)):
        text = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        try:
            text = json.dumps(json.loads(details), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            text = str(details)
    return AuditRow(
        r.seq, r.id, when, str(raw), str(r.actor), str(r.action), str(r.target_type), str(r.target_id), text
    )
