"""The back office's view of seals: search with keyset pagination, and one seal's full record.

Lists never use OFFSET: each page asks for the rows after the last id it showed, through an index,
so page 1,000 of a million seals costs what page 1 costs.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import AuditEvent, Certificate, Enterprise, Revocation, Seal, SealApplication
from ..domain.errors import M, NotFound
from ..domain.roles import Permission, require
from ..domain.search import search_text
from ..domain.states import SealStatus
from ..pki.crl import CrlReason
from . import renewal, status
from .context import Actor, ServiceContext
from .core import pictures
from .core import seals as core_seals
from .core.seals import SealFiles as SealFiles
from .core.seals import find_seal, holder_certificate
from .core.tx import reading
from .portal_access import Principal, authority_over, seal_for, visible_seals

__all__ = [
    "SealRow",
    "SealPage",
    "search",
    "filtered",
    "row",
    "detail",
    "picture",
    "PAGE_SIZE",
    "enterprise_overview",
    "enterprise_detail",
    "enterprise_picture",
    "enterprise_files",
]

PAGE_SIZE = 50
_USCC = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
_ESID = re.compile(r"^[0-9A-Z]{25}$")


@dataclass(frozen=True)
class SealRow:
    id: int
    es_id: str
    name: str
    seal_type: str
    status: str
    enterprise: str
    uscc: str
    valid_end: dt.datetime
    created_at: dt.datetime


@dataclass(frozen=True)
class SealPage:
    rows: list[SealRow]
    query: str
    kind: str  # esid | uscc | name | all
    next_after: int | None  # the id to continue after, if there are more


def _kind(q: str) -> str:
    if not q:
        return "all"
    if _ESID.match(q.upper()):
        return "esid"
    if _USCC.match(q.upper()):
        return "uscc"
    return "name"


def search(
    ctx: ServiceContext, actor: Actor, query: str = "", *, after: int | None = None, limit: int = PAGE_SIZE
) -> SealPage:
    """Seals matching an esID, a USCC or the start of an enterprise name, newest first."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    stmt, q, kind = filtered(query)
    if after is not None:
        stmt = stmt.where(Seal.id < after)
    stmt = stmt.order_by(Seal.id.desc()).limit(limit + 1)
    now = ctx.clock.now()
    with ctx.reader() as s:
        rows = s.execute(stmt).all()
    out = [row(r, now) for r in rows[:limit]]
    return SealPage(out, q, kind, out[-1].id if len(rows) > limit else None)


def row(r: Any, now: dt.datetime) -> SealRow:
    """A row of :func:`filtered`'s statement as the list shows it (``expired`` derived)."""
    return SealRow(
        r[0],
        r[1],
        r[2],
        r[3].code,
        "expired" if r[4].value == "active" and now > r[5] else r[4].value,
        r[7],
        r[8],
        r[5],
        r[6],
    )


def filtered(query: str) -> tuple[Any, str, str]:
    """The list's statement for ``query`` (unordered, unlimited), the cleaned query and its kind;
    the CSV export (registry.services.exports) reads the same rows."""
    q = search_text(query)
    kind = _kind(q)
    stmt = select(
        Seal.id,
        Seal.es_id,
        Seal.name,
        Seal.seal_type,
        Seal.status,
        Seal.valid_end,
        Seal.created_at,
        Enterprise.name,
        Enterprise.uscc,
    ).join(Enterprise, Enterprise.id == Seal.enterprise_id)
    if kind == "esid":
        stmt = stmt.where(Seal.es_id == q.upper())
    elif kind == "uscc":
        stmt = stmt.where(Enterprise.uscc == q.upper())
    elif kind == "name":
        # a prefix of the registered name, through ix_enterprises_name; LIKE wildcards are escaped
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        ent_ids = select(Enterprise.id).where(Enterprise.name.like(escaped + "%", escape="\\")).limit(1000)
        stmt = stmt.where(Seal.enterprise_id.in_(ent_ids))
    return stmt, q, kind


