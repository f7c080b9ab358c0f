"""Licence data from the e-licence registry: import files and look-ups."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from ..db.models import Enterprise, LicenceRecord
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.licence_file import LicenceRow, RowError, parse_licence_file
from ..domain.states import LicenceStatus
from ..domain.roles import Permission, require
from ..pki.uscc import UsccError, validate_uscc
from . import audit, revocation
from .context import Actor, ServiceContext

_TRACKED = ("name", "legal_representative", "entity_type", "address", "registered_on", "status")


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    revoked_seals: list[str] = field(default_factory=list)

    @property
    def good(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)


def import_licences(ctx: ServiceContext, actor: Actor, data: bytes, filename: str) -> ImportReport:
    """Import a CSV / JSON Lines licence file. Good rows are kept (created, or updated in place
    with a history record), bad rows are reported with their line number; all good rows are
    committed together, so a failure part-way leaves the database as it was."""
    require(actor.name, actor.roles, Permission.LICENCE_IMPORT)
    now = ctx.clock.now()
    rows, errors = parse_licence_file(data, filename, now.date())
    report = ImportReport(errors=list(errors))
    source = f"import {filename}"
    with ctx.transaction() as session:
        existing = {e.uscc: e for e in session.scalars(
            select(Enterprise).where(Enterprise.uscc.in_([r.uscc for r in rows])))} if rows else {}
        for row in rows:
            ent = existing.get(row.uscc)
            if ent is None:
                ent = Enterprise(uscc=row.uscc, name=row.name, legal_representative=row.legal_representative,
                                 entity_type=row.entity_type, address=row.address,
                                 registered_on=row.registered_on, status=row.status, created_at=now,
                                 updated_at=now)
                ent.history.append(LicenceRecord(recorded_at=now, event="registered",
                                                 changes=_snapshot(row), source=source))
                session.add(ent)
                report.created.append(row.uscc)
                continue
            changes = _diff(ent, row)
            if not changes:
                report.unchanged.append(row.uscc)
                continue
            for k in changes:
                setattr(ent, k, getattr(row, k))
            ent.updated_at = now
            ent.history.append(LicenceRecord(recorded_at=now, event="changed", changes=changes, source=source))
            report.updated.append(row.uscc)
            report.revoked_seals += revocation.apply_licence_event(session, ctx, actor, ent, changes, source)
        audit.record(session, ctx, actor, "licence.imported", "licence-file", filename,
                     created=len(report.created), updated=len(report.updated),
                     unchanged=len(report.unchanged), rejected=len(report.errors),
                     updated_uscc=report.updated[:1000], revoked_seals=len(report.revoked_seals))
    return report


@dataclass
class StatusChange:
    uscc: str
    changes: dict[str, list[object]]
    revoked_seals: list[str]


def set_licence_status(ctx: ServiceContext, actor: Actor, uscc: str, status: str, *,
                       name: str | None = None, legal_representative: str | None = None,
                       entity_type: str | None = None, source: str = "set-status") -> StatusChange:
    """A licence event from the e-licence registry: status and/or affiliation change, with its
    effect on the enterprise's seals, in one transaction."""
    require(actor.name, actor.roles, Permission.LICENCE_CHANGE)
    try:
        code = validate_uscc(uscc)
    except UsccError as exc:
        raise ValidationError(f"USCC {uscc!r}: {exc}") from None
    new_status = LicenceStatus.parse(status)
    wanted: dict[str, object] = {"status": new_status}
    for field_name, value, limit in (("name", name, 200), ("legal_representative", legal_representative, 100),
                                     ("entity_type", entity_type, 100)):
        if value is not None:
            value = value.strip()
            if not value or len(value) > limit or any(ord(c) < 32 for c in value):
                raise ValidationError(f"{field_name} must be 1–{limit} printable characters")
            wanted[field_name] = value
    now = ctx.clock.now()
    with ctx.transaction() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if ent is None:
            raise NotFound(f"no licence on record for USCC {code}")
        if ent.status is not LicenceStatus.ACTIVE and new_status is not LicenceStatus.ACTIVE and len(wanted) > 1:
            raise Conflict(f"the licence of {code} is {ent.status.value}; it has no name to change")
        changes = {k: [_plain(getattr(ent, k)), _plain(v)] for k, v in wanted.items() if getattr(ent, k) != v}
        if not changes:
            return StatusChange(code, {}, [])
        for k, (_old, _new) in changes.items():
            setattr(ent, k, wanted[k])
        ent.updated_at = now
        ent.history.append(LicenceRecord(recorded_at=now, event="status" if list(changes) == ["status"] else "changed",
                                         changes=changes, source=source))
        revoked = revocation.apply_licence_event(session, ctx, actor, ent, changes, source)
        audit.record(session, ctx, actor, "licence.changed", "enterprise", code, changes=changes,
                     revoked_seals=revoked, source=source)
    return StatusChange(code, changes, revoked)


def _plain(value: object) -> object:
    return getattr(value, "value", value) if not hasattr(value, "isoformat") else value.isoformat()  # type: ignore[union-attr]


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
        raise ValidationError(f"USCC {uscc!r}: {exc}") from None
    with ctx.reader() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if ent is None:
            raise NotFound(f"no licence on record for USCC {code}")
        return ent
