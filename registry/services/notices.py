"""The notice centre of the enterprise portal (/portal/notices): the notices the registry records
for an enterprise (registry.services.notify: from the audit log and the daily expiry scan), newest
first, with what became of their e-mail, and each reader's unread count.

Who sees what (the rules of registry.services.portal_access): the legal representative sees every
notice of the enterprise; an authorised person only the notices about seals granted to them (none
about applications, which only the legal representative follows). Another enterprise's notice is
*not found*, whatever id is asked for.

Read or not: ``notice_reads`` keeps, per reader (the legal representative, each person), the newest
notification id shown to them; opening the list moves it up (never down). The unread count is one
indexed count of the visible notices above it.

Not waiting for the e-mail job: before the list or the badge is computed, :func:`refresh` turns the
audit events the notification job has not read yet into notices, with notify's own derivation
(:func:`notify.collect`, one batch of events per call: the rest at the next page view or the job's
run). The derivation is global (one watermark over the audit log), so it runs without the job's
lease: taking the lease from a page view would make a concurrent ``registry notify run`` skip its
run. That is safe: collecting is serialised by the ``notify_state`` row lock (BEGIN IMMEDIATE on
SQLite), each notice has a unique key, and the e-mails are untouched (notices stay ``pending`` for
the job's digest). Expiry reminders are left to the job's daily scan (it reads every seal near its
end: no work for a page view).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from ..db.models import AuditEvent, Enterprise, NoticeRead, Notification, NotificationDigest, NotifyState, SealGrant
from ..domain.errors import M, NotFound
from . import notify
from .context import ServiceContext
from .core.tx import begin
from .portal_access import Principal

__all__ = ["PAGE", "Notice", "NoticePage", "refresh", "unread_count", "page", "notice", "mark_read"]

PAGE = 50
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    id: int
    kind: str
    occurred_at: dt.datetime
    state: str  # the e-mail: pending, sent, folded, undeliverable
    mail: str  # what to say of it: the state, but ``undeliverable`` at once for
    # a pending notice of an enterprise without a contact address
    sent_at: dt.datetime | None  # when the digest carrying it was sent
    es_id: str | None  # the seal it is about (None: an application's notice)
    seal_name: str | None
    seal_type: str | None
    application_id: int | None
    details: dict[str, Any]
    unread: bool


@dataclass(frozen=True)
class NoticePage:
    items: list[Notice]
    older: int | None  # ``before`` for the next (older) page; None on the last page
    unread: int  # unread before this page was shown
    has_contact: bool  # the enterprise has a contact e-mail address


def _reader(principal: Principal) -> int:
    return principal.person_id or 0


def _visible(principal: Principal) -> Select[*tuple[Any, ...]]:
    """The condition on ``notifications`` for this principal (the caller adds columns and order)."""
    query = select(Notification.id).where(Notification.enterprise_id == principal.enterprise_id)
    if principal.person_id is not None:
        query = query.where(
            Notification.seal_id.in_(select(SealGrant.seal_id).where(SealGrant.person_id == principal.person_id))
        )
    return query


def _seen(principal: Principal) -> Any:
    """The reader's watermark as a scalar subquery (0 when they have never opened the list)."""
    return func.coalesce(
        select(NoticeRead.seen_id)
        .where(NoticeRead.enterprise_id == principal.enterprise_id, NoticeRead.reader == _reader(principal))
        .scalar_subquery(),
        0,
    )


def refresh(ctx: ServiceContext) -> int:
    """Record the notices of audit events the notification job has not read yet (one batch at
        most); returns how many were new. Only when an event a notice is made of is waiting: other
    events (sign-ins...) leave the job's place where it is, and a page view writes nothing. A database that is busy (or a lock it waits for too long)
        leaves it to the next call: the page is shown with what is recorded."""
    try:
        with ctx.reader() as s:
            watermark = s.scalar(select(NotifyState.audit_seq).where(NotifyState.id == 1))
            if watermark is not None and not s.scalar(
                select(exists().where(AuditEvent.seq > watermark, AuditEvent.action.in_(notify.ACTIONS)))
            ):
                return 0  # nothing a notice is made of since the job's place (a sign-in...): no write
        return notify.collect(ctx, None, batches=1)[0]
    except DBAPIError as exc:  # e.g. a lock timeout: not this page's business
        log.warning("notice centre: notices not collected this time: %s", exc)
        return 0


