"""Licence data from the e-licence registry: import files and look-ups."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select

from ..db.models import Enterprise, LicenceRecord
from ..domain.errors import Conflict, M, NotFound, ValidationError
from ..domain.licence_file import LicenceRow, RowError, parse_licence_file
from ..domain.roles import Permission, require
from ..domain.states import LicenceStatus
from ..messages import Localized
from ..pki.uscc import UsccError, validate_uscc
from .context import Actor, ServiceContext
from .core import revocation as core_revocation
from .core.tx import begin, reading

_TRACKED = ("name", "legal_representative", "entity_type", "address", "registered_on", "status")


@dataclass(frozen=True)
class RowResult:
    """One row of an import file and what became of it."""

    line: int
    uscc: str
    outcome: str  # created | updated | unchanged | rejected
    message: str = ""  # why a row was rejected (English)
    changes: dict[str, list[object]] = field(default_factory=dict)  # field -> [old, new] (updated)
    revoked_seals: tuple[str, ...] = ()  # seals the row's licence change revoked
    warnings: tuple[Localized, ...] = ()  # imported, but e.g. a standard seal picture cannot be drawn
    error: ValidationError | None = None  # why a row was rejected, in both languages


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    revoked_seals: list[str] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)  # every row of the file, by line number

    @property
    def good(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)


def file_label(filename: str) -> str:
    """The name an import is recorded under (licence history source, audit target): the file's own
    name without directories or control characters, at most 64 characters (the audit target's
    width), keeping the end so the extension stays visible."""
    name = os.path.basename(filename.replace("\\", "/")) or "licences"
    name = "".join(c for c in name if ord(c) >= 32 and c != "\x7f").strip() or "licences"
    return name if len(name) <= 64 else name[:40] + "…" + name[-23:]


def import_licences(ctx: ServiceContext, actor: Actor, data: bytes, filename: str) -> ImportReport:
    """Import a CSV / JSON Lines licence file. Good rows are kept (created, or updated in place
    with a history record), bad rows are reported with their line number; all good rows are
    committed together, so a failure part-way leaves the database as it was. The report lists
    every row (:class:`RowResult`) in file order."""
    require(actor.name, actor.roles, Permission.LICENCE_IMPORT)
    now = ctx.clock.now()
    rows, errors = parse_licence_file(data, filename, now.date())
    report = ImportReport(errors=list(errors))
    results = [RowResult(e.line, e.uscc, "rejected", e.message, error=e.error) for e in errors]
    filename = file_label(filename)
    source = f"import {filename}"
    by_uscc = {r.uscc: r for r in rows}
    with begin(ctx, actor) as tx:
        session = tx.session
        existing = (
            {e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_([r.uscc for r in rows])))}
            if rows
            else {}
        )
        for row in rows:
            ent = existing.get(row.uscc)
            if ent is None:
                ent = Enterprise(
                    uscc=row.uscc,
                    name=row.name,
                    legal_representative=row.legal_representative,
                    entity_type=row.entity_type,
                    address=row.address,
                    registered_on=row.registered_on,
                    status=row.status,
                    created_at=now,
                    updated_at=now,
                )
                ent.history.append(
                    LicenceRecord(recorded_at=now, event="registered", changes=_snapshot(row), source=source)
                )
                session.add(ent)
                report.created.append(row.uscc)
                results.append(RowResult(row.line, row.uscc, "created"))
                continue
            changes = _diff(ent, row)
            if not changes:
                report.unchanged.append(row.uscc)
                results.append(RowResult(row.line, row.uscc, "unchanged"))
                continue
            for k in changes:
                setattr(ent, k, getattr(row, k))
            ent.updated_at = now
            ent.history.append(LicenceRecord(recorded_at=now, event="changed", changes=changes, source=source))
            report.updated.append(row.uscc)
            revoked = core_revocation.apply_licence_event(tx, ent, changes, source)
            report.revoked_seals += revoked
            results.append(RowResult(row.line, row.uscc, "updated", changes=changes, revoked_seals=tuple(revoked)))
        report.rows = sorted(
            (_with_picture_warnings(ctx, r, by_uscc.get(r.uscc)) for r in results), key=lambda r: r.line
        )
        tx.audit(
            "licence.imported",
            "licence-file",
            filename,
            created=len(report.created),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            rejected=len(report.errors),
            updated_uscc=report.updated[:1000],
            revoked_seals=len(report.revoked_seals),
        )
    return report


def picture_warnings(ctx: ServiceContext, name: str, legal_representative: str, uscc: str) -> tuple[Localized, ...]:
    """Warnings for a licence whose standard seal pictures cannot be drawn (a name too long for the
    ring, a legal representative's name that is not 2 to 4 characters, a character the seal font
    lacks): one per distinct reason, naming the seal types. The licence is still good; the
    enterprise must then upload its own picture for those seals."""
    from .core.pictures import licence_picture_problems

    grouped: dict[str, tuple[Localized, list[object]]] = {}
    for st, why in licence_picture_problems(ctx.settings.seal_font, name, legal_representative, uscc).items():
        key = why.code or str(why)
        grouped.setdefault(f"{key}|{why}", (why, []))[1].append(st.named)
    return tuple(ValidationError(_UNDRAWABLE, types=types, why=why) for why, types in grouped.values())


_UNDRAWABLE = M(
    "licence.picture_undrawable",
    "the standard picture of {types} cannot be drawn from this licence: {why}; the enterprise must "
    "upload its own picture for it",
    "无法根据此执照绘制{types}的标准印模：{why}；企业须为其上传自备印模",
)


def _with_picture_warnings(ctx: ServiceContext, r: RowResult, row: LicenceRow | None) -> RowResult:
    if r.outcome == "rejected" or row is None:
        return r
    warnings = picture_warnings(ctx, row.name, row.legal_representative, row.uscc)
    if not warnings:
        return r
    from dataclasses import replace

    return replace(r, warnings=warnings)


@dataclass
class StatusChange:
    uscc: str
    changes: dict[str, list[object]]
    revoked_seals: list[str]


@dataclass(frozen=True)
class PreviewSeal:
    es_id: str
    name: str
    seal_type: str  # code, e.g. "02"
    status: str  # active | suspended | expired
    valid_end: dt.datetime
    reissue: bool  # a re-issue application will be opened for it


@dataclass(frozen=True)
class StatusPreview:
    """What :func:`set_licence_status` would do, computed with the same rule
    (revocation.licence_event_effect) and changing nothing."""

    uscc: str
    name: str
    current: dict[str, str]  # the licence's status, name, legal representative, entity type now
    changes: dict[str, list[object]]  # field -> [old, new]; empty: nothing would change
    reason: str | None  # the CRL reason the seals would be revoked with (RFC 5280 name)
    seals: list[PreviewSeal]  # exactly the seals the change would revoke, oldest first


def _code(uscc: str) -> str:
    try:
        return validate_uscc(uscc)
    except UsccError as exc:
        raise ValidationError(
            M("licence.uscc", "USCC {uscc}: {exc}", "统一社会信用代码 {uscc}：{exc}"), uscc=f"{uscc!r}", exc=exc
        ) from None


def _wanted(
    status: str | None, name: str | None, legal_representative: str | None, entity_type: str | None
) -> dict[str, object]:
    wanted: dict[str, object] = {}
    if status is not None:
        wanted["status"] = LicenceStatus.parse(status)
    for field_name, value, limit in (
        ("name", name, 200),
        ("legal_representative", legal_representative, 100),
        ("entity_type", entity_type, 100),
    ):
        if value is not None:
            value = value.strip()
            if not value or len(value) > limit or any(ord(c) < 32 for c in value):
                raise ValidationError(
                    M(
                        "licence.printable_characters",
                        "{field_name} must be 1–{limit} printable characters",
                        "{field_name} 必须为 1–{limit} 个可打印字符",
                    ),
                    field_name=field_name,
                    limit=limit,
                )
            wanted[field_name] = value
    return wanted


def _plan(ent: Enterprise, wanted: dict[str, object]) -> dict[str, list[object]]:
    """The changes ``wanted`` makes to ``ent`` (field -> [old, new]); refuses a change of name,
    legal representative or entity type on a licence that stays cancelled or revoked."""
    new_status = wanted.get("status", ent.status)
    if ent.status is not LicenceStatus.ACTIVE and new_status is not LicenceStatus.ACTIVE and set(wanted) - {"status"}:
        raise Conflict(
            M(
                "licence.licence_it_has_no",
                "the licence of {uscc} is {status}; it has no name to change",
                "{uscc} 的执照{status}；没有可变更的名称",
            ),
            uscc=ent.uscc,
            status=ent.status.value,
        )
    return {k: [_plain(getattr(ent, k)), _plain(v)] for k, v in wanted.items() if getattr(ent, k) != v}


def preview_status_change(
    ctx: ServiceContext,
    actor: Actor,
    uscc: str,
    status: str | None = None,
    *,
    name: str | None = None,
    legal_representative: str | None = None,
    entity_type: str | None = None,
) -> StatusPreview:
    """The first step of a licence event in the back office: the changes and exactly which seals
    :func:`set_licence_status` with the same arguments would revoke now. Reads only. ``status``
    None keeps the current status (the page before anything is chosen)."""
    require(actor.name, actor.roles, Permission.LICENCE_CHANGE)
    code = _code(uscc)
    wanted = _wanted(status, name, legal_representative, entity_type)
    now = ctx.clock.now()
    with reading(ctx, actor) as tx:
        session = tx.session
        ent = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if ent is None:
            raise NotFound(
                M(
                    "licence.no_licence_record_uscc",
                    "no licence on record for USCC {code}",
                    "没有统一社会信用代码为 {code} 的执照记录",
                ),
                code=code,
            )
        current = {
            "status": ent.status.value,
            "name": ent.name,
            "legal_representative": ent.legal_representative,
            "entity_type": ent.entity_type,
        }
        changes = _plan(ent, wanted)
        effect = (
            core_revocation.licence_event_effect(
                tx,
                ent.id,
                new_status if isinstance(new_status := wanted.get("status"), LicenceStatus) else ent.status,
                changes,
            )
            if changes
            else None
        )
        seals = (
            [
                PreviewSeal(
                    s.es_id, s.name, s.seal_type.code, s.effective_status(now), s.valid_end, effect.reissues(s, now)
                )
                for s in effect.seals
            ]
            if effect is not None
            else []
        )
        return StatusPreview(code, ent.name, current, changes, effect.reason.rfc_name if effect else None, seals)


def set_licence_status(
    ctx: ServiceContext,
    actor: Actor,
    uscc: str,
    status: str,
    *,
    name: str | None = None,
    legal_representative: str | None = None,
    entity_type: str | None = None,
    source: str = "set-status",
    expect_seals: Collection[str] | None = None,
) -> StatusChange:
    """A licence event from the e-licence registry: status and/or affiliation change, with its
    effect on the enterprise's seals, in one transaction. ``expect_seals`` (the esIDs
    :func:`preview_status_change` showed) makes it refuse with revocation.SealsChanged (409),
    changing nothing, when the change would now revoke a different set of seals."""
    require(actor.name, actor.roles, Permission.LICENCE_CHANGE)
    code = _code(uscc)
    wanted = _wanted(status, name, legal_representative, entity_type)
    now = ctx.clock.now()
    with begin(ctx, actor) as tx:
        # locked: two licence events for one enterprise apply one after the other
        ent = tx.session.scalar(select(Enterprise).where(Enterprise.uscc == code).with_for_update())
        if ent is None:
            raise NotFound(
                M(
                    "licence.no_licence_record_uscc",
                    "no licence on record for USCC {code}",
                    "没有统一社会信用代码为 {code} 的执照记录",
                ),
                code=code,
            )
        changes = _plan(ent, wanted)
        if not changes:
            if expect_seals:
                raise core_revocation.SealsChanged(expect_seals, [])
            return StatusChange(code, {}, [])
        for k, (_old, _new) in changes.items():
            setattr(ent, k, wanted[k])
        ent.updated_at = now
        ent.history.append(
            LicenceRecord(
                recorded_at=now,
                event="status" if list(changes) == ["status"] else "changed",
                changes=changes,
                source=source,
            )
        )
        revoked = core_revocation.apply_licence_event(tx, ent, changes, source, expect=expect_seals)
        tx.audit(
            "licence.changed",
            "enterprise",
            code,
            changes=changes,
            revoked_seals=revoked,
            source=source,
        )
    return StatusChange(code, changes, revoked)


def _plain(value: object) -> object:
    return getattr(value, "value", value) if not hasattr(value, "isoformat") else value.isoformat()


def _snapshot(row: LicenceRow) -> dict[str, object]:
    return {k: [None, _plain(getattr(row, k))] for k in _TRACKED}


def _diff(ent: Enterprise, row: LicenceRow) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for k in _TRACKED:
        old, new = getattr(ent, k), getattr(row, k)
        if old != new:
            out[k] = [_plain(old), _plain(new)]
    return out


def get_enterprise(ctx: ServiceContext, uscc: str) -> Enterprise:
    try:
        code = validate_uscc(uscc)
    except UsccError as exc:
        raise ValidationError(
            M("licence.uscc", "USCC {uscc}: {exc}", "统一社会信用代码 {uscc}：{exc}"), uscc=f"{uscc!r}", exc=exc
        ) from None
    with ctx.reader() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if ent is None:
            raise NotFound(
                M(
                    "licence.no_licence_record_uscc",
                    "no licence on record for USCC {code}",
                    "没有统一社会信用代码为 {code} 的执照记录",
                ),
                code=code,
            )
        return ent
