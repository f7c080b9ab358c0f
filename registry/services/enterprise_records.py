"""The back office's view of enterprises: search with keyset pagination, and one enterprise's record
(licence data, seals, applications, licence history).

Lists never use OFFSET. The whole list runs newest first on the primary key. A name search runs
in name order over ix_enterprises_name (migration 0009: ``name COLLATE NOCASE`` on SQLite,
``text_pattern_ops`` on PostgreSQL), with the comparisons written in each index's own terms so the
index serves the prefix range, the keyset and the order: page 1,000 costs what page 1 costs, and a
prefix shared by 200,000 enterprises what a prefix shared by 20 costs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, text
from sqlalchemy.orm import Session

from ..db.models import Enterprise, LicenceRecord, Seal, SealApplication
from ..domain.errors import M, NotFound, ValidationError
from ..domain.roles import Permission, require
from ..domain.search import search_text
from ..domain.states import LicenceStatus, SealStatus
from ..pki.uscc import UsccError, validate_uscc
from .context import Actor, ServiceContext

__all__ = ["EnterpriseRow", "EnterprisePage", "search", "licence_status", "name_filter", "detail", "PAGE_SIZE", "SHOWN"]

PAGE_SIZE = 50
SHOWN = 100  # seals, applications and licence-history entries on the detail page, newest first
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


@dataclass(frozen=True)
class EnterpriseRow:
    id: int
    uscc: str
    name: str
    legal_representative: str
    entity_type: str
    status: str  # licence status: active | cancelled | revoked
    registered_on: dt.date
    live_seals: int  # seals not revoked (active, suspended or expired)


@dataclass(frozen=True)
class EnterprisePage:
    rows: list[EnterpriseRow]
    query: str
    kind: str  # all | uscc | name
    next_after: int | None  # the id to continue after, if there are more
    next_name: str | None  # and, for a name search, the name it belongs to
    status: str = ""  # the licence-status filter ("" for any)


class _NameIndex:
    """Comparisons on enterprises.name that ix_enterprises_name can serve, and the Python sort key
    that orders names as the index does."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        # whether the index orders equal names by id itself (SQLite: the rowid ends every entry)
        self.ties_by_id = dialect != "postgresql"

    def fold(self, name: str) -> str:
        # SQLite's NOCASE folds the 26 ASCII capitals only; PostgreSQL's pattern operators
        # compare bytes (UTF-8: code-point order, as Python compares str)
        return name.translate(_ASCII_LOWER) if self.dialect == "sqlite" else name

    def _cmp(self, op: str, value: str) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            pattern_op = {">=": "~>=~", ">": "~>~", "<": "~<~", "=": "="}[op]
            return Enterprise.name.op(pattern_op, is_comparison=True)(value)
        col = Enterprise.name.collate("NOCASE") if self.dialect == "sqlite" else Enterprise.name
        return col.op(op, is_comparison=True)(value)

    def ge(self, v: str) -> ColumnElement[bool]:
        return self._cmp(">=", v)

    def gt(self, v: str) -> ColumnElement[bool]:
        return self._cmp(">", v)

    def lt(self, v: str) -> ColumnElement[bool]:
        return self._cmp("<", v)

    def eq(self, v: str) -> ColumnElement[bool]:
        return self._cmp("=", v)

    def order(self) -> list[Any]:
        if self.dialect == "postgresql":
            return [text("enterprises.name USING ~<~")]
        if self.dialect == "sqlite":
            return [Enterprise.name.collate("NOCASE"), Enterprise.id]
        return [Enterprise.name, Enterprise.id]