def unread_count(ctx: ServiceContext, principal: Principal) -> int:
    """The notices this principal can see and has not been shown yet: one indexed count."""
    with ctx.reader() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(
                    _visible(principal).where(Notification.id > _seen(principal)).subquery()
                )
            )
            or 0
        )


def _items(s: Session, principal: Principal, query: Select[*tuple[Any, ...]], seen: int) -> list[Notice]:
    contact = _contact(s, principal)
    rows = s.execute(
        query.add_columns(
            Notification.kind,
            Notification.occurred_at,
            Notification.state,
            Notification.application_id,
            Notification.seal_id,
            Notification.details,
            NotificationDigest.sent_at,
        ).outerjoin(NotificationDigest, NotificationDigest.id == Notification.digest_id)
    ).all()
    out = []
    for r in rows:
        d = dict(r.details or {})
        mail = "undeliverable" if r.state == "pending" and not contact else r.state
        out.append(
            Notice(
                id=r.id,
                kind=r.kind,
                occurred_at=r.occurred_at,
                state=r.state,
                mail=mail,
                sent_at=r.sent_at if r.state == "sent" else None,
                es_id=d.get("es_id") if r.seal_id is not None else None,
                seal_name=d.get("name"),
                seal_type=d.get("seal_type"),
                application_id=r.application_id if r.seal_id is None else None,
                details=d,
                unread=r.id > seen,
            )
        )
    return out


def _contact(s: Session, principal: Principal) -> bool:
    email = s.scalar(select(Enterprise.contact_email).where(Enterprise.id == principal.enterprise_id)) or ""
    return bool(email.strip())


def _watermark(s: Session, principal: Principal) -> int:
    return int(s.scalar(select(_seen(principal))) or 0)


def page(ctx: ServiceContext, principal: Principal, before: int | None = None, size: int = PAGE) -> NoticePage:
    """One page of this principal's notices, newest first: those with an id below ``before``."""
    with ctx.reader() as s:
        seen = _watermark(s, principal)
        query = _visible(principal)
        if before is not None and before < 2**31:  # (a larger one is above every id: the newest page)
            query = query.where(Notification.id < before)
        items = _items(s, principal, query.order_by(Notification.id.desc()).limit(size + 1), seen)
        unread = int(
            s.scalar(select(func.count()).select_from(_visible(principal).where(Notification.id > seen).subquery()))
            or 0
        )
        contact = _contact(s, principal)
    older = items[size - 1].id if len(items) > size else None
    return NoticePage(items=items[:size], older=older, unread=unread, has_contact=contact)


def notice(ctx: ServiceContext, principal: Principal, notice_id: int) -> Notice:
    """One notice this principal can see; NotFound for any other id (another enterprise's too)."""
    found: list[Notice] = []
    if 0 < notice_id < 2**31:  # (an id no notice can have is not sent to the database: SQLite overflows)
        with ctx.reader() as s:
            found = _items(
                s, principal, _visible(principal).where(Notification.id == notice_id), _watermark(s, principal)
            )
    if not found:
        raise NotFound(
            M("portal.no_notice", "no notice {id} for you in this enterprise", "本企业没有您可查看的通知 {id}"),
            id=notice_id,
        )
    return found[0]


def mark_read(ctx: ServiceContext, principal: Principal, upto: int) -> None:
    """This reader has been shown the notices up to id ``upto``: the watermark moves up, never down."""
    if upto <= 0:
        return
    key = (principal.enterprise_id, _reader(principal))
    now = ctx.clock.now()
    for _attempt in range(2):
        try:
            with begin(ctx, principal.actor) as tx:
                s = tx.session
                row = s.get(NoticeRead, key, with_for_update=True)
                if row is None:
                    s.add(NoticeRead(enterprise_id=key[0], reader=key[1], seen_id=upto, updated_at=now))
                elif row.seen_id < upto:
                    row.seen_id, row.updated_at = upto, now
            return
        except IntegrityError:  # another tab of the same reader recorded it first: update that row
            continue
