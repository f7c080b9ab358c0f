"""One unit of work: the session of one transaction, who acts in it, and when.

A use case checks its actor's permission, then opens its transaction with :func:`begin` and hands
the :class:`Tx` to the building blocks of :mod:`registry.services.core`; its audit events go into
the same transaction through :meth:`Tx.audit`, so a change and its audit event commit together or
not at all. :func:`reading` gives the same object over a read-only session, for building blocks
that only look things up (its :meth:`Tx.audit` refuses)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ...db.models import AuditEvent
from ..context import Actor, ServiceContext
from . import audit


@dataclass
class Tx:
    """The transaction a use case opened: ``session``, the ``ctx`` it runs in, the ``actor`` who
    acts, and ``now``, the time of the change (read once from the context's clock)."""

    ctx: ServiceContext
    session: Session
    actor: Actor
    now: dt.datetime
    writable: bool = True

    @property
    def conn(self) -> Connection:
        """The transaction's connection, for set-based statements on hot paths."""
        return self.session.connection()

    def audit(
        self, action: str, target_type: str, target_id: object, *, actor: Actor | None = None, **details: Any
    ) -> AuditEvent:
        """Record one audit event in this transaction (by ``actor``, or the transaction's actor)."""
        if not self.writable:
            raise RuntimeError("a read-only transaction records no audit events")
        return audit.record(self.session, self.ctx, actor or self.actor, action, target_type, target_id, **details)

    def audit_many(self, events: list[tuple[Actor, str, str, object, dict[str, Any]]]) -> None:
        """Record several events in one statement (hot paths), in list order."""
        if not self.writable:
            raise RuntimeError("a read-only transaction records no audit events")
        audit.record_many(self.conn, self.ctx, events)


@contextmanager
def begin(ctx: ServiceContext, actor: Actor) -> Iterator[Tx]:
    """A write transaction for ``actor``: committed once at the end, rolled back on any exception."""
    with ctx.transaction() as session:
        yield Tx(ctx, session, actor, ctx.clock.now())


def joined(ctx: ServiceContext, session: Session, actor: Actor | None = None) -> Tx:
    """A :class:`Tx` over a session its caller opened and will commit (``ctx.transaction()`` or
    ``ctx.reader()``), for code that holds a bare session: the building blocks then see the same
    transaction. ``actor`` defaults to the system."""
    return Tx(ctx, session, actor or Actor.system("registry"), ctx.clock.now())


@contextmanager
def reading(ctx: ServiceContext, actor: Actor) -> Iterator[Tx]:
    """A read-only transaction for ``actor`` (lookups only: :meth:`Tx.audit` refuses)."""
    with ctx.reader() as session:
        yield Tx(ctx, session, actor, ctx.clock.now(), writable=False)
