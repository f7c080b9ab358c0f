"""What the registry holds, for the public pages (no sign-in, nothing recorded): the home page's
list of certification authorities and number of seals, a CA certificate by name (the AIA
caIssuers URL of the holder certificates), and whether the database answers (``/healthz``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ..db.models import Authority, Seal
from ..pki.keys import Algorithm
from .context import ServiceContext

__all__ = ["AuthorityInfo", "Summary", "summary", "ca_certificate_der", "database_problem"]


@dataclass(frozen=True)
class AuthorityInfo:
    """One certification authority as the home page lists it."""

    name: str
    algorithm: Algorithm
    subject: str
    not_after: dt.datetime


@dataclass(frozen=True)
class Summary:
    authorities: list[AuthorityInfo]
    seal_count: int


def summary(ctx: ServiceContext) -> Summary:
    """Every authority (in the order they were created) and how many seals are on record."""
    with ctx.reader() as session:
        authorities = [
            AuthorityInfo(a.name, a.algorithm, a.subject, a.not_after)
            for a in session.scalars(select(Authority).order_by(Authority.id))
        ]
        count = session.scalar(select(func.count(Seal.id))) or 0
    return Summary(authorities, count)


def ca_certificate_der(ctx: ServiceContext, name: str) -> bytes | None:
    """The DER certificate of the authority called ``name``; None if there is none."""
    with ctx.reader() as session:
        row = session.scalar(select(Authority).where(Authority.name == name))
        return None if row is None else bytes(row.certificate_der)


def database_problem(ctx: ServiceContext) -> str | None:
    """None if the database answers a query; else what went wrong (the exception's class name)."""
    try:
        with ctx.reader() as session:
            session.execute(select(1))
    except Exception as exc:  # noqa: BLE001 - health reports, never raises
        return type(exc).__name__
    return None