def _upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (code-point order)."""
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last <= 0xDFFF:  # surrogates cannot be encoded
            last = 0xE000
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None


def _kind(q: str) -> str:
    if not q:
        return "all"
    if _USCC.match(q.upper()):
        return "uscc"
    return "name"


def _columns() -> Select[*tuple[Any, ...]]:
    live = (
        select(func.count())
        .select_from(Seal)
        .where(Seal.enterprise_id == Enterprise.id, Seal.status != SealStatus.REVOKED)
        .correlate(Enterprise)
        .scalar_subquery()
    )
    return select(
        Enterprise.id,
        Enterprise.uscc,
        Enterprise.name,
        Enterprise.legal_representative,
        Enterprise.entity_type,
        Enterprise.status,
        Enterprise.registered_on,
        live.label("live"),
    )


def licence_status(text: str | None) -> LicenceStatus | None:
    """The licence-status filter of the list (``active``, ``cancelled``, ``revoked``; empty for
    any), or :class:`ValidationError` naming the bad value."""
    value = (text or "").strip().lower()
    if not value:
        return None
    try:
        return LicenceStatus(value)
    except ValueError:
        raise ValidationError(
            M(
                "enterprise.status_filter",
                "unknown licence status {status!r}: use active, cancelled or revoked",
                "未知的执照状态 {status!r}：可选 active（存续）、cancelled（注销）或 revoked（吊销）",
            ),
            status=value[:20],
        ) from None


def search(
    ctx: ServiceContext,
    actor: Actor,
    query: str = "",
    *,
    after: int | None = None,
    after_name: str | None = None,
    status: str | None = None,
    limit: int = PAGE_SIZE,
) -> EnterprisePage:
    """Enterprises matching a USCC or the start of a name (in name order), or all of them (newest
    first), optionally only those whose licence has ``status``. ``after`` / ``after_name`` continue
    after the last row of the previous page."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    q = search_text(query, extra=after_name)
    kind = _kind(q)
    wanted = licence_status(status)
    base = _columns()
    if wanted is not None:
        base = base.where(Enterprise.status == wanted)
    with ctx.reader() as s:
        if kind == "uscc":
            rows = s.execute(base.where(Enterprise.uscc == q.upper())).all()
        elif kind == "all":
            stmt = base if after is None else base.where(Enterprise.id < after)
            rows = s.execute(stmt.order_by(Enterprise.id.desc()).limit(limit + 1)).all()
        else:
            rows = _by_name(
                s,
                base,
                _NameIndex(ctx.engine.dialect.name),
                q,
                (after_name, after) if after is not None and after_name is not None else None,
                limit,
            )
    out = [EnterpriseRow(r[0], r[1], r[2], r[3], r[4], r[5].value, r[6], r[7]) for r in rows[:limit]]
    more = len(rows) > limit
    return EnterprisePage(
        out,
        q,
        kind,
        out[-1].id if more else None,
        out[-1].name if more and kind == "name" else None,
        wanted.value if wanted else "",
    )


def name_filter(dialect: str, query: str) -> tuple[str, str, list[Any]]:
    """The cleaned query, its kind and the conditions of the list's search (a USCC or a name prefix,
    through the same index comparisons as the list) for the CSV export, which reads in id order."""
    q = search_text(query)
    kind = _kind(q)
    if kind == "uscc":
        return q, kind, [Enterprise.uscc == q.upper()]
    if kind == "all":
        return q, kind, []
    idx = _NameIndex(dialect)
    folded = idx.fold(q)
    upper = _upper_bound(folded)
    return q, kind, [idx.ge(folded)] + ([idx.lt(upper)] if upper is not None else [])


def columns() -> Select[*tuple[Any, ...]]:
    """The list's columns (with the count of seals in use), for the CSV export."""
    return _columns()


def _by_name(
    s: Session, base: Select[*tuple[Any, ...]], idx: _NameIndex, prefix: str, after: tuple[str, int] | None, limit: int
) -> list[Any]:
    """Up to ``limit + 1`` enterprises whose name starts with ``prefix``, in (name, id) order, after
    ``after``. Three index ranges, none of which sorts more than one name's rows: the rest of the
    name the previous page ended in (by id), the following names in index order, and - when that
    read stopped inside a name - all of that last name's rows by id, so ties on a name are never
    split in an order the index did not fix."""
    folded = idx.fold(prefix)
    if after is not None and not idx.fold(after[0]).startswith(folded):
        after = None  # a continuation that belongs to another search
    upper = _upper_bound(folded)
    rows: list[Any] = []
    if after is not None:
        rows += s.execute(
            base.where(idx.eq(after[0]), Enterprise.id > after[1]).order_by(Enterprise.id).limit(limit + 1)
        ).all()
    need = limit + 1 - len(rows)
    if need <= 0:
        return rows
    stmt = base.where(idx.gt(after[0]) if after is not None else idx.ge(folded))
    if upper is not None:
        stmt = stmt.where(idx.lt(upper))
    rest = s.execute(stmt.order_by(*idx.order()).limit(need)).all()
    if len(rest) == need and not idx.ties_by_id:
        last = idx.fold(rest[-1][2])
        raw_last = rest[-1][2]
        rest = [r for r in rest if idx.fold(r[2]) != last]
        rest += s.execute(base.where(idx.eq(raw_last)).order_by(Enterprise.id).limit(need)).all()
    return rows + sorted(rest, key=lambda r: (idx.fold(r[2]), r[0]))


