"""Finding a seal and its parts inside a caller's transaction: by its esID, its holder certificate
(the one certificate every question about "this seal's certificate" means), and its files."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import Certificate, Seal
from ...domain.errors import M, NotFound
from ...domain.esid import validate_esid
from ...pki import der, pkcs7
from . import authorities
from .tx import Tx

__all__ = ["NO_HOLDER", "SealFiles", "find_seal", "holder_certificate", "require_holder", "seal_by_code", "seal_files"]

NO_HOLDER = M(
    "seal.seal_has_no_holder", "seal {es_id} has no holder certificate on record", "印章 {es_id} 没有持有人证书记录"
)


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


def require_holder(seal: Seal) -> Certificate:
    """The seal's holder certificate, or NotFound."""
    holder = holder_certificate(seal)
    if holder is None:
        raise NotFound(NO_HOLDER, es_id=seal.es_id)
    return holder


@dataclass(frozen=True)
class SealFiles:
    """What a seal's holder downloads and the back office exports: one object for both."""

    es_id: str
    seal_der: bytes  # the GB/T 38540 SESeal (.esl)
    certificate_pem: str  # the holder certificate
    chain_pem: str  # the holder certificate's issuing CA and root
    maker_chain_pem: str  # the seal-maker certificate and its root
    p7b_der: bytes  # the holder certificate and its chain, PKCS#7 certs-only


def seal_files(tx: Tx, seal: Seal) -> SealFiles:
    """The seal (.esl), its holder certificate, the issuing chain and the seal-maker chain (PEM), and
    the holder certificate with its chain as a ``.p7b``."""
    holder = require_holder(seal)
    chain = authorities.chain(tx, holder.issuer.name)
    maker_chain = authorities.chain(tx, seal.maker.name)
    return SealFiles(
        seal.es_id,
        seal.ses_der,
        der.der_to_pem(holder.der, "CERTIFICATE"),
        "".join(c.pem() for c in chain),
        "".join(c.pem() for c in maker_chain),
        pkcs7.certs_only([holder.der, *(c.der for c in chain)]),
    )
