"""The enterprise portal's seal use cases: apply (the standard set or a single seal, each with the
holder's CSR and a drawn or uploaded picture), read one seal and download it, renew it within the
window before it expires, report it lost or compromised, cancel it.

Who may do what is decided by :mod:`registry.services.portal_access` alone: every seal is looked up
with :func:`~registry.services.portal_access.seal_for`, so another enterprise's seal (or one of ours
not granted to this person) is *not found*, whatever the code typed. Holders (``hold``) may report
loss; renewing and cancelling need ``manage``; the legal representative can do everything and is
the only one who applies. A refused request writes nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..db.models import Enterprise, Seal
from ..domain.errors import Conflict, InvalidTransition, M, NotFound, ValidationError
from ..domain.seal_types import SealType
from ..domain.states import LicenceStatus, SealStatus, label_of
from ..messages import Localized
from ..pki.crl import CrlReason
from . import applications, renewal
from .context import ServiceContext
from .core import issuance, pictures
from .core import revocation as core_revocation
from .core import seals as core_seals
from .core.seals import SealFiles as SealFiles
from .core.seals import holder_certificate
from .core.tx import begin, reading
from .portal_access import Principal, authority_over, require_legal_representative, seal_for

__all__ = [
    "ApplyItem",
    "ApplicationRefused",
    "apply",
    "check_application",
    "preview_picture",
    "picture_problems",
    "seal_detail",
    "seal_picture",
    "SealFiles",
    "seal_files",
    "renew",
    "RenewalNotOpen",
    "report_loss",
    "cancel",
    "ConfirmationMismatch",
    "LOSS_REASON",
    "CANCEL_REASON",
    "MAX_CSR_BYTES",
]

MAX_CSR_BYTES = 64 * 1024

# RFC 5280 §5.3.1. Loss or compromise of the holder's key (挂失) is keyCompromise (design.md §3).
# A seal the enterprise no longer needs is cessationOfOperation: RFC 5280 §5.3.1 and X.509 §9.6.3.2
# define it as "the certificate is no longer needed for the purpose for which it was issued, but there
# is no cause to suspect that the private key has been compromised" — exactly a voluntary 注销 of a
# seal. Not affiliationChanged (nothing about the holder changed), not superseded (nothing replaces
# it), not privilegeWithdrawn (the authority did not withdraw anything).
LOSS_REASON = CrlReason.KEY_COMPROMISE
CANCEL_REASON = CrlReason.CESSATION_OF_OPERATION


# ------------------------------------------------------------------------------------------------
# Applying


@dataclass(frozen=True)
class ApplyItem:
    """One seal to apply for: its type, the holder's PKCS#10 request, and an uploaded PNG (None: the
    standard picture drawn from the licence data, as previewed)."""

    seal_type: str
    csr: bytes
    picture_png: bytes | None = None


@dataclass(frozen=True)
class _Problem:
    """One refused item in the summary message: ``02: why`` in either language."""

    code: str
    error: BaseException

    def label(self, lang: str) -> str:
        why = self.error.text(lang) if isinstance(self.error, Localized) else str(self.error)
        return f"{self.code}: {why}"


class ApplicationRefused(ValidationError):
    """One or more items were refused; ``problems`` maps each refused item's type code to why (a
    coded, bilingual error: show it with ``error.text(lang)``)."""

    def __init__(self, problems: dict[str, Localized]) -> None:
        super().__init__(
            M("portal.apply_refused", "nothing was submitted: {problems}", "申请均未提交：{problems}"),
            problems=[_Problem(code, why) for code, why in problems.items()],
        )
        self.problems = problems


@functools.lru_cache(maxsize=64)
def _drawn(seal_font: str | None, name: str, legal_representative: str, code: str, uscc: str) -> bytes:
    # ~0.1 s a picture; the apply page asks for the same few again and again. Bounded, per process,
    # and derived only from its arguments, so nothing another worker needs is held here.
    return pictures.draw_picture(seal_font, name, legal_representative, SealType(code), uscc)


_NO_LICENCE = M("portal.no_licence", "no licence on record for this enterprise", "没有本企业的执照记录")
_CSR_TOO_LARGE = M("portal.csr_too_large", "the certificate request is larger than {kb} KB", "证书请求大于 {kb} KB")


def _licence(ctx: ServiceContext, principal: Principal) -> tuple[str, str, str]:
    with ctx.reader() as s:
        ent = s.get(Enterprise, principal.enterprise_id)
        if ent is None:
            raise NotFound(_NO_LICENCE)
        return ent.name, ent.legal_representative, ent.status.value


def preview_picture(ctx: ServiceContext, principal: Principal, seal_type: str) -> bytes:
    """The picture a seal of this type would carry if no PNG is uploaded, drawn from the licence
    data on record now (so what the legal representative sees is what is issued)."""
    require_legal_representative(principal, "apply for seals")
    st = SealType.parse(seal_type)
    name, rep, _status = _licence(ctx, principal)
    return _drawn(ctx.settings.seal_font, name, rep, st.code, principal.uscc)


def picture_problems(ctx: ServiceContext, principal: Principal) -> dict[str, Localized]:
    """For each seal type whose standard picture cannot be drawn from this enterprise's licence
    (e.g. a name too long for the ring, a legal representative's name that is not 2 to 4
    characters), why: the apply form says so in that seal's block and asks for an uploaded PNG."""
    require_legal_representative(principal, "apply for seals")
    name, rep, _status = _licence(ctx, principal)
    return {
        st.code: ValidationError(pictures.CANNOT_DRAW, why=why)
        for st, why in pictures.licence_picture_problems(ctx.settings.seal_font, name, rep, principal.uscc).items()
    }


