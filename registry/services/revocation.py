"""Revocation, suspension and resumption of seals and of our own CA certificates, and the effect
of licence events (design.md §3). Each use case is one transaction with its audit events; every
change to a CRL listing writes the pre-encoded entry and a change-log event in that transaction, so
the next CRL can never miss it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..db.models import Authority, Certificate, Enterprise, Revocation, RevocationEvent, Seal, SealApplication
from ..domain.errors import Conflict, InvalidTransition, M, NotFound, ValidationError
from ..domain.roles import Permission, require
from ..domain.states import ApplicationState, CertificateStatus, LicenceStatus, SealStatus
from ..pki import crl
from ..pki.crl import CrlReason
from . import ocsp
from .context import Actor, ServiceContext
from .core import audit
from .seals import find_seal

# Reasons an operator may give when revoking a seal (RFC 5280 §5.3.1 names); design.md §3 maps the
# business events onto them: loss or compromise → keyCompromise, licence change → affiliationChanged,
# re-make → superseded, cancellation → cessationOfOperation.
SEAL_REASONS = (
    CrlReason.KEY_COMPROMISE,
    CrlReason.AFFILIATION_CHANGED,
    CrlReason.SUPERSEDED,
    CrlReason.CESSATION_OF_OPERATION,
    CrlReason.PRIVILEGE_WITHDRAWN,
    CrlReason.UNSPECIFIED,
)
CA_REASONS = (
    CrlReason.KEY_COMPROMISE,
    CrlReason.CA_COMPROMISE,
    CrlReason.AFFILIATION_CHANGED,
    CrlReason.SUPERSEDED,
    CrlReason.CESSATION_OF_OPERATION,
    CrlReason.UNSPECIFIED,
)


def parse_reason(text: str, allowed: tuple[CrlReason, ...] = SEAL_REASONS) -> CrlReason:
    try:
        reason = CrlReason.parse(text)
    except ValueError:
        reason = None
    if reason is None or reason not in allowed:
        raise ValidationError(
            M(
                "revocation.unknown_reason",
                "unknown or unsuitable revocation reason {text}; use one of: {choices}",
                "未知或不适用的吊销原因 {text}；可选：{choices}",
            ),
            text=f"{text!r}",
            choices=", ".join(r.rfc_name for r in allowed),
        )
    return reason


# ------------------------------------------------------------------------------------------------
# Certificate level: the only place CRL listings change


def _serial_int(cert: Certificate) -> int:
    return int(cert.serial, 16)


def list_certificate(
    ctx: ServiceContext,
    session: Session,
    cert: Certificate,
    reason: CrlReason,
    at: dt.datetime,
    invalidity_date: dt.datetime | None = None,
) -> None:
    """Put ``cert`` on its issuer's CRLs (revoked, or on hold with certificateHold), and re-sign its
    OCSP responses, in the caller's transaction."""
    entry = crl.encode_entry(_serial_int(cert), at, reason, invalidity_date)
    row = session.scalar(select(Revocation).where(Revocation.certificate_id == cert.id))
    if row is None:
        session.add(
            Revocation(
                certificate_id=cert.id,
                issuer_id=cert.issuer_id,
                shard=cert.shard,
                reason=int(reason),
                revoked_at=at,
                invalidity_date=invalidity_date,
                not_after=cert.not_after,
                entry_der=entry,
            )
        )
    else:  # on hold until now: the entry is replaced by the final revocation
        row.reason, row.revoked_at, row.invalidity_date, row.entry_der = int(reason), at, invalidity_date, entry
    session.add(
        RevocationEvent(
            issuer_id=cert.issuer_id,
            certificate_id=cert.id,
            shard=cert.shard,
            kind="listed",
            occurred_at=at,
            not_after=cert.not_after,
            entry_der=entry,
        )
    )
    cert.status = CertificateStatus.HOLD if reason is CrlReason.CERTIFICATE_HOLD else CertificateStatus.REVOKED
    ocsp.on_status_change(ctx, session, cert, at)


