"""Staff sign-in: password (argon2id), then a TOTP second factor enrolled on first sign-in, then a
server-side session (services.web_sessions).

Flow: :func:`check_password_step` (username + password) → :func:`start_enrolment` the first time
(one pending secret, shown as a QR code; a reload shows the same one) → :func:`complete_sign_in`
(a 6-digit code; returns the session token). Wrong passwords and wrong codes count together; after
``REGISTRY_LOGIN_MAX_FAILURES`` the account is locked for ``REGISTRY_LOGIN_LOCK_MINUTES`` (a correct
password does not unlock it). A code is accepted once. Every outcome is an audit event, including a
name that matches no account. The account row is read ``FOR UPDATE``, so parallel attempts on
PostgreSQL are counted one after another.

The password step alone never signs anyone in: the web layer keeps only "password checked for user
N at time T" until the code is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..db.models import User
from ..domain.errors import InvalidTransition, M, NotFound, ValidationError
from ..domain.roles import Permission, require
from ..pki import totp
from . import passwords, sign_in, users, web_sessions
from .context import Actor, ServiceContext
from .core.tx import begin
from .sign_in import AccountLocked, SignInFailed

__all__ = [
    "SignInFailed",
    "AccountLocked",
    "PasswordChecked",
    "check_password_step",
    "start_enrolment",
    "complete_sign_in",
    "signed_in",
    "sign_out",
    "change_password",
    "reset_second_factor",
    "set_language",
]

ALREADY_ENROLLED = M(
    "staff.already_enrolled",
    "{user} already has a second factor; an admin can reset it",
    "{user} 已设置第二因素；如需更换，请管理员重置",
)
CURRENT_WRONG = M("staff.current_password_wrong", "the current password is wrong", "当前密码错误")
BAD_LANGUAGE = M("staff.bad_language", "unsupported language {lang}: zh or en", "不支持的语言 {lang}：应为 zh 或 en")


@dataclass(frozen=True)
class PasswordChecked:
    user_id: int
    username: str
    needs_enrolment: bool


def _purpose(user: User) -> str:
    return f"totp:{user.id}:{user.username}"


def _system(username: str) -> Actor:
    return Actor(name=username, kind="staff")


_R = TypeVar("_R")


def _locked_row(session: Session, query: Select[_R]) -> _R | None:
    return session.scalar(query.with_for_update())


def check_password_step(ctx: ServiceContext, username: str, password: str) -> PasswordChecked:
    """First factor. Raises :class:`SignInFailed` (one message for an unknown name and a wrong
    password, after the same work) or :class:`AccountLocked`."""
    typed = sign_in.typed_name(username)
    failure: Exception | None = None
    with begin(ctx, _system(typed or "-")) as tx:  # the name as typed: the account may not exist
        now = tx.now
        user = _locked_row(tx.session, select(User).where(User.username == typed)) if typed else None
        if user is None or not user.active:
            passwords.dummy_work(password)
            sign_in.record_unknown(tx, "user", typed)
            failure = SignInFailed(sign_in.WRONG_PASSWORD)
        elif user.locked_until is not None and user.locked_until > now:
            passwords.dummy_work(password)  # the same work as any other answer
            sign_in.check_not_locked(ctx, user, now)
        elif not passwords.verify_password(user.password_hash, password or ""):
            sign_in.record_failure(tx, user, "password", "user", user.username, actor=_system(user.username))
            failure = SignInFailed(sign_in.WRONG_PASSWORD)
        else:
            result = PasswordChecked(user.id, user.username, not user.totp_enabled)
    if failure is not None:  # raised after the commit, so the failure count and its audit event are kept
        raise failure
    return result


def start_enrolment(ctx: ServiceContext, user_id: int) -> tuple[str, str]:
    """The pending TOTP secret of a user who has none enabled yet, made on the first call and the
    same on every later one until enrolment completes (a reload shows the QR code already scanned);
    returns (secret, otpauth URI). The secret is kept wrapped in the database, never in a cookie."""
    ctx.require_keyring()
    with begin(ctx, sign_in.SIGN_IN) as tx:
        user = tx.session.get(User, user_id)
        if user is None or not user.active:
            raise SignInFailed(sign_in.START_AGAIN)
        if user.totp_enabled:
            raise InvalidTransition(ALREADY_ENROLLED, user=user.username)
        if user.totp_secret_blob is not None:
            secret = sign_in.read_secret(ctx, user, _purpose(user), user.username)
        else:
            secret = sign_in.new_secret(ctx, user, _purpose(user))
        return secret, totp.provisioning_uri(secret, user.username, ctx.settings.authority_name)


def complete_sign_in(ctx: ServiceContext, user_id: int, code: str) -> tuple[Actor, str]:
    """Second factor: the code for the enrolled (or pending) secret. Returns the signed-in Actor and
    the new session's token (for the cookie)."""
    ctx.require_keyring()
    failure: Exception | None = None
    with begin(ctx, sign_in.SIGN_IN) as tx:
        now = tx.now
        user = _locked_row(tx.session, select(User).where(User.id == user_id))
        if user is None or not user.active:
            raise SignInFailed(sign_in.START_AGAIN)
        sign_in.check_not_locked(ctx, user, now)
        if user.totp_secret_blob is None:
            raise InvalidTransition(sign_in.NO_SECOND_FACTOR)
        enrolled = not user.totp_enabled
        if sign_in.accept_code(ctx, user, code, now, _purpose(user), user.username) is None:
            failure = SignInFailed(sign_in.WRONG_CODE)
            sign_in.record_failure(tx, user, "code", "user", user.username, actor=_system(user.username))
        else:
            actor = Actor(name=user.username, kind="staff", roles=user.roles, user_id=user.id)
            if enrolled:
                tx.audit("totp.enrolled", "user", user.username, actor=actor)
            started = web_sessions.start(tx, "staff", user_id=user.id)
            tx.audit("signin.succeeded", "user", user.username, actor=actor)
    if failure is not None:
        raise failure
    return actor, started.token


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    language: str | None
    must_change_password: bool
    session_key: str


