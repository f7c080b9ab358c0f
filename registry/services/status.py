"""Public seal status: what a relying party may know about one seal, without logging in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from ..db.models import Certificate, Revocation, Seal
from ..domain.errors import NotFound
from ..domain.esid import validate_esid
from ..domain.states import SealStatus
from ..pki.crl import CrlReason
from . import authorities, peer_status
from .context import Actor, ServiceContext
from .core.seals import find_seal
from .core.tx import reading

__all__ = ["seal_status"]


_PUBLIC = Actor.system("public-status")  # reads only: the public status of a seal needs no role


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def seal_status(ctx: ServiceContext, code: str) -> dict[str, Any]:
    """Status, type, name, holder, validity, revocation (reason and time) and certificates of the
    seal with esID ``code``, ``"source": "own"``. A seal of an admitted peer's area is answered from
    the peer's status API checked against its CRLs (:mod:`.peer_status`, ``"source": "peer"``).
    ValidationError for a malformed code, NotFound for one neither ours nor a peer's."""
    es_id = validate_esid(code)
    try:
        return _own_status(ctx, es_id)
    except NotFound:
        answer = peer_status.peer_seal_status(ctx, es_id)
        if answer is None:
            raise
        return answer


def _own_status(ctx: ServiceContext, code: str) -> dict[str, Any]:
    with reading(ctx, _PUBLIC) as tx:
        session = tx.session
        seal = find_seal(tx, code)
        now = ctx.clock.now()
        status = seal.effective_status(now)
        rows = session.execute(
            select(Certificate, Revocation)
            .outerjoin(Revocation, Revocation.certificate_id == Certificate.id)
            .where(Certificate.seal_id == seal.id)
            .order_by(Certificate.id)
        ).all()
        certs = []
        held_at: dt.datetime | None = None
        for cert, rev in rows:
            entry: dict[str, Any] = {
                "serial": cert.serial.upper(),
                "issuer": cert.issuer.subject,
                "status": cert.status.value,
                "not_before": _iso(cert.not_before),
                "not_after": _iso(cert.not_after),
                "crl": authorities.crl_url(ctx, cert.issuer.name, cert.shard),
                "full_crl": authorities.crl_url(ctx, cert.issuer.name),
            }
            if rev is not None:
                entry["revoked_at"] = _iso(rev.revoked_at)
                entry["revocation_reason"] = CrlReason(rev.reason).rfc_name
                if rev.reason == CrlReason.CERTIFICATE_HOLD:
                    held_at = rev.revoked_at if held_at is None else min(held_at, rev.revoked_at)
            certs.append(entry)
        successor = None
        if seal.superseded_by_id is not None:
            successor = session.scalar(select(Seal.es_id).where(Seal.id == seal.superseded_by_id))
        return {
            "es_id": seal.es_id,
            "source": "own",
            "authority": {
                "area_code": ctx.settings.area_code,
                "name_zh": ctx.settings.authority_name,
                "name_en": ctx.settings.authority_name_en,
            },
            "status": status,
            "type": {"code": seal.seal_type.code, "name_en": seal.seal_type.english, "name_zh": seal.seal_type.chinese},
            "name": seal.name,
            "holder": {"enterprise": seal.enterprise.name, "uscc": seal.enterprise.uscc},
            "algorithm": seal.algorithm.value,
            "valid_start": _iso(seal.valid_start),
            "valid_end": _iso(seal.valid_end),
            "created_at": _iso(seal.created_at),
            "revoked_at": _iso(seal.revoked_at) if seal.status is SealStatus.REVOKED else None,
            "revocation_reason": seal.revocation_reason if seal.status is SealStatus.REVOKED else None,
            "suspended_at": _iso(held_at) if seal.status is SealStatus.SUSPENDED else None,
            "superseded_by": successor,
            "certificates": certs,
            "checked_at": _iso(now),
        }