def unlist_certificate(ctx: ServiceContext, session: Session, cert: Certificate, at: dt.datetime) -> None:
    """Release ``cert`` from hold: gone from the next full CRL, removeFromCRL on the next delta."""
    session.execute(delete(Revocation).where(Revocation.certificate_id == cert.id))
    entry = crl.encode_entry(_serial_int(cert), at, CrlReason.REMOVE_FROM_CRL)
    session.add(
        RevocationEvent(
            issuer_id=cert.issuer_id,
            certificate_id=cert.id,
            shard=cert.shard,
            kind="unlisted",
            occurred_at=at,
            not_after=cert.not_after,
            entry_der=entry,
        )
    )
    cert.status = CertificateStatus.GOOD
    ocsp.on_status_change(ctx, session, cert, at)


# ------------------------------------------------------------------------------------------------
# Seal level


def revoke_seal_in(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    seal: Seal,
    reason: CrlReason,
    at: dt.datetime,
    invalidity_date: dt.datetime | None = None,
    **details: Any,
) -> None:
    """Revoke ``seal`` inside the caller's transaction (renewal and licence events use this too)."""
    if seal.status is SealStatus.REVOKED:
        raise InvalidTransition(
            M(
                "revocation.seal_already_revoked_z",
                "seal {es_id} is already revoked ({revocation_reason}, {revoked_at}Z)",
                "印章 {es_id} 已被吊销（{revocation_reason}，{revoked_at}Z）",
            ),
            es_id=seal.es_id,
            revocation_reason=seal.revocation_reason,
            revoked_at=f"{seal.revoked_at:%Y-%m-%d %H:%M:%S}",
        )
    was_held = seal.status is SealStatus.SUSPENDED
    hold_start = seal.revoked_at if was_held else None
    for cert in seal.certificates:
        if cert.status is not CertificateStatus.REVOKED:
            # A suspension that ends in revocation: revocationDate is this event; the invalidity
            # date (RFC 5280 §5.3.2) records when the seal stopped being usable, i.e. the hold.
            list_certificate(ctx, session, cert, reason, at, invalidity_date or hold_start)
    seal.status = SealStatus.REVOKED
    seal.revoked_at = at
    seal.revocation_reason = reason.rfc_name
    audit.record(
        session,
        ctx,
        actor,
        "seal.revoked",
        "seal",
        seal.es_id,
        reason=reason.rfc_name,
        revoked_at=at.isoformat(),
        was_suspended=was_held,
        invalidity_date=(invalidity_date or hold_start).isoformat() if (invalidity_date or hold_start) else None,
        certificates=[c.serial for c in seal.certificates],
        **details,
    )


def revoke_seal(
    ctx: ServiceContext, actor: Actor, code: str, reason: str, invalidity_date: dt.datetime | None = None
) -> Seal:
    """Revoke a seal: its holder certificates go on the CRLs at the event time with ``reason``."""
    require(actor.name, actor.roles, Permission.SEAL_REVOKE)
    why = parse_reason(reason)
    now = ctx.clock.now()
    if invalidity_date is not None and invalidity_date.tzinfo is None:
        raise ValidationError(
            M("revocation.invalidity_date_needs_time", "the invalidity date needs a time zone", "失效日期须带时区")
        )
    if invalidity_date is not None and invalidity_date > now:
        raise ValidationError(
            M(
                "revocation.invalidity_date_cannot_future",
                "the invalidity date cannot be in the future",
                "失效日期不能晚于现在",
            )
        )
    with ctx.transaction() as session:
        seal = find_seal(session, code)
        revoke_seal_in(session, ctx, actor, seal, why, now, invalidity_date)
    return seal


def suspend_seal(ctx: ServiceContext, actor: Actor, code: str, note: str = "") -> Seal:
    """停用: the holder certificates go on hold (certificateHold) until resumed or revoked."""
    require(actor.name, actor.roles, Permission.SEAL_SUSPEND)
    now = ctx.clock.now()
    with ctx.transaction() as session:
        seal = find_seal(session, code)
        if seal.status is not SealStatus.ACTIVE:
            raise InvalidTransition(
                M(
                    "revocation.seal_only_active_seal",
                    "seal {es_id} is {status}; only an active seal can be suspended",
                    "印章 {es_id} 为{status}；只有有效的印章才能停用",
                ),
                es_id=seal.es_id,
                status=seal.status.value,
            )
        if now > seal.valid_end:
            raise InvalidTransition(
                M(
                    "revocation.seal_expired",
                    "seal {es_id} expired on {valid_end}",
                    "印章 {es_id} 已于 {valid_end} 过期",
                ),
                es_id=seal.es_id,
                valid_end=f"{seal.valid_end:%Y-%m-%d}",
            )
        for cert in seal.certificates:
            if cert.status is CertificateStatus.GOOD:
                list_certificate(ctx, session, cert, CrlReason.CERTIFICATE_HOLD, now)
        seal.status, seal.revoked_at, seal.revocation_reason = SealStatus.SUSPENDED, now, "certificateHold"
        audit.record(session, ctx, actor, "seal.suspended", "seal", seal.es_id, at=now.isoformat(), note=note)
    return seal