def signed_in(ctx: ServiceContext, token: str | None) -> SignedIn | str | None:
    """The staff member of a session cookie's token; a reason string if the session ended (idle,
    expired, signed out, account changed); None if there is no session."""
    found = web_sessions.load(ctx, token, "staff")
    if not isinstance(found, web_sessions.Current):
        return found
    with ctx.reader() as session:
        user = session.get(User, found.user_id)
        ok = False
        if user is not None and user.active and user.totp_enabled:
            ok = True
            result = SignedIn(
                Actor(name=user.username, kind="staff", roles=user.roles, user_id=user.id),
                user.language,
                user.must_change_password,
                found.key,
            )
    if not ok:
        web_sessions.end(ctx, token, web_sessions.ACCOUNT_CHANGED)
        return web_sessions.ACCOUNT_CHANGED
    return result


def sign_out(ctx: ServiceContext, actor: Actor | None, token: str | None) -> None:
    web_sessions.end(ctx, token, web_sessions.SIGNED_OUT)
    if actor is not None:
        with begin(ctx, actor) as tx:
            tx.audit("signout", "user", actor.name)


def change_password(
    ctx: ServiceContext, actor: Actor, current: str, new: str, *, keep_session: str | None = None
) -> None:
    """The signed-in user's own password. Their other sessions end (the one ``keep_session`` names stays)."""
    passwords.check_new(new, current=current, username=actor.name)
    with begin(ctx, actor) as tx:
        user = _locked_row(tx.session, select(User).where(User.id == actor.user_id))
        if user is None:
            raise NotFound(users.NO_USER, user=actor.name)
        if not passwords.verify_password(user.password_hash, current or ""):
            raise SignInFailed(CURRENT_WRONG)
        user.password_hash = passwords.hash_password(new)
        user.must_change_password = False
        ended = web_sessions.end_all(tx, user_id=user.id, keep=keep_session)
        tx.audit("user.password_changed", "user", user.username, sessions_ended=ended)


def reset_second_factor(ctx: ServiceContext, actor: Actor, username: str) -> None:
    """Admin: the user enrols a new authenticator at their next sign-in (lost phone); their
    sessions end now."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    with begin(ctx, actor) as tx:
        user = _locked_row(tx.session, select(User).where(User.username == sign_in.typed_name(username)))
        if user is None:
            raise NotFound(users.NO_USER, user=username)
        user.totp_enabled = False
        user.totp_secret_blob = None
        user.totp_last_step = None
        ended = web_sessions.end_all(tx, user_id=user.id)
        tx.audit("totp.reset", "user", user.username, sessions_ended=ended)


def set_language(ctx: ServiceContext, actor: Actor, language: str | None) -> None:
    if language not in (None, "zh", "en"):
        raise ValidationError(BAD_LANGUAGE, lang=language)
    with begin(ctx, actor) as tx:
        user = tx.session.get(User, actor.user_id)
        if user is None:
            raise NotFound(users.NO_USER, user=actor.name)
        user.language = language
