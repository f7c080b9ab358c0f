"""E-mail notifications to enterprises: application decided, seal issued, revoked, suspended or
resumed, and expiry reminders; at most one digest per enterprise per local day (issue 6).

Where notices come from
-----------------------
Not from the use cases: from the **audit log**, which every use case writes in its own
transaction whatever the entry point (portal, admin portal, CLI, licence events, renewals). The
job reads the events after its watermark (``notify_state.audit_seq``) in ``seq`` order. Numbers are
given under the chain-head lock and committed in order (registry.services.audit), so the committed
events are always 1..k without gaps and a watermark by ``seq`` can never skip one committed later.
Each relevant event becomes one row of ``notifications`` with the unique key ``audit:<seq>``, in the
same transaction that moves the watermark: running the job again never records a notice twice.

=========================  ==================================================================
audit action               notice
=========================  ==================================================================
application.approved       application_approved (not for a renewal: approved by policy)
application.rejected       application_rejected, with the reason
application.submitted      application_reissue, only for the re-issue applications a licence
                           change opens (channel ``reissue``)
seal.issued                seal_issued (a renewal names the seal it replaces)
seal.revoked               seal_revoked, with the reason: operator, loss report, cancellation,
                           licence events, renewal (superseded)
seal.suspended / resumed   seal_suspended / seal_resumed
=========================  ==================================================================

Expiry reminders come from a scan run once per local day: each active or suspended seal whose
validEnd falls within the largest reminder distance (``REGISTRY_NOTIFY_REMINDER_DAYS``, 30, 7 and 1)
gets the reminder of the smallest distance it has reached, keyed ``expiry:<seal id>:<days>``: each
reminder once per seal, and a job that was down for a week sends the 7-day one, not three at once.

Digests
-------
An enterprise's pending notices go out in one e-mail to ``Enterprise.contact_email`` (Chinese, then
English; plain text and HTML), at the first run of its local day (``REGISTRY_NOTIFY_TIMEZONE``)
that finds something pending. ``notification_digests`` is unique per (enterprise, day): once a
digest was sent, notices that arrive later that day wait for the next day's. A failed send is
recorded (attempts, last error) and retried by the next run; a digest not yet sent takes in the
notices that arrived meanwhile and moves to the day it is finally sent on. Notices of an enterprise
without a contact address are marked ``undeliverable`` (kept, never sent).

Authorised persons (``EnterprisePerson``) are copied (Cc) only when every notice of the digest is
about a seal granted to them: the portal shows them nothing but those seals
(registry.services.portal_access), and an e-mail must not show more.

One job at a time
-----------------
A run holds the database lease ``notify`` (registry.services.core.leases, as the CRL publisher); a
second instance finds it held and skips the run. Each step that takes up work (a batch of audit
events, the expiry scan, each digest before it is sent) renews the lease in its transaction, and only
if this run still holds it, so a run that stalled past the lease and was overtaken stops before it
sends anything more. The lease lasts 5 minutes, or ten SMTP timeouts if that is longer. A digest is
marked ``sending`` (committed) before the SMTP transaction and ``sent`` after it; a run killed in
between leaves it ``sending``, and the next run sends it again with the
same Message-ID (at least once, never silently lost).

The parts
---------
:mod:`.collect` (audit events and the expiry scan → notices), :mod:`.compose` (notices → the
digest e-mail), :mod:`.deliver` (assembling, sending and recording each digest), :mod:`.mailer`
(SMTP), :mod:`.job` (the lease and the run's report); this module runs them (:func:`run_once`,
:func:`run_loop`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from ...domain.errors import Conflict
from ..context import Actor, ServiceContext
from ..core import leases
from .collect import ACTIONS, BATCH, CHUNK, collect, scan_expiry
from .compose import TEMPLATES
from .deliver import count_pending, mark_undeliverable, send_all
from .job import LEASE_NAME, LeaseLost, RunReport, lease_ttl, new_holder
from .mailer import MailError, Rejected, ServerUnavailable, SmtpMailer, TemporaryFailure

__all__ = [
    "ACTIONS",
    "BATCH",
    "CHUNK",
    "LEASE_NAME",
    "TEMPLATES",
    "LeaseLost",
    "MailError",
    "Rejected",
    "RunReport",
    "ServerUnavailable",
    "SmtpMailer",
    "TemporaryFailure",
    "collect",
    "lease_ttl",
    "run_loop",
    "run_once",
    "scan_expiry",
]


def run_once(ctx: ServiceContext, actor: Actor) -> RunReport:
    """One pass under the ``notify`` lease: collect notices from the audit log, the expiry scan (once
    per local day), then each enterprise's digest. Another run holding the lease: skipped."""
    report = RunReport()
    holder = new_holder()
    try:
        with leases.lease(ctx, LEASE_NAME, holder, lease_ttl(ctx)):
            try:
                report.collected, report.audit_seq = collect(ctx, holder)
                report.reminders, report.scanned = scan_expiry(ctx, holder)
                report.undeliverable += mark_undeliverable(ctx, holder)
                if ctx.settings.smtp_host:
                    with SmtpMailer(ctx.settings) as mailer:
                        report.smtp = mailer.description
                        send_all(ctx, actor, holder, mailer, report)
            except LeaseLost as exc:
                report.stopped = str(exc)
    except Conflict as exc:  # from taking the lease: another run holds it
        report.skipped = f"another notification run holds the lease ({exc})"
        return report
    count_pending(ctx, report)
    return report


def run_loop(
    ctx: ServiceContext, actor: Actor, *, every: float, rounds: int | None = None, stop: threading.Event | None = None
) -> Iterator[str]:
    """:func:`run_once` every ``every`` seconds until stopped (or ``rounds`` runs); yields the lines
    of the runs that did something, and of the first."""
    stop = stop or threading.Event()
    done = 0
    while not stop.is_set():
        try:
            report = run_once(ctx, actor)
            if report.busy or done == 0:
                yield from report.lines()
        except Exception as exc:  # noqa: BLE001 - a daemon reports and tries again (database restart...)
            yield f"error: {type(exc).__name__}: {exc}"
        done += 1
        if rounds is not None and done >= rounds:
            return
        stop.wait(every)
