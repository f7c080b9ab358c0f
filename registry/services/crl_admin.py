"""The back office's CRL page: what is published, what is stale, what waits to be published.

Publishing itself is :func:`registry.services.crl_publish.publish` (Permission.CRL_PUBLISH), the
same call as ``registry crl publish`` and the publisher daemon.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..domain.errors import M, PermissionDenied
from ..domain.roles import Permission, permissions_of
from . import crl_index, crl_publish
from .context import Actor, ServiceContext

__all__ = ["CrlOverview", "overview"]

VIEW = frozenset({Permission.SEAL_VIEW, Permission.CRL_PUBLISH})


@dataclass(frozen=True)
class CrlOverview:
    now: dt.datetime
    crls: list[crl_index.CrlInfo]  # the newest CRL at every path, by issuer, kind, shard
    unpublished: list[str]  # CRL issuers that have never published a full CRL
    pending: list[str]  # issuers with a change not on their CRLs yet, or past half validity

    @property
    def stale(self) -> int:
        return sum(1 for c in self.crls if c.stale)


def overview(ctx: ServiceContext, actor: Actor) -> CrlOverview:
    """Anyone who may look at seals (or publish CRLs) may see the CRLs: they are public anyway."""
    if not (VIEW & permissions_of(actor.roles)):
        raise PermissionDenied(
            M(
                "crl_admin.may_view_crls_needs",
                "{actor} may not view the CRLs (needs a role that grants {seal_view} or {crl_publish})",
                "{actor} 无权查看 CRL（需要具有 {seal_view} 或 {crl_publish} 权限的角色）",
            ),
            actor=actor.name,
            seal_view=Permission.SEAL_VIEW.value,
            crl_publish=Permission.CRL_PUBLISH.value,
        )
    now = ctx.clock.now()
    crls = crl_index.latest(ctx, now)
    full = {c.issuer for c in crls if c.kind == "full"}
    issuers = crl_publish.crl_issuers(ctx)
    return CrlOverview(now, crls, [n for n in issuers if n not in full], crl_publish.pending(ctx))
