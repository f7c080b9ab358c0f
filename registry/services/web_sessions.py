"""Signed-in browser sessions, kept on the server (table ``web_sessions``).

The browser holds a random token (in the Flask session cookie); the database holds its SHA-256, who
signed in, when, the last request and the absolute end. A session is good while its row is not
ended, the last request was within ``REGISTRY_SESSION_IDLE_MINUTES`` and the absolute end
(``REGISTRY_SESSION_MAX_HOURS`` after sign-in) has not come. Sign-out ends the row, so a copied
cookie stops working; deactivating an account or resetting its password or second factor ends all
of that account's rows; a change of the enterprise's legal representative or of its licence ends
the legal representative's (checked on every request by the portal).

The last-seen time is written at most once a minute, so a page view is not a write per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, or_, update
from sqlalchemy.exc import IntegrityError

from ..db.models import UsedChallenge, WebSession
from ..db.session import rowcount
from .context import Actor, ServiceContext
from .core.tx import Tx, begin, reading

__all__ = [
    "Started",
    "Current",
    "start",
    "load",
    "end",
    "end_key",
    "end_all",
    "use_challenge",
    "purge",
    "IDLE",
    "EXPIRED",
    "SIGNED_OUT",
    "ACCOUNT_CHANGED",
    "REPRESENTATIVE_CHANGED",
    "LICENCE_INACTIVE",
]

# why a session ended (web_sessions.end_reason; the pages say it in words)
IDLE = "idle"
EXPIRED = "expired"
SIGNED_OUT = "signed_out"
ACCOUNT_CHANGED = "account_changed"  # deactivated, password or second factor reset, roles gone
REPRESENTATIVE_CHANGED = "representative_changed"
LICENCE_INACTIVE = "licence_inactive"

_TOUCH_SECONDS = 60
_KEEP_ENDED_DAYS = 30
_ACTOR = Actor.system("web-sessions")  # keeps the rows; records no audit events of its own


@dataclass(frozen=True)
class Started:
    token: str  # goes to the browser; never stored
    expires_at: dt.datetime


@dataclass(frozen=True)
class Current:
    """A session found good for this request."""

    key: str
    kind: str
    user_id: int | None
    person_id: int | None
    enterprise_id: int | None
    legal_representative: str | None
    created_at: dt.datetime
    expires_at: dt.datetime


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    tx: Tx,
    kind: str,
    *,
    user_id: int | None = None,
    person_id: int | None = None,
    enterprise_id: int | None = None,
    legal_representative: str | None = None,
) -> Started:
    """A new session row in the caller's transaction (committed with the sign-in's audit event).
    The account's sessions that ended or expired more than 30 days ago are forgotten here."""
    now, session = tx.now, tx.session
    token = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(hours=tx.ctx.settings.session_max_hours)
    session.add(
        WebSession(
            id=_key(token),
            kind=kind,
            user_id=user_id,
            person_id=person_id,
            enterprise_id=enterprise_id,
            legal_representative=legal_representative,
            created_at=now,
            seen_at=now,
            expires_at=expires,
        )
    )
    old = now - dt.timedelta(days=_KEEP_ENDED_DAYS)
    owner = (
        (WebSession.user_id == user_id)
        if user_id is not None
        else (
            (WebSession.person_id == person_id)
            if person_id is not None
            else (WebSession.enterprise_id == enterprise_id)
        )
    )
    session.execute(delete(WebSession).where(owner, or_(WebSession.ended_at < old, WebSession.expires_at < old)))
    return Started(token, expires)


