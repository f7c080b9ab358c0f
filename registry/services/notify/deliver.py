"""Delivering the digests: each enterprise's pending notices assembled into today's digest
(:func:`assemble`, marked ``sending`` and committed before the SMTP transaction), sent through the
mailer (:mod:`.mailer`), and the outcome recorded (:func:`finish`: ``sent``, ``failed`` to be
retried, or ``undeliverable``). Notices of an enterprise without a usable contact address are
marked ``undeliverable`` (kept, never sent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ...db.models import Enterprise, Notification, NotificationDigest
from ...db.session import rowcount
from ..context import Actor, ServiceContext
from ..core.tx import begin
from .compose import copies, fold, message
from .job import JOB, RunReport, fence, zone
from .mailer import Rejected, ServerUnavailable, SmtpMailer, TemporaryFailure

__all__ = ["count_pending", "mark_undeliverable", "send_all"]


@dataclass
class _Job:
    """A digest assembled and marked ``sending``: what to send, and what to mark once it is sent."""

    digest_id: int
    uscc: str
    message: EmailMessage
    text: str
    shown: list[int]
    folded: list[int]
    to: str
    cc: list[str]


def usable(address: str) -> bool:
    """An address worth trying: something@something, no spaces or control characters."""
    return bool(address) and "@" in address and not any(c.isspace() or ord(c) < 32 for c in address)


def _give_up(session: Session, enterprise_id: int, digest: NotificationDigest | None, why: str) -> int:
    """Mark the enterprise's pending notices (and its digest) undeliverable; returns how many."""
    n = rowcount(
        session.execute(
            update(Notification)
            .where(Notification.enterprise_id == enterprise_id, Notification.state == "pending")
            .values(state="undeliverable")
        )
    )
    if digest is not None:
        digest.status, digest.last_error = "undeliverable", why[:1000]
    return n


def assemble(
    ctx: ServiceContext, holder: str | None, enterprise_id: int, day: dt.date, report: RunReport
) -> _Job | None:
    """Make (or take up again) the enterprise's digest of ``day`` with all its pending notices and
    mark it ``sending``; None when there is nothing to send today."""
    now = ctx.clock.now()
    with begin(ctx, JOB) as tx:
        s = tx.session
        fence(tx, holder)
        ent = s.get(Enterprise, enterprise_id)
        if ent is None:
            return None
        digests = s.scalars(
            select(NotificationDigest)
            .where(
                NotificationDigest.enterprise_id == enterprise_id,
                (NotificationDigest.local_day == day) | NotificationDigest.status.in_(("sending", "failed")),
            )
            .order_by(NotificationDigest.id.desc())
            .with_for_update()
        ).all()
        todays = next((d for d in digests if d.local_day == day), None)
        if todays is not None and todays.status in ("sent", "undeliverable"):
            report.waiting += 1  # one digest a day: the rest waits for tomorrow's
            return None
        digest = todays or next((d for d in digests if d.status in ("sending", "failed")), None)
        notices = list(
            s.scalars(
                select(Notification)
                .where(Notification.enterprise_id == enterprise_id, Notification.state == "pending")
                .order_by(Notification.occurred_at, Notification.id)
            )
        )
        if not notices:
            return None
        to = (ent.contact_email or "").strip()
        if not usable(to):
            report.undeliverable += _give_up(s, enterprise_id, digest, "the enterprise has no usable contact address")
            return None
        shown, folded = fold(s, notices, now)
        if not shown:
            for n in folded:
                n.state = "folded"
            return None
        if digest is None:
            digest = NotificationDigest(
                enterprise_id=enterprise_id,
                local_day=day,
                status="sending",
                attempts=0,
                cc_addresses=[],
                created_at=now,
                notices=0,
            )
            s.add(digest)
            s.flush()
        digest.local_day = day  # a digest not sent on an earlier day goes out today, as today's
        for n in notices:
            n.digest_id = digest.id
        cc = copies(s, enterprise_id, shown, to)
        try:
            msg, text = message(ctx, ent, digest, shown, to, cc, day)
        except Exception as exc:  # noqa: BLE001 - an address the e-mail library refuses
            why = f"the contact address {to!r} cannot be used: {type(exc).__name__}: {exc}"
            report.undeliverable += _give_up(s, enterprise_id, digest, why)
            report.rejected.append((ent.uscc, why))
            return None
        digest.status, digest.attempts, digest.last_attempt_at = "sending", digest.attempts + 1, now
        digest.to_address, digest.cc_addresses, digest.subject = to, cc, str(msg["Subject"])[:300]
        digest.message_id, digest.notices = str(msg["Message-ID"]), len(shown)
        return _Job(digest.id, ent.uscc, msg, text, [n.id for n in shown], [n.id for n in folded], to, cc)


