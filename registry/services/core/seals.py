"""Finding a seal and its parts inside a caller's transaction: by its esID, and its holder
certificate (the one certificate every question about "this seal's certificate" means)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import Certificate, Seal
from ...domain.errors import M, NotFound
from ...domain.esid import validate_esid
from .tx import Tx

__all__ = ["find_seal", "holder_certificate", "seal_by_code"]


def find_seal(tx: Tx, code: str) -> Seal:
    """The seal with esID ``code`` (format and check character validated first), or NotFound."""
    return seal_by_code(tx.session, code)


def seal_by_code(session: Session, code: str) -> Seal:
    """:func:`find_seal` on a bare session (for the re-exported ``services.seals.find_seal``)."""
    es_id = validate_esid(code)
    seal = session.scalar(select(Seal).where(Seal.es_id == es_id))
    if seal is None:
        raise NotFound(M("seal.no_seal_code", "no seal with code {es_id}", "没有编码为 {es_id} 的印章"), es_id=es_id)
    return seal


def holder_certificate(seal: Seal) -> Certificate | None:
    """The seal's holder (签章者) certificate, or None for a seal stored without one."""
    return next((c for c in seal.certificates if c.kind == "holder"), None)