def load(ctx: ServiceContext, token: str | None, kind: str | tuple[str, ...]) -> Current | str | None:
    """The good session of ``token`` (touched), or why it is not good any more (a reason string: the
    row is ended with it), or None if there is no such session at all."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return None
    kinds = (kind,) if isinstance(kind, str) else kind
    key = _key(token)
    now = ctx.clock.now()
    with reading(ctx, _ACTOR) as tx:
        row = tx.session.get(WebSession, key)
        if row is None or row.kind not in kinds:
            return None
        if row.ended_at is not None:
            return row.end_reason or SIGNED_OUT
        found = Current(
            row.id,
            row.kind,
            row.user_id,
            row.person_id,
            row.enterprise_id,
            row.legal_representative,
            row.created_at,
            row.expires_at,
        )
        seen = row.seen_at
    reason = None
    if now >= found.expires_at:
        reason = EXPIRED
    elif (now - seen).total_seconds() > ctx.settings.session_idle_minutes * 60:
        reason = IDLE
    if reason is not None:
        end(ctx, token, reason)
        return reason
    if (now - seen).total_seconds() >= _TOUCH_SECONDS:
        with begin(ctx, _ACTOR) as tx:
            tx.session.execute(
                update(WebSession).where(WebSession.id == key, WebSession.ended_at.is_(None)).values(seen_at=now)
            )
    return found


def end(ctx: ServiceContext, token: str | None, reason: str = SIGNED_OUT) -> None:
    """End one session (sign-out; idle; expired). Unknown tokens are ignored."""
    if not token or not isinstance(token, str) or len(token) > 200:
        return
    with begin(ctx, _ACTOR) as tx:
        end_key(tx, _key(token), reason)


def end_key(tx: Tx, key: str, reason: str) -> None:
    """End the session whose key is ``key``, in the caller's transaction."""
    tx.session.execute(
        update(WebSession)
        .where(WebSession.id == key, WebSession.ended_at.is_(None))
        .values(ended_at=tx.now, end_reason=reason)
    )


def end_all(
    tx: Tx,
    *,
    user_id: int | None = None,
    person_id: int | None = None,
    enterprise_id: int | None = None,
    kind: str | None = None,
    reason: str = ACCOUNT_CHANGED,
    keep: str | None = None,
) -> int:
    """End every open session of a staff account, a person, or an enterprise (optionally one kind;
    all but the session whose key is ``keep``), in the caller's transaction; returns how many."""
    where: list[ColumnElement[bool]] = [WebSession.ended_at.is_(None)]
    if keep is not None:
        where.append(WebSession.id != keep)
    if user_id is not None:
        where.append(WebSession.user_id == user_id)
    if person_id is not None:
        where.append(WebSession.person_id == person_id)
    if enterprise_id is not None:
        where.append(WebSession.enterprise_id == enterprise_id)
    if kind is not None:
        where.append(WebSession.kind == kind)
    if user_id is None and person_id is None and enterprise_id is None:
        raise ValueError("end_all needs an account, a person or an enterprise")
    return rowcount(tx.session.execute(update(WebSession).where(*where).values(ended_at=tx.now, end_reason=reason)))


def use_challenge(tx: Tx, challenge: str) -> bool:
    """Record an e-licence challenge as answered; False if it already was (a replayed credential).
    In the caller's transaction, so a refused sign-in leaves no mark."""
    session = tx.session
    if session.get(UsedChallenge, challenge) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(UsedChallenge(challenge=challenge, used_at=tx.now))
    except IntegrityError:  # answered at the same moment by another request
        return False
    return True


def purge(ctx: ServiceContext) -> int:
    """Forget sessions ended or expired more than 30 days ago and challenges older than a day (a
    challenge is good for minutes). Returns the number of rows removed."""
    now = ctx.clock.now()
    old = now - dt.timedelta(days=_KEEP_ENDED_DAYS)
    with begin(ctx, _ACTOR) as tx:
        session = tx.session
        n = rowcount(
            session.execute(delete(WebSession).where(or_(WebSession.ended_at < old, WebSession.expires_at < old)))
        )
        n += rowcount(session.execute(delete(UsedChallenge).where(UsedChallenge.used_at < now - dt.timedelta(days=1))))
    return n
