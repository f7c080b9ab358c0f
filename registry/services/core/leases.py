"""Named database leases (``models.Lease``): one holder at a time for a piece of work, across
processes and machines sharing the database. The CRL publisher holds ``crl:<issuer>`` for a publish
run, the notification job holds ``notify`` for a run.

A lease is taken in a transaction of its own and committed before the work starts (that is what
makes other processes see it), and given back in another when the work ends: :func:`lease` is that
pair around a block. Inside a transaction the work already opened, :func:`renew` extends the lease
only if its holder still holds it, so a run that stalled past its lease and was overtaken finds out
before it does more. Times come from the context's clock (``Tx.now``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import CursorResult, select, update

from ...db.models import Lease
from ...domain.errors import Conflict, M
from ..context import Actor, ServiceContext
from .tx import Tx, begin

__all__ = ["LEASE_HELD", "LeaseHeld", "lease", "release", "renew", "take"]

#: The refusal when another holder has an unexpired lease (fields: name, holder, until).
LEASE_HELD = M(
    "lease.held",
    "{name} is held by {holder} (lease until {until}Z)",
    "{name} 正由 {holder} 持有（租约至 {until}Z）",
)
#: A released lease expires at this time: anyone may take it.
RELEASED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ACTOR = Actor.system("lease")


class LeaseHeld(Conflict):
    """Another holder has an unexpired lease. The work a lease guards may say so in its own words:
    a subclass with another :attr:`MESSAGE` (same fields), passed as ``held=``."""

    MESSAGE = LEASE_HELD


def take(tx: Tx, name: str, holder: str, ttl: dt.timedelta, *, held: type[LeaseHeld] = LeaseHeld) -> None:
    """Take (or extend) the named lease for ``holder`` until ``tx.now + ttl``; raise ``held``
    (a :class:`LeaseHeld`) if another holder's lease has not expired."""
    row = tx.session.scalar(select(Lease).where(Lease.name == name).with_for_update())
    if row is None:
        tx.session.add(Lease(name=name, holder=holder, expires_at=tx.now + ttl))
    elif row.expires_at > tx.now and row.holder != holder:
        raise held(held.MESSAGE, name=name, holder=row.holder, until=f"{row.expires_at:%H:%M:%S}")
    else:
        row.holder, row.expires_at = holder, tx.now + ttl


def release(tx: Tx, name: str, holder: str) -> None:
    """Give the lease back, if ``holder`` holds it (a lease taken over by someone else stays theirs)."""
    tx.session.execute(update(Lease).where(Lease.name == name, Lease.holder == holder).values(expires_at=RELEASED))


def renew(tx: Tx, name: str, holder: str, ttl: dt.timedelta) -> bool:
    """Extend the lease to ``tx.now + ttl`` inside ``tx``, if and only if ``holder`` still holds an
    unexpired one. False: it expired or another holder took it over."""
    done = tx.session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder, Lease.expires_at > tx.now)
        .values(expires_at=tx.now + ttl)
    )
    return isinstance(done, CursorResult) and done.rowcount == 1


@contextmanager
def lease(
    ctx: ServiceContext, name: str, holder: str, ttl: dt.timedelta, *, held: type[LeaseHeld] = LeaseHeld
) -> Iterator[None]:
    """Hold the named lease for the duration of the block, or raise ``held`` (a :class:`LeaseHeld`,
    a :class:`Conflict`) if someone else holds an unexpired one. Taking it and giving it back each commit in a
    transaction of their own."""
    with begin(ctx, _ACTOR) as tx:
        take(tx, name, holder, ttl, held=held)
    try:
        yield
    finally:
        with begin(ctx, _ACTOR) as tx:
            release(tx, name, holder)
