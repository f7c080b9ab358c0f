"""Staff sign-in: password (argon2id), then a TOTP second factor enrolled on first sign-in.

Flow: :func:`check_password_step` (username + password) → :func:`start_enrolment` the first time
(a new secret, shown once as a QR code) → :func:`complete_sign_in` (a 6-digit code). Wrong passwords
and wrong codes count together; after ``REGISTRY_LOGIN_MAX_FAILURES`` the account is locked for
``REGISTRY_LOGIN_LOCK_MINUTES`` (a correct password does not unlock it). A code is accepted once:
its time step must be newer than the last one used. Every outcome is an audit event.

The password step alone never signs anyone in: the web layer keeps only "password checked for user
N at time T" until the code is given.
"""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import User
from ..domain.errors import DomainError, InvalidTransition, NotFound, ValidationError
from ..domain.roles import Permission, require
from ..pki import totp
from . import audit, sign_in
from .context import Actor, ServiceContext
from .sign_in import AccountLocked, SignInFailed
from .users import check_password, hash_password

__all__ = ["SignInFailed", "AccountLocked", "PasswordChecked", "check_password_step", "start_enrolment",
           "complete_sign_in", "actor_for", "change_password", "reset_second_factor", "set_language",
           "MIN_PASSWORD_LENGTH"]

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class PasswordChecked:
    user_id: int
    username: str
    needs_enrolment: bool


def _purpose(user: User) -> str:
    return f"totp:{user.id}:{user.username}"


def _system(username: str) -> Actor:
    return Actor(name=username, kind="staff")


def _locked(ctx: ServiceContext, user: User, now: dt.datetime) -> None:
    sign_in.check_not_locked(user, now)


def _fail(session: Session, ctx: ServiceContext, user: User, now: dt.datetime, what: str) -> None:
    sign_in.record_failure(session, ctx, user, now, what, _system(user.username), "user", user.username)


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == (username or "").strip().lower()))


def check_password_step(ctx: ServiceContext, username: str, password: str) -> PasswordChecked:
    """First factor. Raises :class:`SignInFailed` (a generic message) or :class:`AccountLocked`."""
    now = ctx.clock.now()
    failure: DomainError | None = None
    with ctx.transaction() as session:
        user = _user(session, username)
        if user is None or not user.active:
            # same message and a comparable amount of work as a wrong password
            hash_password(password or "x")
            raise SignInFailed("wrong username or password")
        _locked(ctx, user, now)
        if not check_password(user, password or ""):
            _fail(session, ctx, user, now, "password")
            failure = SignInFailed("wrong username or password")
        else:
            result = PasswordChecked(user.id, user.username, not user.totp_enabled)
    if failure is not None:  # raised after the commit, so the failure count is kept
        raise failure
    return result


def start_enrolment(ctx: ServiceContext, user_id: int) -> tuple[str, str]:
    """A fresh TOTP secret for a user who has none enabled yet; returns (secret, otpauth URI).
    Calling it again replaces the pending secret (e.g. the page was reloaded)."""
    ctx.require_keyring()
    with ctx.transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("no such active staff user")
        if user.totp_enabled:
            raise InvalidTransition(f"{user.username} already has a second factor; an admin can reset it")
        secret = sign_in.new_secret(ctx, user, _purpose(user))
        issuer = ctx.settings.authority_name
        return secret, totp.provisioning_uri(secret, user.username, issuer)


def complete_sign_in(ctx: ServiceContext, user_id: int, code: str) -> Actor:
    """Second factor: the code for the enrolled (or pending) secret. Returns the signed-in Actor."""
    ctx.require_keyring()
    now = ctx.clock.now()
    failure: DomainError | None = None
    with ctx.transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise SignInFailed("the sign-in was not completed; start again")
        _locked(ctx, user, now)
        if user.totp_secret_blob is None:
            raise InvalidTransition("no second factor is set up for this account; start again")
        enrolled = not user.totp_enabled
        if sign_in.accept_code(ctx, user, code, now, _purpose(user), user.username) is None:
            failure = SignInFailed(sign_in.code_failure_message(user, code, now, ctx, _purpose(user)))
            _fail(session, ctx, user, now, "code")
        else:
            actor = Actor(name=user.username, kind="staff", roles=user.roles, user_id=user.id)
            if enrolled:
                audit.record(session, ctx, actor, "totp.enrolled", "user", user.username)
            audit.record(session, ctx, actor, "signin.succeeded", "user", user.username)
    if failure is not None:
        raise failure
    return actor


def actor_for(ctx: ServiceContext, user_id: int) -> tuple[Actor, User] | None:
    """The Actor of a signed-in session, or None if the account was deactivated meanwhile."""
    with ctx.reader() as session:
        user = session.get(User, user_id)
        if user is None or not user.active or not user.totp_enabled:
            return None
        return Actor(name=user.username, kind="staff", roles=user.roles, user_id=user.id), user


def change_password(ctx: ServiceContext, actor: Actor, current: str, new: str) -> None:
    if len(new or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"the new password must have at least {MIN_PASSWORD_LENGTH} characters")
    if new == current:
        raise ValidationError("the new password must differ from the current one")
    if actor.name.lower() in new.lower():
        raise ValidationError("the new password must not contain the username")
    with ctx.transaction() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFound("no such user")
        if not check_password(user, current or ""):
            raise SignInFailed("the current password is wrong")
        user.password_hash = hash_password(new)
        user.must_change_password = False
        audit.record(session, ctx, actor, "user.password_changed", "user", user.username)


def reset_second_factor(ctx: ServiceContext, actor: Actor, username: str) -> None:
    """Admin: the user enrols a new authenticator at their next sign-in (lost phone)."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    with ctx.transaction() as session:
        user = _user(session, username)
        if user is None:
            raise NotFound(f"no staff user named {username!r}")
        user.totp_enabled = False
        user.totp_secret_blob = None
        user.totp_last_step = None
        audit.record(session, ctx, actor, "totp.reset", "user", user.username)


def set_language(ctx: ServiceContext, actor: Actor, language: str | None) -> None:
    if language not in (None, "zh", "en"):
        raise ValidationError(f"unsupported language {language!r}: zh or en")
    with ctx.transaction() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFound("no such user")
        user.language = language
