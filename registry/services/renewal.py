"""Renewing a seal (重新制作), its own use case: a new seal for the same enterprise and type, with the
same picture and, unless another key is given, the same holder key; the old seal is revoked as
superseded and its grants carried over, in the issuance's one write transaction
(:func:`registry.services.core.issuance.write`). A renewal is approved by policy (design.md §3),
so no second person is asked: the staff's renewal needs ``seal.issue``; the enterprise's
(:func:`renew_own_seal`, below) needs the legal representative or a ``manage``
grant, checked by :mod:`registry.services.portal_access`. Both build the request with
:func:`renewal_request` and call the issuance block directly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..db.models import Seal
from ..domain.errors import InvalidTransition, M, ValidationError
from ..domain.roles import Permission, require
from ..domain.states import SealStatus, label_of
from ..pki import x509
from . import application_intake
from .context import Actor, ServiceContext
from .core import issuance
from .core.issuance import IssueRequest, IssueResult, KeyMaterial, issue
from .core.pictures import seal_picture
from .core.seals import SealFiles as SealFiles
from .core.seals import find_seal, require_holder, seal_by_code
from .core.tx import reading
from .portal_access import Principal, seal_for

__all__ = ["renew_seal", "renewal_request", "renewal_key_algorithm"]


def renew_seal(ctx: ServiceContext, actor: Actor, code: str, key: KeyMaterial | None = None) -> IssueResult:
    """Re-make a seal (重新制作): a new seal for the same enterprise and type, with the same picture
    and, unless another key is given, the same holder key; the old seal is revoked as superseded in
    the same transaction. Approved by policy, so it needs no second person."""
    require(actor.name, actor.roles, Permission.SEAL_ISSUE)
    with reading(ctx, actor) as tx:
        req = renewal_request(find_seal(tx, code), key)
    return issue(ctx, actor, [req])[0]


def renewal_request(old: Seal, key: KeyMaterial | None = None, *, require_uscc_in_csr: bool = False) -> IssueRequest:
    """The request that re-makes ``old`` (read in an open session): same enterprise, type and
    picture; the same holder key unless ``key`` brings another. The caller checks who may ask."""
    if old.status is SealStatus.REVOKED:
        raise InvalidTransition(
            M(
                "seal.seal_revoked_revoked_seal",
                "seal {es_id} is revoked; a revoked seal cannot be renewed (apply for a new one)",
                "印章 {es_id} 已吊销；已吊销的印章不能续期（请申请新印章）",
            ),
            es_id=old.es_id,
        )
    holder = require_holder(old)
    uscc, seal_type, png, alg = old.enterprise.uscc, old.seal_type.code, seal_picture(old).data, old.algorithm
    same_key = x509.Certificate.from_der(holder.der).public_key.pem().encode()
    key = (
        key
        if key is not None and (key.csr or key.public_key_pem or key.generate)
        else KeyMaterial(public_key_pem=same_key)
    )
    # a new key stays on the old seal's hierarchy unless the request brings its own key
    return IssueRequest(
        uscc=uscc,
        seal_type=seal_type,
        key=key,
        operator="",
        approver="",
        picture_png=png,
        channel="renewal",
        renewal_of=old.es_id,
        require_uscc_in_csr=require_uscc_in_csr,
        algorithm=alg.value if key.generate else None,
    )


def renewal_key_algorithm(ctx: ServiceContext, code: str) -> str:
    """The algorithm of a new holder key made for renewing seal ``code``: a new key stays on the
    seal's hierarchy (as :func:`renewal_request` does for a key it is asked to generate)."""
    with ctx.reader() as session:
        return seal_by_code(session, code).algorithm.value


# ------------------------------------------------------------------------------------------------
# The enterprise's own renewal, in the portal (its `manage` grant, not the staff's seal.issue)


def renewal_opens(ctx: ServiceContext, seal: Seal) -> dt.datetime:
    return seal.valid_end - dt.timedelta(days=ctx.settings.renewal_window_days)


def renew_own_seal(
    ctx: ServiceContext, principal: Principal, es_id: str, csr: bytes | None = None
) -> issuance.IssueResult:
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
    if csr is not None and len(csr) > application_intake.MAX_CSR_BYTES:
        raise ValidationError(application_intake.CSR_TOO_LARGE, kb=application_intake.MAX_CSR_BYTES // 1024)
    with reading(ctx, principal.actor) as tx:
        seal = seal_for(tx, principal, es_id, "manage")
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
        opens = renewal_opens(ctx, seal)
        if now < opens:
            raise RenewalNotOpen(seal.es_id, seal.valid_end, opens, ctx.settings.renewal_window_days)
        req = renewal_request(
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