def detail(ctx: ServiceContext, actor: Actor, code: str) -> dict[str, Any]:
    """The status record (as the public API gives it) plus certificate details and the history."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    info = status.seal_status(ctx, code)
    with reading(ctx, actor) as tx:
        s = tx.session
        seal = find_seal(tx, code)
        info["history"] = _history(s, seal.es_id)
        info["application_id"] = seal.application_id
        info["enterprise_id"] = seal.enterprise_id
        certs = s.execute(
            select(Certificate, Revocation)
            .outerjoin(Revocation, Revocation.certificate_id == Certificate.id)
            .where(Certificate.seal_id == seal.id)
            .order_by(Certificate.id)
        ).all()
        info["certificate_details"] = [
            {
                "serial": c.serial.upper(),
                "subject": c.subject,
                "issuer": c.issuer.subject,
                "issuer_name": c.issuer.name,
                "algorithm": c.algorithm.value,
                "shard": c.shard,
                "key_sha256": c.key_fingerprint,
                "not_before": c.not_before,
                "not_after": c.not_after,
                "status": c.status.value,
                "reason": CrlReason(r.reason).rfc_name if r is not None else None,
                "revoked_at": r.revoked_at if r is not None else None,
            }
            for c, r in certs
        ]
    return info


def _history(s: Session, es_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_type == "seal", AuditEvent.target_id == es_id)
        .order_by(AuditEvent.id)
    ).all()
    return [{"at": e.occurred_at, "actor": e.actor, "action": e.action, "details": e.details} for e in rows]


def picture(ctx: ServiceContext, actor: Actor, code: str) -> tuple[str, bytes]:
    """The picture inside the seal's SESeal: (its type, e.g. ``PNG``, and its bytes)."""
    require(actor.name, actor.roles, Permission.SEAL_VIEW)
    from .core.pictures import seal_picture

    with reading(ctx, actor) as tx:
        pic = seal_picture(find_seal(tx, code))
    return pic.type, bytes(pic.data)


# ------------------------------------------------------------------------------------------------
# An enterprise reading and downloading its own seals (portal_access decides which)


def enterprise_overview(ctx: ServiceContext, principal: Principal) -> dict[str, Any]:
    """What an enterprise sees of itself on the portal's front page: the seals this person can see;
    the applications only for the legal representative."""
    now = ctx.clock.now()
    window = dt.timedelta(days=ctx.settings.renewal_window_days)
    with ctx.reader() as s:
        apps = (
            s.scalars(
                select(SealApplication)
                .where(SealApplication.enterprise_id == principal.enterprise_id)
                .order_by(SealApplication.id.desc())
                .limit(100)
            ).all()
            if principal.is_legal_representative
            else []
        )
        sl = s.scalars(visible_seals(principal).order_by(Seal.id.desc()).limit(100)).all()
        return {
            "applications": [
                {
                    "id": a.id,
                    "seal_type": a.seal_type.code,
                    "state": a.state.value,
                    "submitted_at": a.submitted_at,
                    "reason": a.decided_reason,
                }
                for a in apps
            ],
            "seals": [
                {
                    "es_id": x.es_id,
                    "name": x.name,
                    "seal_type": x.seal_type.code,
                    "status": x.effective_status(now),
                    "valid_end": x.valid_end,
                    "renewal_open": x.effective_status(now) == "active" and now >= x.valid_end - window,
                }
                for x in sl
            ],
        }


def enterprise_detail(ctx: ServiceContext, principal: Principal, es_id: str) -> dict[str, Any]:
    """What the seal page shows: the seal, its status and validity, its holder certificate, what
    this person may do with it and whether renewal is open now."""
    now = ctx.clock.now()
    with reading(ctx, principal.actor) as tx:
        s = tx.session
        seal = seal_for(tx, principal, es_id, "view")
        authority = authority_over(tx, principal, seal)
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
        opens = renewal.renewal_opens(ctx, seal)
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


def enterprise_picture(ctx: ServiceContext, principal: Principal, es_id: str) -> bytes:
    """The PNG carried inside the seal."""
    with reading(ctx, principal.actor) as tx:
        return pictures.seal_picture(seal_for(tx, principal, es_id, "view")).data


def enterprise_files(ctx: ServiceContext, principal: Principal, es_id: str) -> SealFiles:
    """The files of a seal this principal may view (:func:`~registry.services.core.seals.seal_files`)."""
    with reading(ctx, principal.actor) as tx:
        seal = seal_for(tx, principal, es_id, "view")
        if holder_certificate(seal) is None:
            raise NotFound(_NO_HOLDER, code=seal.es_id)
        return core_seals.seal_files(tx, seal)


_NO_HOLDER = M(
    "portal.no_holder_certificate", "seal {code} has no holder certificate on record", "印章 {code} 没有签章人证书记录"
)
