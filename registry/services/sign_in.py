"""The sign-in rules shared by staff (services.staff_auth) and enterprises' authorised persons
(services.enterprise_people): throttling and lock-out, TOTP enrolment, one use per code.

An account is any row with the columns ``failed_logins``, ``locked_until``, ``totp_secret_blob``,
``totp_enabled``, ``totp_last_step`` and ``last_login_at``. Wrong passwords and wrong codes count
together; after ``REGISTRY_LOGIN_MAX_FAILURES`` the account is locked for
``REGISTRY_LOGIN_LOCK_MINUTES`` (a correct password does not unlock it). A code is accepted once:
its time step must be newer than the last one used; a used code and a wrong code get the same
answer. The callers read the account row ``FOR UPDATE`` (PostgreSQL), so parallel attempts are
counted one after the other. A name that matches no account is audited too (``signin.unknown``).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from ..domain.display_time import LocalTime
from ..domain.errors import DomainError, M, ValidationError
from ..pki import totp
from ..pki.keys import KeyFormatError, unwrap_secret, wrap_secret
from .context import Actor, ServiceContext
from .core.tx import Tx

__all__ = [
    "SignInFailed",
    "AccountLocked",
    "Account",
    "check_not_locked",
    "record_failure",
    "record_unknown",
    "new_secret",
    "read_secret",
    "accept_code",
    "WRONG_PASSWORD",
    "WRONG_CODE",
    "START_AGAIN",
    "PASSWORD",
    "CODE",
    "RESTART",
    "CURRENT_PASSWORD",
    "LOCKED_OUT",
    "typed_name",
    "SIGN_IN",
]

WRONG_PASSWORD = M("signin.wrong_password", "wrong username or password", "用户名或密码错误")
WRONG_CODE = M(
    "signin.wrong_code",
    "wrong code, or a code that was already used: wait for the next one",
    "动态码错误或已被使用，请等待下一个动态码",
)
START_AGAIN = M("signin.start_again", "the sign-in was not completed; start again", "登录未完成，请重新开始")
LOCKED = M(
    "signin.locked",
    "too many failed attempts: the account is locked for another {minutes} min (until {until})",
    "失败次数过多：账号已锁定，还需 {minutes} 分钟（至 {until}）",
)
NO_SECOND_FACTOR = M(
    "signin.no_second_factor",
    "no second factor is set up for this account; start again",
    "该账号尚未设置第二因素，请重新开始",
)
UNREADABLE_SECRET = M(
    "signin.unreadable_secret",
    "the second factor of {who} cannot be read: {reason}",
    "{who} 的第二因素无法读取：{reason}",
)


# What a refused sign-in step was, as a code callers act on (never the English text of the message):
PASSWORD = "password"  # the first factor: an unknown name or a wrong password (one answer for both)
CODE = "code"  # a wrong code, or one already used (one answer for both)
RESTART = "start_again"  # the pending sign-in is gone (account deactivated meanwhile): start again
CURRENT_PASSWORD = "current_password"  # a password change with a wrong current password
LOCKED_OUT = "locked"  # too many failures (AccountLocked)

# The transaction's actor of a sign-in step that knows only an account's id (enrolment, the code):
# each audit event of such a step names its actor (the account), so this name is never recorded.
SIGN_IN = Actor(name="sign-in", kind="system")

_REASONS = {
    WRONG_PASSWORD.code: PASSWORD,
    "people.wrong_login": PASSWORD,  # services.person_sign_in.WRONG_LOGIN (USCC, username or password)
    WRONG_CODE.code: CODE,
    START_AGAIN.code: RESTART,
    "staff.current_password_wrong": CURRENT_PASSWORD,
    "people.current_password_wrong": CURRENT_PASSWORD,
}


class SignInFailed(DomainError):
    """Wrong username, password or code (deliberately not saying which of username/password).

    :attr:`reason` says which step failed (:data:`PASSWORD`, :data:`CODE`, :data:`RESTART`,
    :data:`CURRENT_PASSWORD`; any other refusal, e.g. an inactive licence, its message's code)."""

    http_status = 401

    @property
    def reason(self) -> str:
        code = self.code or ""
        return _REASONS.get(code, code)


class AccountLocked(DomainError):
    """Too many failed attempts: the account is locked for a while (:attr:`reason` :data:`LOCKED_OUT`)."""

    http_status = 423
    reason = LOCKED_OUT


class Account(Protocol):
    failed_logins: int
    locked_until: dt.datetime | None
    totp_secret_blob: bytes | None
    totp_enabled: bool
    totp_last_step: int | None
    last_login_at: dt.datetime | None


def typed_name(text: str | None, *, upper: bool = False) -> str:
    """A typed username or USCC as looked up: trimmed, case-folded, at most 100 characters, and no
    control characters (PostgreSQL refuses a NUL in text; such a name matches no account)."""
    value = (text or "").strip()[:100]
    value = value.upper() if upper else value.lower()
    return "" if any(ord(c) < 32 or ord(c) == 127 for c in value) else value


def check_not_locked(ctx: ServiceContext, account: Account, now: dt.datetime) -> None:
    if account.locked_until is not None and account.locked_until > now:
        minutes = max(1, int((account.locked_until - now).total_seconds() + 59) // 60)
        raise AccountLocked(
            LOCKED, minutes=minutes, until=LocalTime(account.locked_until, ctx.settings.display_timezone)
        )


def record_failure(
    tx: Tx, account: Account, step: str, target_type: str, target_id: str, *, actor: Actor | None = None
) -> None:
    """Count a wrong password or code; lock the account at the limit (from ``tx.now``). Audited
    either way, by ``actor`` or the transaction's actor."""
    settings = tx.ctx.settings
    account.failed_logins = (account.failed_logins or 0) + 1
    details: dict[str, object] = {"step": step, "failures": account.failed_logins}
    if account.failed_logins >= settings.login_max_failures:
        account.locked_until = tx.now + dt.timedelta(minutes=settings.login_lock_minutes)
        account.failed_logins = 0
        details["locked_until"] = account.locked_until.isoformat()
        tx.audit("signin.locked", target_type, target_id, actor=actor, **details)
    else:
        tx.audit("signin.failed", target_type, target_id, actor=actor, **details)


def record_unknown(tx: Tx, target_type: str, typed: str) -> None:
    """A sign-in with a name that matches no active account: audited by the transaction's actor
    (what was typed, cut short)."""
    tx.audit("signin.unknown", target_type, typed[:64] or "-", step="password")


def new_secret(ctx: ServiceContext, account: Account, purpose: str) -> str:
    """A fresh TOTP secret, stored wrapped under the key-encryption key (bound to ``purpose``)."""
    keyring = ctx.require_keyring()
    secret = totp.new_secret()
    account.totp_secret_blob = wrap_secret(secret.encode(), keyring.keys[keyring.current], keyring.current, purpose)
    account.totp_last_step = None
    return secret


def read_secret(ctx: ServiceContext, account: Account, purpose: str, who: str) -> str:
    """The account's (enrolled or pending) TOTP secret, unwrapped."""
    keyring = ctx.require_keyring()
    try:
        return unwrap_secret(account.totp_secret_blob or b"", keyring.keys, purpose).decode()
    except KeyFormatError as exc:
        raise ValidationError(UNREADABLE_SECRET, who=who, reason=exc) from None


def accept_code(
    ctx: ServiceContext, account: Account, code: str, now: dt.datetime, purpose: str, who: str
) -> int | None:
    """The time step of a valid, not yet used code for the account's secret; None if wrong or used.
    On success the account is marked enrolled, unlocked and signed in at ``now``."""
    secret = read_secret(ctx, account, purpose, who)
    step = totp.match(secret, code, now)
    if step is None or (account.totp_last_step is not None and step <= account.totp_last_step):
        return None
    account.totp_enabled = True
    account.totp_last_step = step
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    return step
