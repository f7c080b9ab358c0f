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
A run holds the database lease ``notify`` (models.Lease, as the CRL publisher); a second instance
finds it held and skips the run. Each step that takes up work (a batch of audit events, the expiry
scan, each digest before it is sent) renews the lease in its transaction, and only if this run still
holds it, so a run that stalled past the lease and was overtaken stops before it sends anything
more. The lease lasts 5 minutes, or ten SMTP timeouts if that is longer. A digest is marked ``sending`` (committed) before the SMTP transaction and ``sent``
after it; a run killed in between leaves it ``sending``, and the next run sends it again with the
same Message-ID (at least once, never silently lost).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..db.models import (
    AuditEvent,
    Enterprise,
    EnterprisePerson,
    Lease,
    Notification,
    NotificationDigest,
    NotifyState,
    Seal,
    SealApplication,
    SealGrant,
)
from ..domain.display_time import format_local
from ..domain.errors import Conflict, M
from ..domain.seal_types import SealType
from ..domain.states import SealStatus
from . import audit
from .context import Actor, ServiceContext
from .crl_publish import lease
from .mailer import Rejected, ServerUnavailable, SmtpMailer, TemporaryFailure

__all__ = ["RunReport", "run_once", "run_loop", "collect", "scan_expiry", "LEASE_NAME"]

LEASE_NAME = "notify"
BATCH = 2000  # audit events read per transaction
CHUNK = 500  # keys per IN (...) list
ACTIONS = (
    "application.approved",
    "application.rejected",
    "application.submitted",
    "seal.issued",
    "seal.revoked",
    "seal.suspended",
    "seal.resumed",
)
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
UTC = dt.UTC

# RFC 5280 §5.3.1 reason → what the enterprise reads (the portal's own requests named separately)
_REASONS = {
    "keyCompromise": ("挂失（印章或密钥丢失、泄露）", "reported lost or compromised (keyCompromise)"),
    "affiliationChanged": ("营业执照登记信息变更", "the business licence details changed (affiliationChanged)"),
    "superseded": ("印章已重新制作", "the seal was re-made (superseded)"),
    "cessationOfOperation": (
        "营业执照注销、吊销或印章注销",
        "the licence was cancelled or revoked, or the seal was cancelled (cessationOfOperation)",
    ),
    "privilegeWithdrawn": ("使用权限被撤回", "the privilege was withdrawn (privilegeWithdrawn)"),
    "unspecified": ("未说明", "not specified"),
}
_REQUESTS = {
    "loss": ("贵单位挂失", "reported lost or compromised by your enterprise (keyCompromise)"),
    "cancel": ("贵单位申请注销", "cancelled at your enterprise's request (cessationOfOperation)"),
}


class LeaseLost(Conflict):
    """This run no longer holds the ``notify`` lease: another run took over; stop."""


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


def lease_ttl(ctx: ServiceContext) -> dt.timedelta:
    """Long enough for one digest's SMTP transaction, whatever the server's pace."""
    return dt.timedelta(seconds=max(300, 10 * ctx.settings.smtp_timeout))


def _fence(ctx: ServiceContext, session: Session, holder: str | None) -> None:
    """Renew the lease inside ``session``'s transaction, if and only if this run still holds it."""
    if holder is None:
        return
    now = dt.datetime.now(UTC)
    done = session.execute(
        update(Lease)
        .where(Lease.name == LEASE_NAME, Lease.holder == holder, Lease.expires_at > now)
        .values(expires_at=now + lease_ttl(ctx))
    )
    if done.rowcount != 1:
        raise LeaseLost(
            M(
                "notify.lease_lost",
                "the notification lease was taken over by another run; stopping",
                "通知租约已被另一次运行接管；停止",
            )
        )


def _state(session: Session) -> NotifyState:
    row = session.scalar(select(NotifyState).where(NotifyState.id == 1).with_for_update())
    if row is None:  # (the migration made it) start after the existing history, never mail the past
        top = session.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))
        row = NotifyState(id=1, audit_seq=int(top or 0), expiry_scanned_on=None)
        session.add(row)
        session.flush()
    return row


def _zone(ctx: ServiceContext) -> ZoneInfo:
    return ZoneInfo(ctx.settings.notify_timezone)