def resume_seal(ctx: ServiceContext, actor: Actor, code: str, note: str = "") -> Seal:
    """恢复: release the hold; removeFromCRL on the next delta CRL, absent from the next full CRL."""
    require(actor.name, actor.roles, Permission.SEAL_SUSPEND)
    now = ctx.clock.now()
    with ctx.transaction() as session:
        seal = find_seal(session, code)
        if seal.status is not SealStatus.SUSPENDED:
            raise InvalidTransition(
                M(
                    "revocation.seal_only_suspended_seal",
                    "seal {es_id} is {status}; only a suspended seal can be resumed",
                    "印章 {es_id} 为{status}；只有已停用的印章才能恢复",
                ),
                es_id=seal.es_id,
                status=seal.status.value,
            )
        for cert in seal.certificates:
            if cert.status is CertificateStatus.HOLD:
                unlist_certificate(ctx, session, cert, now)
        seal.status, seal.revoked_at, seal.revocation_reason = SealStatus.ACTIVE, None, None
        audit.record(session, ctx, actor, "seal.resumed", "seal", seal.es_id, at=now.isoformat(), note=note)
    return seal


# ------------------------------------------------------------------------------------------------
# Our own CA certificates (listed on the root's CRL)


def revoke_authority(ctx: ServiceContext, actor: Actor, name: str, reason: str) -> Authority:
    """Revoke an issuing CA or seal-maker certificate: it goes on the root's CRL, and the authority
    stops issuing at once. A root is retired by withdrawing it from trust lists, not by a CRL."""
    require(actor.name, actor.roles, Permission.CA_MANAGE)
    why = parse_reason(reason, CA_REASONS)
    now = ctx.clock.now()
    with ctx.transaction() as session:
        auth = session.scalar(select(Authority).where(Authority.name == name))
        if auth is None:
            raise NotFound(
                M("revocation.no_authority_named", "no authority named {name}", "没有名为 {name} 的机构"),
                name=f"{name!r}",
            )
        if auth.parent_id is None:
            raise ValidationError(
                M(
                    "revocation.root_ca_remove_it",
                    "{name} is a root CA: remove it from the trust lists instead of revoking it",
                    "{name} 是根 CA：请将其从信任列表中移除，而不是吊销",
                ),
                name=name,
            )
        cert = session.scalar(
            select(Certificate).where(Certificate.issuer_id == auth.parent_id, Certificate.serial == auth.serial)
        )
        if cert is None:
            raise NotFound(
                M(
                    "revocation.certificate_record",
                    "the certificate of {name} is not on record",
                    "没有 {name} 的证书记录",
                ),
                name=name,
            )
        if cert.status is CertificateStatus.REVOKED:
            raise InvalidTransition(
                M(
                    "revocation.certificate_already_revoked",
                    "the certificate of {name} is already revoked",
                    "{name} 的证书已被吊销",
                ),
                name=name,
            )
        list_certificate(ctx, session, cert, why, now)
        auth.active = False
        audit.record(
            session,
            ctx,
            actor,
            "authority.revoked",
            "authority",
            name,
            reason=why.rfc_name,
            serial=cert.serial,
            revoked_at=now.isoformat(),
        )
    ctx.forget(("authority", name))
    return auth


# ------------------------------------------------------------------------------------------------
# Licence events (design.md §3)

_AFFILIATION_FIELDS = ("name", "legal_representative", "entity_type")


@dataclass(frozen=True)
class LicenceEffect:
    """What a licence event does to the enterprise's seals: the one rule that both applies the
    event (:func:`apply_licence_event`) and previews it (licences.preview_status_change)."""

    reason: CrlReason
    reissue: bool  # a re-issue application per seal of the right type, see :meth:`reissues`
    seals: list[Seal]  # every seal not revoked yet (active, suspended, expired), oldest first

    def reissues(self, seal: Seal, now: dt.datetime) -> bool:
        return self.reissue and now <= seal.valid_end


