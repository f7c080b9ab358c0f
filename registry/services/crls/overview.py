"""What has been published: the latest CRL at each path with its staleness (read-only), what a
health check must report, and the back office's CRL page (what is published, what is stale, what
waits to be published).

Publishing itself is :func:`registry.services.crls.publish.publish` (Permission.CRL_PUBLISH), the
same call as ``registry crl publish`` and the publisher daemon.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ...db.models import Authority, PublishedCrl
from ...domain.roles import Permission, require
from ..context import Actor, ServiceContext
from . import publish

__all__ = ["CrlInfo", "CrlOverview", "latest", "overview", "problems"]


@dataclass(frozen=True)
class CrlInfo:
    issuer: str
    algorithm: str
    kind: str
    shard: int | None
    number: int
    base_number: int | None
    path: str
    url: str
    this_update: dt.datetime
    next_update: dt.datetime
    entries: int
    size: int
    sha256: str
    stale: bool

    def as_json(self) -> dict[str, object]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["this_update"] = self.this_update.isoformat().replace("+00:00", "Z")
        d["next_update"] = self.next_update.isoformat().replace("+00:00", "Z")
        return d


@dataclass(frozen=True)
class CrlOverview:
    now: dt.datetime
    crls: list[CrlInfo]  # the newest CRL at every path, by issuer, kind, shard
    unpublished: list[str]  # CRL issuers that have never published a full CRL
    pending: list[str]  # issuers with a change not on their CRLs yet, or past half validity

    @property
    def stale(self) -> int:
        return sum(1 for c in self.crls if c.stale)


def latest(ctx: ServiceContext, now: dt.datetime | None = None) -> list[CrlInfo]:
    """The newest published CRL for every path, ordered by issuer, kind and shard."""
    now = now or ctx.clock.now()
    with ctx.reader() as session:
        newest = (
            select(func.max(PublishedCrl.number).label("n"), PublishedCrl.issuer_id)
            .group_by(PublishedCrl.issuer_id, PublishedCrl.path)
            .subquery()
        )
        rows = session.execute(
            select(PublishedCrl, Authority.name, Authority.algorithm)
            .join(newest, (PublishedCrl.issuer_id == newest.c.issuer_id) & (PublishedCrl.number == newest.c.n))
            .join(Authority, Authority.id == PublishedCrl.issuer_id)
        ).all()
    order = {"full": 0, "delta": 1, "shard": 2}
    out = [
        CrlInfo(
            name,
            alg.value,
            p.kind,
            p.shard,
            p.number,
            p.base_number,
            p.path,
            f"{ctx.settings.crl_base_url}/{p.path}",
            p.this_update,
            p.next_update,
            p.entries,
            p.size,
            p.sha256,
            p.next_update < now,
        )
        for p, name, alg in rows
    ]
    return sorted(out, key=lambda c: (c.issuer, order[c.kind], c.shard or 0))


def problems(ctx: ServiceContext, now: dt.datetime | None = None) -> list[str]:
    """Stale CRLs and CRL issuers that have never published: what a health check must report."""
    now = now or ctx.clock.now()
    items = latest(ctx, now)
    out = [f"{c.path} is past its nextUpdate ({c.next_update:%Y-%m-%d %H:%M}Z)" for c in items if c.stale]
    with ctx.reader() as session:
        issuers = session.scalars(select(Authority.name).where(Authority.kind.in_(("root", "issuing")))).all()
    published = {c.issuer for c in items if c.kind == "full"}
    out += [f"{name} has no published CRL" for name in issuers if name not in published]
    return out


def overview(ctx: ServiceContext, actor: Actor) -> CrlOverview:
    """The back office's CRL page. Anyone who may look at seals may see the CRLs: they are public
    anyway. (Every role that may publish CRLs may view seals: tests/web/test_admin_crls.py.)"""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    now = ctx.clock.now()
    crls = latest(ctx, now)
    full = {c.issuer for c in crls if c.kind == "full"}
    issuers = publish.crl_issuers(ctx)
    return CrlOverview(now, crls, [n for n in issuers if n not in full], publish.pending(ctx))