def _chunks(items: list[Any], n: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the notices whose key is not recorded yet; returns how many were new."""
    fresh: dict[str, dict[str, Any]] = {}
    for r in rows:
        fresh.setdefault(r["dedupe_key"], r)
    for part in _chunks(list(fresh)):
        for key in session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(part))):
            fresh.pop(key, None)
    if fresh:
        session.execute(insert(Notification), list(fresh.values()))
    return len(fresh)


# ------------------------------------------------------------------------------------------------
# Collecting: audit events → notices


def collect(ctx: ServiceContext, holder: str | None = None, batches: int | None = None) -> tuple[int, int]:
    """Turn the audit events after the watermark into notices. Returns (notices recorded, the
    audit ``seq`` read up to). ``batches`` bounds the work (of ``BATCH`` events each; the portal's
    notice centre reads one batch per page view: registry.services.portal_notices); the rest is
    left for the next call. Without a holder (no lease) the calls are still serialised by the
    ``notify_state`` row lock, and a notice's unique key keeps it from being recorded twice."""
    total = done = end = 0
    while batches is None or done < batches:
        done += 1
        with ctx.transaction() as s:
            _fence(ctx, s, holder)
            state = _state(s)
            start = state.audit_seq
            top = int(s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)
            if top <= start:
                return total, start
            end = min(top, start + BATCH)
            events = s.execute(
                select(
                    AuditEvent.seq,
                    AuditEvent.occurred_at,
                    AuditEvent.action,
                    AuditEvent.target_type,
                    AuditEvent.target_id,
                    AuditEvent.details,
                )
                .where(AuditEvent.seq > start, AuditEvent.seq <= end, AuditEvent.action.in_(ACTIONS))
                .order_by(AuditEvent.seq)
            ).all()
            total += _insert_new(s, _notices_from(s, events, ctx.clock.now()))
            state.audit_seq = end
    return total, end


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _notices_from(s: Session, events: list[Any], now: dt.datetime) -> list[dict[str, Any]]:
    app_ids: set[int] = set()
    codes: set[str] = set()
    for e in events:
        if e.target_type == "application" and e.target_id.isdigit():
            app_ids.add(int(e.target_id))
        elif e.target_type == "seal":
            codes.add(e.target_id)
    apps: dict[int, Any] = {}
    for part in _chunks(sorted(app_ids)):
        apps.update(
            {
                a.id: a
                for a in s.execute(
                    select(SealApplication.id, SealApplication.enterprise_id, SealApplication.seal_type).where(
                        SealApplication.id.in_(part)
                    )
                )
            }
        )
    seals: dict[str, Any] = {}
    for part in _chunks(sorted(codes)):
        seals.update(
            {
                x.es_id: x
                for x in s.execute(
                    select(
                        Seal.id,
                        Seal.es_id,
                        Seal.enterprise_id,
                        Seal.name,
                        Seal.seal_type,
                        Seal.valid_end,
                        Seal.application_id,
                    ).where(Seal.es_id.in_(part))
                )
            }
        )
    renews: dict[int, str] = {}  # new seal id → the esID of the seal it replaced
    for part in _chunks(sorted(x.id for x in seals.values())):
        renews.update(
            {
                r.superseded_by_id: r.es_id
                for r in s.execute(select(Seal.es_id, Seal.superseded_by_id).where(Seal.superseded_by_id.in_(part)))
            }
        )

    out: list[dict[str, Any]] = []
    for e in events:
        d = e.details if isinstance(e.details, dict) else {}
        row: dict[str, Any] = {
            "dedupe_key": f"audit:{e.seq}",
            "audit_seq": e.seq,
            "occurred_at": e.occurred_at,
            "created_at": now,
            "state": "pending",
            "digest_id": None,
        }
        if e.target_type == "application":
            app = apps.get(int(e.target_id)) if e.target_id.isdigit() else None
            if app is None:
                continue
            info: dict[str, Any] = {"application": app.id, "seal_type": app.seal_type.code}
            if e.action == "application.approved":
                if d.get("policy") == "renewal":
                    continue  # a renewal is approved by policy; its seal_issued notice says it all
                kind = "application_approved"
            elif e.action == "application.rejected":
                kind, info["reason"] = "application_rejected", str(d.get("reason") or "")
            elif e.action == "application.submitted" and d.get("channel") == "reissue":
                kind, info["replaces"] = "application_reissue", d.get("replaces")
            else:
                continue
            out.append(
                row
                | {
                    "kind": kind,
                    "enterprise_id": app.enterprise_id,
                    "application_id": app.id,
                    "seal_id": None,
                    "details": info,
                }
            )
            continue
        seal = seals.get(e.target_id)
        if seal is None:
            continue
        info = {
            "es_id": seal.es_id,
            "name": seal.name,
            "seal_type": seal.seal_type.code,
            "valid_end": _iso(seal.valid_end),
        }
        if e.action == "seal.issued":
            kind = "seal_issued"
            info["renews"] = renews.get(seal.id)
        elif e.action == "seal.revoked":
            kind = "seal_revoked"
            info |= {
                "reason": d.get("reason"),
                "at": d.get("revoked_at") or _iso(e.occurred_at),
                "superseded_by": d.get("superseded_by"),
                "request": d.get("request"),
                "licence_event": bool(d.get("licence_event")),
            }
        elif e.action in ("seal.suspended", "seal.resumed"):
            kind = "seal_suspended" if e.action == "seal.suspended" else "seal_resumed"
            info["at"] = d.get("at") or _iso(e.occurred_at)
        else:
            continue
        out.append(
            row
            | {
                "kind": kind,
                "enterprise_id": seal.enterprise_id,
                "seal_id": seal.id,
                "application_id": seal.application_id if kind == "seal_issued" else None,
                "details": info,
            }
        )
    return out


# ------------------------------------------------------------------------------------------------
# The daily expiry scan


def scan_expiry(ctx: ServiceContext, holder: str | None = None) -> tuple[int, dt.date | None]:
    """Once per local day: a reminder for each active or suspended seal that has come within a
    reminder distance of its validEnd. Returns (reminders recorded, the day scanned) or (0, None)
    when today was scanned already."""
    tz = _zone(ctx)
    now = ctx.clock.now()
    today = now.astimezone(tz).date()
    distances = sorted(ctx.settings.notify_reminder_days)
    # validEnd on a local day up to today + the largest distance: before the midnight after it
    limit = dt.datetime.combine(today + dt.timedelta(days=distances[-1] + 1), dt.time(0), tzinfo=tz).astimezone(UTC)
    with ctx.transaction() as s:
        _fence(ctx, s, holder)
        state = _state(s)
        if state.expiry_scanned_on is not None and state.expiry_scanned_on >= today:
            return 0, None
        rows = []
        for seal in s.execute(
            select(Seal.id, Seal.es_id, Seal.enterprise_id, Seal.name, Seal.seal_type, Seal.valid_end)
            .where(
                Seal.status.in_((SealStatus.ACTIVE, SealStatus.SUSPENDED)), Seal.valid_end > now, Seal.valid_end < limit
            )
            .order_by(Seal.id)
        ):
            left = (seal.valid_end.astimezone(tz).date() - today).days
            reached = [d for d in distances if d >= left]
            if not reached:
                continue
            threshold = reached[0]
            rows.append(
                {
                    "dedupe_key": f"expiry:{seal.id}:{threshold}",
                    "audit_seq": None,
                    "occurred_at": now,
                    "created_at": now,
                    "state": "pending",
                    "digest_id": None,
                    "kind": "seal_expiring",
                    "enterprise_id": seal.enterprise_id,
                    "seal_id": seal.id,
                    "application_id": None,
                    "details": {
                        "es_id": seal.es_id,
                        "name": seal.name,
                        "seal_type": seal.seal_type.code,
                        "valid_end": _iso(seal.valid_end),
                        "days_left": max(left, 0),
                        "threshold": threshold,
                    },
                }
            )
        created = _insert_new(s, rows)
        state.expiry_scanned_on = today
        return created, today


# ------------------------------------------------------------------------------------------------
# Digests


@functools.cache
def _templates(html: bool) -> jinja2.Environment:
    """One environment per output type: the sentences (_notices.txt) are shared, and escaped for HTML
    in the HTML environment, where every template escapes (a macro is compiled by the environment
    that loads it, whatever the template importing it)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _local(text: str | None, tz: ZoneInfo, with_time: bool = True) -> str:
    if not text:
        return ""
    when = dt.datetime.fromisoformat(text).astimezone(tz)
    if not with_time:
        return when.strftime("%Y-%m-%d")
    off = when.utcoffset() or dt.timedelta()
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{when:%Y-%m-%d %H:%M} (UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"


def _view(ctx: ServiceContext, n: Notification, tz: ZoneInfo) -> dict[str, Any]:
    """What the templates need to say one notice."""
    d = dict(n.details or {})
    base = ctx.settings.base_url
    st = SealType(d["seal_type"]) if d.get("seal_type") else None
    reason_zh, reason_en = _REQUESTS.get(d.get("request") or "") or _REASONS.get(
        d.get("reason") or "", (str(d.get("reason") or ""), str(d.get("reason") or ""))
    )
    if d.get("licence_event") and d.get("reason") == "cessationOfOperation":
        reason_zh, reason_en = (
            "营业执照注销或吊销",
            "the business licence was cancelled or revoked (cessationOfOperation)",
        )
    link = (
        f"{base}/seals/{d['es_id']}"
        if d.get("es_id")
        else f"{base}/portal/applications/{d['application']}"
        if d.get("application")
        else f"{base}/portal/"
    )
    return {
        "kind": n.kind,
        "es_id": d.get("es_id"),
        "name": d.get("name"),
        "application": d.get("application"),
        "type_zh": st.chinese if st else "",
        "type_en": st.english if st else "",
        "reason": d.get("reason") or "",
        "reason_zh": reason_zh,
        "reason_en": reason_en,
        # times people read: the display zone, labelled (北京时间 / Beijing time); dates as the day there
        "at": format_local(d.get("at"), ctx.settings.display_timezone, "zh"),
        "at_en": format_local(d.get("at"), ctx.settings.display_timezone, "en"),
        "valid_end": _local(d.get("valid_end"), tz, with_time=False),
        "renews": d.get("renews"),
        "superseded_by": d.get("superseded_by"),
        "days_left": d.get("days_left"),
        "link": link,
    }


def _fold(
    session: Session, notices: list[Notification], now: dt.datetime
) -> tuple[list[Notification], list[Notification]]:
    """(shown, folded): an approval whose seal was issued is said by the issuance; a reminder for a
    seal revoked or expired since, or older than another reminder for it, says nothing useful."""
    issued_apps = {n.application_id for n in notices if n.kind == "seal_issued" and n.application_id}
    expiring = [n for n in notices if n.kind == "seal_expiring"]
    latest: dict[int | None, Notification] = {}
    for n in expiring:
        if n.seal_id not in latest or n.details.get("threshold", 0) < latest[n.seal_id].details.get("threshold", 0):
            latest[n.seal_id] = n
    live = (
        {
            r.id
            for r in session.execute(
                select(Seal.id).where(
                    Seal.id.in_([n.seal_id for n in expiring if n.seal_id is not None]),
                    Seal.status.in_((SealStatus.ACTIVE, SealStatus.SUSPENDED)),
                    Seal.valid_end > now,
                )
            )
        }
        if expiring
        else set()
    )
    shown, folded = [], []
    for n in notices:
        if (
            n.kind == "application_approved"
            and n.application_id in issued_apps
            or n.kind == "seal_expiring"
            and (n.seal_id not in live or latest.get(n.seal_id) is not n)
        ):
            folded.append(n)
        else:
            shown.append(n)
    return shown, folded


def _copies(session: Session, enterprise_id: int, shown: list[Notification], to: str) -> list[str]:
    """Authorised persons to copy: those granted every seal the digest speaks of (none if it speaks
    of an application, which only the legal representative sees)."""
    seal_ids = {n.seal_id for n in shown}
    if not seal_ids or None in seal_ids:
        return []
    granted: dict[int, set[int]] = defaultdict(set)
    emails: dict[int, str] = {}
    for pid, email, seal_id in session.execute(
        select(EnterprisePerson.id, EnterprisePerson.email, SealGrant.seal_id)
        .join(SealGrant, SealGrant.person_id == EnterprisePerson.id)
        .where(
            EnterprisePerson.enterprise_id == enterprise_id,
            EnterprisePerson.active.is_(True),
            EnterprisePerson.email != "",
            SealGrant.seal_id.in_(list(seal_ids)),
        )
    ):
        granted[pid].add(seal_id)
        emails[pid] = email.strip()
    out = {emails[p] for p, ids in granted.items() if ids >= seal_ids and emails[p]}
    return sorted(a for a in out if a.lower() != to.lower())


@dataclass
class _Job:
    digest_id: int
    uscc: str
    message: EmailMessage
    text: str
    shown: list[int]
    folded: list[int]
    to: str
    cc: list[str]


def _message(
    ctx: ServiceContext,
    ent: Enterprise,
    digest: NotificationDigest,
    shown: list[Notification],
    to: str,
    cc: list[str],
    day: dt.date,
) -> tuple[EmailMessage, str]:
    """The digest e-mail. Raises ValueError (or a header parsing error) for an unusable address."""
    tz = _zone(ctx)
    s = ctx.settings
    base = s.base_url
    data = {
        "enterprise": ent.name,
        "uscc": ent.uscc,
        "day": day.isoformat(),
        "items": [_view(ctx, n, tz) for n in shown],
        "portal_url": f"{base}/portal/",
        "status_url": f"{base}/seals/",
        "authority": s.authority_name,
        "authority_en": s.authority_name_en,
    }
    text = _templates(False).get_template("digest.txt").render(**data)
    html = _templates(True).get_template("digest.html").render(**data)
    sender = Address(display_name=s.authority_name, addr_spec=s.mail_from)
    msg = EmailMessage()
    msg["Subject"] = f"【电子印章】{day.isoformat()} 通知 {len(shown)} 项 / Electronic seal notices ({len(shown)})"
    msg["From"] = sender
    msg["To"] = Address(display_name=ent.name, addr_spec=to)
    if cc:
        msg["Cc"] = [Address(addr_spec=a) for a in cc]
    msg["Date"] = format_datetime(ctx.clock.now())
    msg["Message-ID"] = f"<notify-{digest.id}.{ent.uscc.lower()}@{sender.domain or 'localhost'}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: no automatic replies to this
    msg["Content-Language"] = "zh-CN, en"
    msg.set_content(text, cte="base64")  # 7-bit safe whatever the server supports
    msg.add_alternative(html, subtype="html", cte="base64")
    return msg, text


def _usable(address: str) -> bool:
    return bool(address) and "@" in address and not any(c.isspace() or ord(c) < 32 for c in address)


def _give_up(session: Session, enterprise_id: int, digest: NotificationDigest | None, why: str) -> int:
    n = session.execute(
        update(Notification)
        .where(Notification.enterprise_id == enterprise_id, Notification.state == "pending")
        .values(state="undeliverable")
    ).rowcount
    if digest is not None:
        digest.status, digest.last_error = "undeliverable", why[:1000]
    return int(n or 0)


def _assemble(
    ctx: ServiceContext, holder: str | None, enterprise_id: int, day: dt.date, report: RunReport
) -> _Job | None:
    """Make (or take up again) the enterprise's digest of ``day`` with all its pending notices and
    mark it ``sending``; None when there is nothing to send today."""
    now = ctx.clock.now()
    with ctx.transaction() as s:
        _fence(ctx, s, holder)
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
        if not _usable(to):
            report.undeliverable += _give_up(s, enterprise_id, digest, "the enterprise has no usable contact address")
            return None
        shown, folded = _fold(s, notices, now)
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
        cc = _copies(s, enterprise_id, shown, to)
        try:
            msg, text = _message(ctx, ent, digest, shown, to, cc, day)
        except Exception as exc:  # noqa: BLE001 - an address the e-mail library refuses
            why = f"the contact address {to!r} cannot be used: {type(exc).__name__}: {exc}"
            report.undeliverable += _give_up(s, enterprise_id, digest, why)
            report.rejected.append((ent.uscc, why))
            return None
        digest.status, digest.attempts, digest.last_attempt_at = "sending", digest.attempts + 1, now
        digest.to_address, digest.cc_addresses, digest.subject = to, cc, str(msg["Subject"])[:300]
        digest.message_id, digest.notices = str(msg["Message-ID"]), len(shown)
        return _Job(digest.id, ent.uscc, msg, text, [n.id for n in shown], [n.id for n in folded], to, cc)


def _finish(ctx: ServiceContext, actor: Actor, job: _Job, status: str, error: str | None = None) -> None:
    """Record the outcome of one SMTP transaction (whatever happened to the lease meanwhile: it is
    what happened)."""
    now = ctx.clock.now()
    with ctx.transaction() as s:
        d = s.get(NotificationDigest, job.digest_id)
        assert d is not None
        d.status, d.last_error = status, (error[:1000] if error else None)
        if status == "sent":
            d.sent_at, d.body_text = now, job.text
            s.execute(update(Notification).where(Notification.id.in_(job.shown)).values(state="sent"))
            if job.folded:
                s.execute(update(Notification).where(Notification.id.in_(job.folded)).values(state="folded"))
            audit.record(
                s,
                ctx,
                actor,
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
            audit.record(
                s,
                ctx,
                actor,
                "notification.undeliverable",
                "enterprise",
                job.uscc,
                digest=d.id,
                day=d.local_day.isoformat(),
                to=job.to,
                error=(error or "")[:500],
            )


def _send_all(ctx: ServiceContext, actor: Actor, holder: str | None, mailer: SmtpMailer, report: RunReport) -> None:
    day = ctx.clock.now().astimezone(_zone(ctx)).date()
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
        job = _assemble(ctx, holder, eid, day, report)
        if job is None:
            continue
        try:
            refused = mailer.send(job.message)
        except ServerUnavailable as exc:
            _finish(ctx, actor, job, "failed", str(exc))
            report.failed.append((job.uscc, str(exc)))
            report.stopped = str(exc)
            return
        except Rejected as exc:
            _finish(ctx, actor, job, "undeliverable", str(exc))
            report.rejected.append((job.uscc, str(exc)))
        except TemporaryFailure as exc:
            _finish(ctx, actor, job, "failed", str(exc))
            report.failed.append((job.uscc, str(exc)))
        else:
            note = "; ".join(f"{a}: {why}" for a, why in refused.items()) or None
            _finish(ctx, actor, job, "sent", f"refused {note}" if note else None)
            report.sent.append((job.uscc, len(job.shown), job.to))


# ------------------------------------------------------------------------------------------------
# A run


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


def _mark_undeliverable(ctx: ServiceContext, holder: str | None) -> int:
    """Pending notices of enterprises without a contact address: recorded, marked not deliverable."""
    with ctx.transaction() as s:
        _fence(ctx, s, holder)
        none = select(Enterprise.id).where(Enterprise.contact_email == "")
        n = s.execute(
            update(Notification)
            .where(Notification.state == "pending", Notification.enterprise_id.in_(none))
            .values(state="undeliverable")
        ).rowcount
        s.execute(
            update(NotificationDigest)
            .where(NotificationDigest.status.in_(("sending", "failed")), NotificationDigest.enterprise_id.in_(none))
            .values(status="undeliverable", last_error="the enterprise has no contact address")
        )
        return int(n or 0)


def _count_pending(ctx: ServiceContext, report: RunReport) -> None:
    with ctx.reader() as s:
        n, ents = s.execute(
            select(func.count(), func.count(func.distinct(Notification.enterprise_id))).where(
                Notification.state == "pending"
            )
        ).one()
    report.pending, report.pending_enterprises = int(n), int(ents)


def run_once(ctx: ServiceContext, actor: Actor) -> RunReport:
    """One pass under the ``notify`` lease: collect notices from the audit log, the expiry scan (once
    per local day), then each enterprise's digest. Another run holding the lease: skipped."""
    report = RunReport()
    holder = _holder()
    try:
        with lease(ctx, LEASE_NAME, holder, lease_ttl(ctx)):
            try:
                report.collected, report.audit_seq = collect(ctx, holder)
                report.reminders, report.scanned = scan_expiry(ctx, holder)
                report.undeliverable += _mark_undeliverable(ctx, holder)
                if ctx.settings.smtp_host:
                    with SmtpMailer(ctx.settings) as mailer:
                        report.smtp = mailer.description
                        _send_all(ctx, actor, holder, mailer, report)
            except LeaseLost as exc:
                report.stopped = str(exc)
    except Conflict as exc:  # from taking the lease: another run holds it
        report.skipped = f"another notification run holds the lease ({exc})"
        return report
    _count_pending(ctx, report)
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