def licence_event_effect(
    session: Session, enterprise_id: int, status_after: LicenceStatus, changed: Collection[str]
) -> LicenceEffect | None:
    """The effect of a licence change (``changed``: the fields that change; ``status_after``: the
    licence status once it is applied) on the enterprise's seals, or None when it has none:

    * cancelled / revoked licence (注销, 吊销) → every seal revoked, cessationOfOperation;
    * name, legal representative or entity type changed → every seal revoked, affiliationChanged,
      and a re-issue application opened per seal type (the seals' names and pictures are wrong now);
    * anything else (address ...) → no effect on seals.
    """
    if "status" in changed and status_after is not LicenceStatus.ACTIVE:
        reason, reissue = CrlReason.CESSATION_OF_OPERATION, False
    elif any(f in changed for f in _AFFILIATION_FIELDS) and status_after is LicenceStatus.ACTIVE:
        reason, reissue = CrlReason.AFFILIATION_CHANGED, True
    else:
        return None
    seals = session.scalars(
        select(Seal).where(Seal.enterprise_id == enterprise_id, Seal.status != SealStatus.REVOKED).order_by(Seal.id)
    ).all()
    return LicenceEffect(reason, reissue, list(seals))


class SealsChanged(Conflict):
    """The seals a licence event would revoke are not the ones the person confirming was shown."""

    def __init__(self, expected: Collection[str], actual: Collection[str]) -> None:
        self.expected, self.actual = sorted(expected), sorted(actual)
        added = sorted(set(actual) - set(expected))
        gone = sorted(set(expected) - set(actual))
        if added and gone:
            message = M(
                "revocation.seals_changed_both",
                "the seals this change would revoke are not the ones confirmed: now also {added}; "
                "no longer {gone}; nothing was changed",
                "此变更将吊销的印章与确认时所示不同：新增 {added}；不再包括 {gone}；未作任何更改",
            )
        elif added:
            message = M(
                "revocation.seals_changed_added",
                "the seals this change would revoke are not the ones confirmed: now also {added}; nothing was changed",
                "此变更将吊销的印章与确认时所示不同：新增 {added}；未作任何更改",
            )
        else:
            message = M(
                "revocation.seals_changed_gone",
                "the seals this change would revoke are not the ones confirmed: no longer {gone}; nothing was changed",
                "此变更将吊销的印章与确认时所示不同：不再包括 {gone}；未作任何更改",
            )
        super().__init__(message, added=", ".join(added), gone=", ".join(gone))


def apply_licence_event(
    session: Session,
    ctx: ServiceContext,
    actor: Actor,
    ent: Enterprise,
    changes: dict[str, list[object]],
    source: str,
    expect: Collection[str] | None = None,
) -> list[str]:
    """Apply the effect of a licence change on the enterprise's seals (:func:`licence_event_effect`),
    inside the caller's transaction; returns the esIDs revoked. With ``expect`` (the esIDs a
    preview showed), a different set raises :class:`SealsChanged` before anything is revoked."""
    now = ctx.clock.now()
    effect = licence_event_effect(session, ent.id, ent.status, changes)
    if expect is not None:
        actual = [s.es_id for s in effect.seals] if effect is not None else []
        if set(actual) != set(expect):
            raise SealsChanged(expect, actual)
    if effect is None:
        return []
    revoked = []
    for seal in effect.seals:
        revoke_seal_in(session, ctx, actor, seal, effect.reason, now, licence_event=source, changed=sorted(changes))
        revoked.append(seal.es_id)
        if effect.reissues(seal, now):
            holder = next((c for c in seal.certificates if c.kind == "holder"), None)
            if holder is None:
                continue
            from ..pki.x509 import Certificate as X509Certificate

            app = SealApplication(
                enterprise_id=ent.id,
                seal_type=seal.seal_type,
                algorithm=seal.algorithm,
                state=ApplicationState.SUBMITTED,
                channel="reissue",
                public_key_spki=X509Certificate.from_der(holder.der).spki,
                csr_der=None,
                picture_png=None,
                submitted_by=actor.name,
                submitted_at=now,
            )
            session.add(app)
            session.flush()
            audit.record(
                session,
                ctx,
                actor,
                "application.submitted",
                "application",
                app.id,
                uscc=ent.uscc,
                seal_type=seal.seal_type.code,
                channel="reissue",
                replaces=seal.es_id,
            )
    return revoked
