"""One notification job at a time: the ``notify`` lease, renewed in each transaction that takes up
work (:func:`fence`), and what a run reports (:class:`RunReport`)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ...domain.errors import Conflict, M
from ..context import Actor, ServiceContext
from ..core import leases
from ..core.tx import Tx

LEASE_NAME = "notify"
#: The actor of the job's own transactions (collecting, scanning, assembling): they write no audit
#: event; a digest's outcome is recorded as the run's actor's.
JOB = Actor.system("notify")


class LeaseLost(Conflict):
    """This run no longer holds the ``notify`` lease: another run took over; stop."""


def new_holder() -> str:
    """This run's name on the lease: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


def lease_ttl(ctx: ServiceContext) -> dt.timedelta:
    """Long enough for one digest's SMTP transaction, whatever the server's pace."""
    return dt.timedelta(seconds=max(300, 10 * ctx.settings.smtp_timeout))


def fence(tx: Tx, holder: str | None) -> None:
    """Renew the lease inside ``tx``, if and only if this run still holds it (no holder: a call
    outside a run, e.g. the portal's notice centre, which holds no lease)."""
    if holder is None:
        return
    if not leases.renew(tx, LEASE_NAME, holder, lease_ttl(tx.ctx)):
        raise LeaseLost(
            M(
                "notify.lease_lost",
                "the notification lease was taken over by another run; stopping",
                "通知租约已被另一次运行接管；停止",
            )
        )


def zone(ctx: ServiceContext) -> ZoneInfo:
    """The time zone whose days the digests and the expiry scan count (``REGISTRY_NOTIFY_TIMEZONE``)."""
    return ZoneInfo(ctx.settings.notify_timezone)


@dataclass
class RunReport:
    skipped: str | None = None  # another run holds the lease
    collected: int = 0
    audit_seq: int = 0
    reminders: int = 0
    scanned: dt.date | None = None
    undeliverable: int = 0  # notices marked not deliverable in this run
    sent: list[tuple[str, int, str]] = field(default_factory=list)  # (USCC, notices, address)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (USCC, error): retried
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (USCC, error): given up
    waiting: int = 0  # enterprises whose digest of today went out already
    stopped: str | None = None  # why sending stopped early (server down, lease lost)
    smtp: str | None = None  # the server, or None when none is configured
    pending: int = 0  # notices not sent yet, after the run
    pending_enterprises: int = 0

    @property
    def busy(self) -> bool:
        return bool(
            self.skipped is None
            and (
                self.collected
                or self.reminders
                or self.undeliverable
                or self.sent
                or self.failed
                or self.rejected
                or self.stopped
            )
        )

    def lines(self) -> list[str]:
        if self.skipped:
            return [f"skipped: {self.skipped}"]
        out = [f"collected {self.collected} notices from the audit log (read up to event {self.audit_seq})"]
        if self.scanned is not None:
            out.append(f"expiry scan of {self.scanned.isoformat()}: {self.reminders} reminders")
        if self.undeliverable:
            out.append(f"not deliverable (no usable contact address): {self.undeliverable} notices")
        for uscc, n, to in self.sent:
            out.append(f"sent {uscc}: {n} notices to {to}")
        for uscc, err in self.rejected:
            out.append(f"undeliverable {uscc}: {err}")
        for uscc, err in self.failed:
            out.append(f"failed {uscc}: {err} (retried by the next run)")
        if self.stopped:
            out.append(f"stopped sending: {self.stopped}")
        if self.waiting:
            out.append(f"{self.waiting} enterprises had today's digest already: their new notices wait for tomorrow's")
        if self.smtp is None:
            out.append(
                f"SMTP not configured (REGISTRY_SMTP_HOST): nothing sent; {self.pending} notices pending "
                f"for {self.pending_enterprises} enterprises"
            )
        else:
            out.append(
                f"sent {len(self.sent)} digests through {self.smtp}; {self.pending} notices pending for "
                f"{self.pending_enterprises} enterprises"
            )
        return out
