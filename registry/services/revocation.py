"""Revocation, suspension and resumption of seals and of our own CA certificates, and the effect
of licence events (design.md §3). Each use case is one transaction with its audit events; every
change to a CRL listing writes the pre-encoded entry and a change-log event in that transaction, so
the next CRL can never miss it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Authority, Certificate, Seal
from ..domain.errors import InvalidTransition, M, NotFound, ValidationError
from ..domain.roles import Permission, require
from ..domain.states import CertificateStatus, SealStatus
from ..pki.crl import CrlReason
from .context import Actor, ServiceContext
from .core import revocation as core_revocation
from .core.revocation import LicenceEffect as LicenceEffect
from .core.revocation import SealsChanged as SealsChanged
from .core.revocation import list_certificate as _list_certificate
from .core.revocation import revoke_seal_in, unlist_certificate
from .core.seals import SealFiles as SealFiles
from .core.seals import find_seal
from .core.tx import begin, joined
from .portal_access import Principal, seal_for

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


def list_certificate(
    ctx: ServiceContext,
    session: Session,
    cert: Certificate,
    reason: CrlReason,
    at: dt.datetime,
    invalidity_date: dt.datetime | None = None,
) -> None:
    """:func:`registry.services.core.revocation.list_certificate` for a caller holding a bare
    session (the tests)."""
    _list_certificate(joined(ctx, session), cert, reason, at, invalidity_date)


# ------------------------------------------------------------------------------------------------
# Seals


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
    with begin(ctx, actor) as tx:
        seal = find_seal(tx, code)
        revoke_seal_in(tx, seal, why, now, invalidity_date)
    return seal


def suspend_seal(ctx: ServiceContext, actor: Actor, code: str, note: str = "") -> Seal:
    """停用: the holder certificates go on hold (certificateHold) until resumed or revoked."""
    require(actor.name, actor.roles, Permission.SEAL_SUSPEND)
    now = ctx.clock.now()
    with begin(ctx, actor) as tx:
        seal = find_seal(tx, code)
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
                _list_certificate(tx, cert, CrlReason.CERTIFICATE_HOLD, now)
        seal.status, seal.revoked_at, seal.revocation_reason = SealStatus.SUSPENDED, now, "certificateHold"
        tx.audit("seal.suspended", "seal", seal.es_id, at=now.isoformat(), note=note)
    return seal


def resume_seal(ctx: ServiceContext, actor: Actor, code: str, note: str = "") -> Seal:
    """恢复: release the hold; removeFromCRL on the next delta CRL, absent from the next full CRL."""
    require(actor.name, actor.roles, Permission.SEAL_SUSPEND)
    now = ctx.clock.now()
    with begin(ctx, actor) as tx:
        seal = find_seal(tx, code)
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
                unlist_certificate(tx, cert, now)
        seal.status, seal.revoked_at, seal.revocation_reason = SealStatus.ACTIVE, None, None
        tx.audit("seal.resumed", "seal", seal.es_id, at=now.isoformat(), note=note)
    return seal


# ------------------------------------------------------------------------------------------------
# Our own CA certificates (listed on the root's CRL)


def revoke_authority(ctx: ServiceContext, actor: Actor, name: str, reason: str) -> Authority:
    """Revoke an issuing CA or seal-maker certificate: it goes on the root's CRL, and the authority
    stops issuing at once. A root is retired by withdrawing it from trust lists, not by a CRL."""
    require(actor.name, actor.roles, Permission.CA_MANAGE)
    why = parse_reason(reason, CA_REASONS)
    now = ctx.clock.now()
    with begin(ctx, actor) as tx:
        session = tx.session
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
        _list_certificate(tx, cert, why, now)
        auth.active = False
        tx.audit(
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
# An enterprise reporting its seal lost, or cancelling it, in the portal


# RFC 5280 §5.3.1. Loss or compromise of the holder's key (挂失) is keyCompromise (design.md §3).
# A seal the enterprise no longer needs is cessationOfOperation: RFC 5280 §5.3.1 and X.509 §9.6.3.2
# define it as "the certificate is no longer needed for the purpose for which it was issued, but there
# is no cause to suspect that the private key has been compromised" — exactly a voluntary 注销 of a
# seal. Not affiliationChanged (nothing about the holder changed), not superseded (nothing replaces
# it), not privilegeWithdrawn (the authority did not withdraw anything).
LOSS_REASON = CrlReason.KEY_COMPROMISE
CANCEL_REASON = CrlReason.CESSATION_OF_OPERATION


class ConfirmationMismatch(ValidationError):
    """The code typed to confirm is not the seal's code."""


def _confirmed(seal: Seal, confirm: str) -> None:
    if (confirm or "").strip().upper() != seal.es_id.upper():
        raise ConfirmationMismatch(
            M(
                "portal.confirm_mismatch",
                "the code typed to confirm does not match the seal's code {code}",
                "确认时输入的编码与印章编码 {code} 不一致",
            ),
            code=seal.es_id,
        )


def report_loss(ctx: ServiceContext, principal: Principal, es_id: str, confirm: str) -> Seal:
    """挂失: the seal is revoked at once with reason keyCompromise. The CRL entry and the change-log
    event are written in this transaction (as for a revocation by staff), so the CRL publisher lists
    it within ``REGISTRY_CRL_PUBLISH_INTERVAL`` seconds and OCSP answers ``revoked`` from now on."""
    now = ctx.clock.now()
    with begin(ctx, principal.actor) as tx:
        seal = seal_for(tx, principal, es_id, "hold")
        _confirmed(seal, confirm)
        core_revocation.revoke_seal_in(tx, seal, LOSS_REASON, now, channel="portal", request="loss")
    return seal


def cancel_seal(ctx: ServiceContext, principal: Principal, es_id: str, confirm: str) -> Seal:
    """注销 a seal the enterprise no longer needs: revoked with reason cessationOfOperation."""
    now = ctx.clock.now()
    with begin(ctx, principal.actor) as tx:
        seal = seal_for(tx, principal, es_id, "manage")
        _confirmed(seal, confirm)
        if seal.status is not SealStatus.REVOKED and now > seal.valid_end:
            raise InvalidTransition(
                M(
                    "portal.cancel_expired",
                    "seal {code} expired on {date}; there is nothing to cancel",
                    "印章 {code} 已于 {date} 到期，无需注销",
                ),
                code=seal.es_id,
                date=f"{seal.valid_end:%Y-%m-%d}",
            )
        core_revocation.revoke_seal_in(tx, seal, CANCEL_REASON, now, channel="portal", request="cancel")
    return seal
