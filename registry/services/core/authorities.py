"""Our CA authorities as the building blocks use them: the loaded signer of an authority and its
certificate chain (both cached per process: immutable), and the URLs the certificates we issue
point at (CRLs, delta CRL, CA certificate). Making the hierarchies is the use case
:func:`registry.services.authorities.ensure_hierarchies`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ...db.models import Authority
from ...domain.errors import M, NotFound, ValidationError
from ...pki import x509
from ...pki.keys import Algorithm, PrivateKey, decrypt_private_key
from ..context import ServiceContext
from .tx import Tx

__all__ = [
    "LoadedAuthority",
    "add_years",
    "authority_name",
    "ca_cert_url",
    "chain",
    "crl_url",
    "delta_crl_url",
    "load",
]


def add_years(when: dt.datetime, years: int) -> dt.datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def authority_name(algorithm: Algorithm, kind: str) -> str:
    return f"{algorithm.value}-{kind}"


def crl_url(ctx: ServiceContext, issuer_name: str, shard: int | None = None) -> str:
    base = ctx.settings.crl_base_url
    return f"{base}/{issuer_name}.crl" if shard is None else f"{base}/{issuer_name}/shard-{shard}.crl"


def delta_crl_url(ctx: ServiceContext, issuer_name: str) -> str:
    return f"{ctx.settings.crl_base_url}/{issuer_name}-delta.crl"


def ca_cert_url(ctx: ServiceContext, issuer_name: str) -> str:
    return f"{ctx.settings.base_url}/ca/{issuer_name}.cer"


@dataclass(frozen=True)
class LoadedAuthority:
    """An authority row's immutable parts with its decrypted signer (cached per process)."""

    id: int
    name: str
    kind: str
    algorithm: Algorithm
    certificate: x509.Certificate
    signer: PrivateKey

    @property
    def key_id(self) -> bytes:
        return self.certificate.subject_key_id or self.signer.public_key.key_identifier()


def load(tx: Tx, name: str) -> LoadedAuthority:
    """The active authority ``name`` with its decrypted signer (ValidationError if there is none)."""
    ctx, session = tx.ctx, tx.session

    def build() -> LoadedAuthority:
        row = session.scalar(select(Authority).where(Authority.name == name, Authority.active.is_(True)))
        if row is None:
            raise ValidationError(
                M(
                    "authority.authority_does_exist_run",
                    "authority {name} does not exist: run `registry init`",
                    "机构 {name} 不存在：请运行 `registry init`",
                ),
                name=name,
            )
        signer = decrypt_private_key(row.key_blob, ctx.require_keyring().keys)
        return LoadedAuthority(
            row.id, row.name, row.kind, row.algorithm, x509.Certificate.from_der(row.certificate_der), signer
        )

    return ctx.cached(("authority", name), build)


def chain(tx: Tx, name: str) -> list[x509.Certificate]:
    """The authority's certificate followed by its ancestors up to the root (cached: immutable)."""
    ctx, session = tx.ctx, tx.session

    def build() -> list[x509.Certificate]:
        out: list[x509.Certificate] = []
        row = session.scalar(select(Authority).where(Authority.name == name))
        if row is None:
            raise NotFound(
                M(
                    "authority.authority_does_exist_run",
                    "authority {name} does not exist: run `registry init`",
                    "机构 {name} 不存在：请运行 `registry init`",
                ),
                name=name,
            )
        while row is not None:
            out.append(x509.Certificate.from_der(row.certificate_der))
            row = row.parent
        return out

    return list(ctx.cached(("chain", name), build))