def detail(ctx: ServiceContext, actor: Actor, uscc: str) -> dict[str, Any]:
    """One enterprise: its licence data, its seals, its applications and its licence history
    (each newest first, at most :data:`SHOWN`, with the totals)."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    try:
        code = validate_uscc(uscc)
    except UsccError as exc:
        raise ValidationError(
            M("enterprise.uscc", "USCC {uscc}: {exc}", "统一社会信用代码 {uscc}：{exc}"), uscc=f"{uscc!r}", exc=exc
        ) from None
    now = ctx.clock.now()
    with ctx.reader() as s:
        ent = s.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if ent is None:
            raise NotFound(
                M(
                    "enterprise.no_licence_record_uscc",
                    "no licence on record for USCC {code}",
                    "没有统一社会信用代码为 {code} 的执照记录",
                ),
                code=code,
            )
        by_status = dict(
            s.execute(select(Seal.status, func.count()).where(Seal.enterprise_id == ent.id).group_by(Seal.status)).all()
        )
        seals = s.execute(
            select(
                Seal.es_id,
                Seal.name,
                Seal.seal_type,
                Seal.status,
                Seal.valid_end,
                Seal.revoked_at,
                Seal.revocation_reason,
            )  # not the SESeal itself
            .where(Seal.enterprise_id == ent.id)
            .order_by(Seal.id.desc())
            .limit(SHOWN + 1)
        ).all()
        A = SealApplication
        app_total = s.scalar(select(func.count()).select_from(A).where(A.enterprise_id == ent.id)) or 0
        apps = s.execute(
            select(A.id, A.seal_type, A.state, A.channel, A.submitted_by, A.submitted_at)
            .where(A.enterprise_id == ent.id)
            .order_by(A.id.desc())
            .limit(SHOWN + 1)
        ).all()
        history = s.scalars(
            select(LicenceRecord)
            .where(LicenceRecord.enterprise_id == ent.id)
            .order_by(LicenceRecord.id.desc())
            .limit(SHOWN + 1)
        ).all()
        history_total = (
            s.scalar(select(func.count()).select_from(LicenceRecord).where(LicenceRecord.enterprise_id == ent.id)) or 0
        )
        return {
            "enterprise": {
                "id": ent.id,
                "uscc": ent.uscc,
                "name": ent.name,
                "legal_representative": ent.legal_representative,
                "entity_type": ent.entity_type,
                "address": ent.address,
                "registered_on": ent.registered_on,
                "status": ent.status.value,
                "created_at": ent.created_at,
                "updated_at": ent.updated_at,
            },
            "seal_total": sum(by_status.values()),
            "live_seals": sum(n for st, n in by_status.items() if st is not SealStatus.REVOKED),
            "seals": [
                {
                    "es_id": x.es_id,
                    "name": x.name,
                    "seal_type": x.seal_type.code,
                    "status": "expired" if x.status is SealStatus.ACTIVE and now > x.valid_end else x.status.value,
                    "valid_end": x.valid_end,
                    "revoked_at": x.revoked_at if x.status is SealStatus.REVOKED else None,
                    "revocation_reason": x.revocation_reason if x.status is SealStatus.REVOKED else None,
                }
                for x in seals[:SHOWN]
            ],
            "application_total": app_total,
            "applications": [
                {
                    "id": a[0],
                    "seal_type": a[1].code,
                    "state": a[2].value,
                    "channel": a[3],
                    "submitted_by": a[4],
                    "submitted_at": a[5],
                }
                for a in apps[:SHOWN]
            ],
            "history_total": history_total,
            "licence_history": [
                {"at": h.recorded_at, "event": h.event, "changes": h.changes, "source": h.source}
                for h in history[:SHOWN]
            ],
        }
