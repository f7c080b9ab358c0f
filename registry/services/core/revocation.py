"""Revocation inside a caller's transaction: the only place CRL listings change. Every change to a
listing writes the pre-encoded CRL entry and a change-log event, and re-signs the certificate's OCSP
responses, in that transaction, so the next CRL and the responder can never miss it. The use cases
(revoke, suspend, resume, licence events, loss reports, renewal) are :mod:`registry.services.revocation`,
:mod:`registry.services.licences`, :mod:`registry.services.revocation` (the portal's loss reports) and
:mod:`registry.services.renewal`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from ...db.models import Certificate, Enterprise, Revocation, RevocationEvent, Seal, SealApplication
from ...domain.errors import Conflict, InvalidTransition, M
from ...domain.states import ApplicationState, CertificateStatus, LicenceStatus, SealStatus
from ...pki import crl
from ...pki.crl import CrlReason
from ...pki.x509 import Certificate as X509Certificate
from . import ocsp
from .seals import holder_certificate
from .tx import Tx

__all__ = [
    "LicenceEffect",
    "SealsChanged",
    "apply_licence_event",
    "licence_event_effect",
    "list_certificate",
    "revoke_seal_in",
    "unlist_certificate",
]


# ------------------------------------------------------------------------------------------------
# Certificate level: the only place CRL listings change


def _serial_int(cert: Certificate) -> int:
    return int(cert.serial, 16)


def list_certificate(
    tx: Tx,
    cert: Certificate,
    reason: CrlReason,
    at: dt.datetime,
    invalidity_date: dt.datetime | None = None,
) -> None:
    """Put ``cert`` on its issuer's CRLs (revoked, or on hold with certificateHold), and re-sign its
    OCSP responses, in the caller's transaction."""
    session = tx.session
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
    ocsp.on_status_change(tx, cert, at)


def unlist_certificate(tx: Tx, cert: Certificate, at: dt.datetime) -> None:
    """Release ``cert`` from hold: gone from the next full CRL, removeFromCRL on the next delta."""
    session = tx.session
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
    ocsp.on_status_change(tx, cert, at)


# ------------------------------------------------------------------------------------------------
# Seal level


def revoke_seal_in(
    tx: Tx,
    seal: Seal,
    reason: CrlReason,
    at: dt.datetime,
    invalidity_date: dt.datetime | None = None,
    **details: Any,
) -> None:
    """Revoke ``seal`` inside the caller's transaction, by its actor (the revocation use cases,
    renewal, loss reports and licence events use this)."""
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
            list_certificate(tx, cert, reason, at, invalidity_date or hold_start)
    seal.status = SealStatus.REVOKED
    seal.revoked_at = at
    seal.revocation_reason = reason.rfc_name
    tx.audit(
        "seal.revoked",
        "seal",
        seal.es_id,
        reason=reason.rfc_name,
        revoked_at=at.isoformat(),
        was_suspended=was_held,
        invalidity_date=invalid_from.isoformat() if (invalid_from := invalidity_date or hold_start) else None,
        certificates=[c.serial for c in seal.certificates],
        **details,
    )


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
    tx: Tx, enterprise_id: int, status_after: LicenceStatus, changed: Collection[str]
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
    seals = tx.session.scalars(
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
    tx: Tx,
    ent: Enterprise,
    changes: dict[str, list[object]],
    source: str,
    expect: Collection[str] | None = None,
) -> list[str]:
    """Apply the effect of a licence change on the enterprise's seals (:func:`licence_event_effect`),
    inside the caller's transaction; returns the esIDs revoked. With ``expect`` (the esIDs a
    preview showed), a different set raises :class:`SealsChanged` before anything is revoked."""
    session, actor, now = tx.session, tx.actor, tx.ctx.clock.now()
    effect = licence_event_effect(tx, ent.id, ent.status, changes)
    if expect is not None:
        actual = [s.es_id for s in effect.seals] if effect is not None else []
        if set(actual) != set(expect):
            raise SealsChanged(expect, actual)
    if effect is None:
        return []
    revoked = []
    for seal in effect.seals:
        revoke_seal_in(tx, seal, effect.reason, now, licence_event=source, changed=sorted(changes))
        revoked.append(seal.es_id)
        if effect.reissues(seal, now):
            holder = holder_certificate(seal)
            if holder is None:
                continue
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
            tx.audit(
                "application.submitted",
                "application",
                app.id,
                uscc=ent.uscc,
                seal_type=seal.seal_type.code,
                channel="reissue",
                replaces=seal.es_id,
            )
    return revoked