_SAME_KEY = M(
    "portal.same_key",
    "this certificate request carries the same key as the one for {others}: use one key per seal",
    "此证书请求的密钥与{others}的相同：每枚印章须使用各自的密钥",
)


def check_application(
    ctx: ServiceContext, principal: Principal, items: list[ApplyItem]
) -> tuple[dict[str, Localized], list[SealType]]:
    """Every problem of every item, in one pass (nothing is written): a missing or oversized CSR,
    one that does not carry the USCC or fails proof of possession, a picture that is not an
    acceptable PNG, a standard picture that cannot be drawn, and two seals with the same key (one
    key per seal). Returns the problems by type code and the parsed types."""
    require_legal_representative(principal, "apply for seals")
    if not items:
        raise ValidationError(M("portal.nothing_chosen", "choose at least one seal to apply for", "请至少选择一种印章"))
    name, rep, status = _licence(ctx, principal)
    if status != LicenceStatus.ACTIVE.value:
        raise Conflict(
            M(
                "portal.licence_not_active",
                "the licence of {uscc} is {status}: no new applications",
                "{uscc} 的执照状态为“{status}”，不能提出新的申请",
            ),
            uscc=principal.uscc,
            status=LicenceStatus(status),
        )
    problems: dict[str, Localized] = {}
    types: list[SealType] = []
    keys: dict[str, list[str]] = {}
    for item in items:
        try:
            st = SealType.parse(item.seal_type)
        except ValidationError as exc:
            problems[str(item.seal_type)[:8]] = exc
            continue
        if st in types:
            problems[st.code] = ValidationError(
                M("portal.type_twice", "seal type {code} is asked for twice", "印章类型 {code} 申请了两次"),
                code=st.code,
            )
            continue
        types.append(st)
        try:
            if not item.csr:
                raise ValidationError(
                    M(
                        "portal.csr_needed",
                        "a certificate request (CSR) is needed for this seal",
                        "此印章需要上传证书请求（CSR）",
                    )
                )
            if len(item.csr) > MAX_CSR_BYTES:
                raise ValidationError(_CSR_TOO_LARGE, kb=MAX_CSR_BYTES // 1024)
            pub, _csr_der, _none = issuance.resolve_key(
                issuance.IssueRequest(
                    uscc=principal.uscc,
                    seal_type=st.code,
                    key=issuance.KeyMaterial(csr=item.csr),
                    operator="",
                    approver="",
                    channel="portal",
                    require_uscc_in_csr=True,
                ),
                principal.uscc,
            )
            keys.setdefault(pub.fingerprint(), []).append(st.code)
        except ValidationError as exc:
            problems[st.code] = exc
        try:  # the picture is checked too, whatever became of the CSR: every problem at once
            if item.picture_png is not None:
                pictures.check_picture(ctx, item.picture_png)
            else:
                _drawn(ctx.settings.seal_font, name, rep, st.code, principal.uscc)
        except ValidationError as exc:
            if st.code in problems:
                problems[st.code] = ValidationError(
                    M("portal.two_problems", "{first}; also {second}", "{first}；另外，{second}"),
                    first=problems[st.code],
                    second=exc,
                )
            else:
                problems[st.code] = exc
    for codes in keys.values():
        if len(codes) > 1:
            by_code = {t.code: t for t in types}
            for code in codes:
                others = [by_code[c].named for c in codes if c != code]
                problems.setdefault(code, ValidationError(_SAME_KEY, others=others))
    return problems, types


def apply(ctx: ServiceContext, principal: Principal, items: list[ApplyItem]) -> list[int]:
    """Submit one application per item, all or nothing (the standard set of four goes in one
    transaction). Each CSR must carry the enterprise's USCC and verify under its own key (proof of
    possession), and each seal has its own key; each uploaded picture must be a real PNG within the
    size limit; a drawn picture must be drawable (every character in the seal font). Every item is
    checked before anything is written, and all the problems are reported at once
    (:class:`ApplicationRefused`, see :func:`check_application`)."""
    problems, types = check_application(ctx, principal, items)
    if problems:
        raise ApplicationRefused(problems)
    app_items = [
        applications.Item(t.code, issuance.KeyMaterial(csr=i.csr), i.picture_png)
        for t, i in zip(types, items, strict=True)
    ]
    try:
        return applications.submit_many(ctx, principal.actor, uscc=principal.uscc, items=app_items, channel="portal")
    except applications.ItemRefused as exc:
        raise ApplicationRefused({exc.seal_type: exc}) from None


# ------------------------------------------------------------------------------------------------
# Reading and downloading


def _renewal_opens(ctx: ServiceContext, seal: Seal) -> dt.datetime:
    return seal.valid_end - dt.timedelta(days=ctx.settings.renewal_window_days)


def seal_detail(ctx: ServiceContext, principal: Principal, es_id: str) -> dict[str, Any]:
    """What the seal page shows: the seal, its status and validity, its holder certificate, what
    this person may do with it and whether renewal is open now."""
    now = ctx.clock.now()
    with ctx.reader() as s:
        seal = seal_for(s, principal, es_id, "view")
        authority = authority_over(s, principal, seal)
        status = seal.effective_status(now)
        holder = holder_certificate(seal)
        successor = (
            s.scalar(select(Seal.es_id).where(Seal.id == seal.superseded_by_id))
            if seal.superseded_by_id is not None
            else None
        )
        predecessor = s.scalar(
            select(Seal.es_id).where(Seal.superseded_by_id == seal.id, Seal.enterprise_id == principal.enterprise_id)
        )
        opens = _renewal_opens(ctx, seal)
        return {
            "es_id": seal.es_id,
            "name": seal.name,
            "seal_type": seal.seal_type,
            "algorithm": seal.algorithm.value,
            "algorithm_label": "SM2/SM3" if seal.algorithm.value == "sm2" else "ECDSA P-256/SHA-256",
            "status": status,
            "valid_start": seal.valid_start,
            "valid_end": seal.valid_end,
            "created_at": seal.created_at,
            "revoked_at": seal.revoked_at if seal.status is not SealStatus.ACTIVE else None,
            "revocation_reason": seal.revocation_reason if seal.status is not SealStatus.ACTIVE else None,
            "superseded_by": successor,
            "replaces": predecessor,
            "enterprise": seal.enterprise.name,
            "uscc": seal.enterprise.uscc,
            "picture_mm": (seal.picture_width_mm, seal.picture_height_mm),
            "certificate": None
            if holder is None
            else {
                "serial": holder.serial.upper(),
                "issuer": holder.issuer.name,
                "subject": holder.subject,
                "not_before": holder.not_before,
                "not_after": holder.not_after,
                "status": holder.status.value,
                "key_sha256": holder.key_fingerprint,
            },
            "authority": authority,
            "can_manage": authority == "manage",
            "open": seal.status is not SealStatus.REVOKED,
            "renewal_opens": opens,
            "renewable_now": status == "active" and opens <= now <= seal.valid_end,
            "cancellable": seal.status is not SealStatus.REVOKED and status != "expired",
            "now": now,
        }


def seal_picture(ctx: ServiceContext, principal: Principal, es_id: str) -> bytes:
    """The PNG carried inside the seal."""
    with ctx.reader() as s:
        return pictures.seal_picture(seal_for(s, principal, es_id, "view")).data


def seal_files(ctx: ServiceContext, principal: Principal, es_id: str) -> SealFiles:
    """The files of a seal this principal may view (:func:`~registry.services.core.seals.seal_files`)."""
    with reading(ctx, principal.actor) as tx:
        seal = seal_for(tx.session, principal, es_id, "view")
        if holder_certificate(seal) is None:
            raise NotFound(_NO_HOLDER, code=seal.es_id)
        return core_seals.seal_files(tx, seal)


_NO_HOLDER = M(
    "portal.no_holder_certificate", "seal {code} has no holder certificate on record", "印章 {code} 没有签章人证书记录"
)


# ------------------------------------------------------------------------------------------------
# Renewing, reporting loss, cancelling


def renew(ctx: ServiceContext, principal: Principal, es_id: str, csr: bytes | None = None) -> issuance.IssueResult:
    """Re-make an active seal in the window before it expires (``REGISTRY_RENEWAL_WINDOW_DAYS``),
    with the same holder key or the key of a new CSR (the USCC in its subject, proof of possession
    checked). The new seal is issued, then the old one revoked as superseded — one transaction, in
    :func:`registry.services.core.issuance.issue`, called directly: the rule checked here is the
    enterprise's own (a ``manage`` grant, :func:`~registry.services.portal_access.seal_for`), not
    the staff's ``seal.issue``.

    Approved by policy, as every renewal is (:mod:`registry.services.renewal`, design.md §3): the enterprise,
    the type, the name and the picture are those two people checked when the seal was first issued,
    and the licence is checked active again at issuance; so no second person is asked."""
    now = ctx.clock.now()
    if csr is not None and len(csr) > MAX_CSR_BYTES:
        raise ValidationError(_CSR_TOO_LARGE, kb=MAX_CSR_BYTES // 1024)
    with ctx.reader() as s:
        seal = seal_for(s, principal, es_id, "manage")
        status = seal.effective_status(now)
        if status != "active":
            if status in ("revoked", "expired"):
                raise InvalidTransition(
                    M(
                        "portal.renew_gone",
                        "seal {code} is {status}; only an active seal can be renewed (apply for a new one)",
                        "印章 {code} {status}，只有有效的印章才能续期（请申请新印章）",
                    ),
                    code=seal.es_id,
                    status=_SealStatus(status),
                )
            raise InvalidTransition(
                M(
                    "portal.renew_not_active",
                    "seal {code} is {status}; only an active seal can be renewed",
                    "印章 {code} {status}，只有有效的印章才能续期",
                ),
                code=seal.es_id,
                status=_SealStatus(status),
            )
        opens = _renewal_opens(ctx, seal)
        if now < opens:
            raise RenewalNotOpen(seal.es_id, seal.valid_end, opens, ctx.settings.renewal_window_days)
        req = renewal.renewal_request(
            seal, issuance.KeyMaterial(csr=csr) if csr is not None else None, require_uscc_in_csr=True
        )
    return issuance.issue(ctx, principal.actor, [req])[0]


@dataclass(frozen=True)
class _SealStatus:
    """A seal's effective status (``expired`` included) as a message value: 已吊销 / revoked."""

    value: str

    def label(self, lang: str) -> str:
        text = label_of(self.value, SealStatus, lang)
        return f"状态为“{text}”" if lang == "zh" else text.lower()


class RenewalNotOpen(InvalidTransition):
    """Renewal is asked for before the window opens."""

    def __init__(self, es_id: str, valid_end: dt.datetime, opens: dt.datetime, days: int) -> None:
        super().__init__(
            M(
                "portal.renewal_not_open",
                "seal {code} is valid until {end}; it can be renewed from {opens} ({days} days before it expires)",
                "印章 {code} 有效期至 {end}，自 {opens} 起（到期前 {days} 天）可以续期",
            ),
            code=es_id,
            end=f"{valid_end:%Y-%m-%d}",
            opens=f"{opens:%Y-%m-%d}",
            days=days,
        )
        self.valid_end, self.opens, self.days = valid_end, opens, days


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
        s = tx.session
        seal = seal_for(s, principal, es_id, "hold")
        _confirmed(seal, confirm)
        core_revocation.revoke_seal_in(tx, seal, LOSS_REASON, now, channel="portal", request="loss")
    return seal


def cancel(ctx: ServiceContext, principal: Principal, es_id: str, confirm: str) -> Seal:
    """注销 a seal the enterprise no longer needs: revoked with reason cessationOfOperation."""
    now = ctx.clock.now()
    with begin(ctx, principal.actor) as tx:
        s = tx.session
        seal = seal_for(s, principal, es_id, "manage")
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
