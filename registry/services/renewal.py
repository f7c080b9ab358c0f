"""Renewing a seal (重新制作), its own use case: a new seal for the same enterprise and type, with the
same picture and, unless another key is given, the same holder key; the old seal is revoked as
superseded and its grants carried over, in the issuance's one write transaction
(:func:`registry.services.core.issuance.write`). A renewal is approved by policy (design.md §3),
so no second person is asked: the staff's renewal needs ``seal.issue``; the enterprise's
(:func:`registry.services.portal_seals.renew`) needs the legal representative or a ``manage``
grant, checked by :mod:`registry.services.portal_access`. Both build the request with
:func:`renewal_request` and call the issuance block directly."""

from __future__ import annotations

from ..db.models import Seal
from ..domain.errors import InvalidTransition, M
from ..domain.roles import Permission, require
from ..domain.states import SealStatus
from ..pki import x509
from .context import Actor, ServiceContext
from .core.issuance import IssueRequest, IssueResult, KeyMaterial, issue
from .core.pictures import seal_picture
from .core.seals import find_seal, require_holder, seal_by_code
from .core.tx import reading

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