def finish(ctx: ServiceContext, actor: Actor, job: _Job, status: str, error: str | None = None) -> None:
    """Record the outcome of one SMTP transaction (whatever happened to the lease meanwhile: it is
    what happened)."""
    now = ctx.clock.now()
    with begin(ctx, actor) as tx:
        s = tx.session
        d = s.get(NotificationDigest, job.digest_id)
        if d is None:  # digests are never deleted: assembled in a committed transaction, it is there
            raise RuntimeError(f"notification digest {job.digest_id} is gone")
        d.status, d.last_error = status, (error[:1000] if error else None)
        if status == "sent":
            d.sent_at, d.body_text = now, job.text
            s.execute(update(Notification).where(Notification.id.in_(job.shown)).values(state="sent"))
            if job.folded:
                s.execute(update(Notification).where(Notification.id.in_(job.folded)).values(state="folded"))
            tx.audit(
                "notification.sent",
                "enterprise",
                job.uscc,
                digest=d.id,
                day=d.local_day.isoformat(),
                notices=len(job.shown),
                to=job.to,
                cc=job.cc,
                attempt=d.attempts,
                refused=error,
            )
        elif status == "undeliverable":
            s.execute(
                update(Notification)
                .where(Notification.digest_id == d.id, Notification.state == "pending")
                .values(state="undeliverable")
            )
            tx.audit(
                "notification.undeliverable",
                "enterprise",
                job.uscc,
                digest=d.id,
                day=d.local_day.isoformat(),
                to=job.to,
                error=(error or "")[:500],
            )


def send_all(ctx: ServiceContext, actor: Actor, holder: str | None, mailer: SmtpMailer, report: RunReport) -> None:
    """Send each enterprise's digest of today, in enterprise order; stop at the first sign the server
    cannot be used (every digest is then retried by the next run)."""
    day = ctx.clock.now().astimezone(zone(ctx)).date()
    try:
        Address(addr_spec=ctx.settings.mail_from)
    except Exception as exc:  # noqa: BLE001 - whatever the e-mail library says about it
        report.stopped = f"REGISTRY_MAIL_FROM {ctx.settings.mail_from!r} is not an e-mail address ({exc})"
        return
    with ctx.reader() as s:
        enterprise_ids = list(
            s.scalars(
                select(Notification.enterprise_id)
                .where(Notification.state == "pending")
                .distinct()
                .order_by(Notification.enterprise_id)
            )
        )
    for eid in enterprise_ids:
        job = assemble(ctx, holder, eid, day, report)
        if job is None:
            continue
        try:
            refused = mailer.send(job.message)
        except ServerUnavailable as exc:
            finish(ctx, actor, job, "failed", str(exc))
            report.failed.append((job.uscc, str(exc)))
            report.stopped = str(exc)
            return
        except Rejected as exc:
            finish(ctx, actor, job, "undeliverable", str(exc))
            report.rejected.append((job.uscc, str(exc)))
        except TemporaryFailure as exc:
            finish(ctx, actor, job, "failed", str(exc))
            report.failed.append((job.uscc, str(exc)))
        else:
            note = "; ".join(f"{a}: {why}" for a, why in refused.items()) or None
            finish(ctx, actor, job, "sent", f"refused {note}" if note else None)
            report.sent.append((job.uscc, len(job.shown), job.to))


def mark_undeliverable(ctx: ServiceContext, holder: str | None) -> int:
    """Pending notices of enterprises without a contact address: recorded, marked not deliverable."""
    with begin(ctx, JOB) as tx:
        s = tx.session
        fence(tx, holder)
        none = select(Enterprise.id).where(Enterprise.contact_email == "")
        n = rowcount(
            s.execute(
                update(Notification)
                .where(Notification.state == "pending", Notification.enterprise_id.in_(none))
                .values(state="undeliverable")
            )
        )
        s.execute(
            update(NotificationDigest)
            .where(NotificationDigest.status.in_(("sending", "failed")), NotificationDigest.enterprise_id.in_(none))
            .values(status="undeliverable", last_error="the enterprise has no contact address")
        )
        return n


def count_pending(ctx: ServiceContext, report: RunReport) -> None:
    """How many notices (of how many enterprises) are still pending after the run."""
    with ctx.reader() as s:
        n, ents = s.execute(
            select(func.count(), func.count(func.distinct(Notification.enterprise_id))).where(
                Notification.state == "pending"
            )
        ).one()
    report.pending, report.pending_enterprises = int(n), int(ents)
