"""The sign-in rules shared by staff (services.staff_auth) and enterprises' authorised persons
(services.enterprise_people): throttling and lock-out, TOTP enrolment, one use per code.

An account is any row with the columns ``failed_logins``, ``locked_until``, ``totp_secret_blob``,
``totp_enabled``, ``totp_last_step`` and ``last_login_at``. Wrong passwords and wrong codes count
together; after ``REGISTRY_LOGIN_MAX_FAILURES`` the account is locked for
``REGISTRY_LOGIN_LOCK_MINUTES`` (a correct password does not unlock it). A code is accepted once:
its time step must be newer than the last one used.
"""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy.orm import Session

from ..domain.errors import DomainError, ValidationError
from ..pki import totp
from ..pki.keys import KeyFormatError, unwrap_secret, wrap_secret
from . import audit
from .context import Actor, ServiceContext

__all__ = ["SignInFailed", "AccountLocked", "Account", "check_not_locked", "record_failure", "new_secret",
           "accept_code"]


class SignInFailed(DomainError):
    """Wrong username, password or code (deliberately not saying which of username/password)."""

    http_status = 401


class AccountLocked(DomainError):
    http_status = 423


class Account(Protocol):
    failed_logins: int
    locked_until: dt.datetime | None
    totp_secret_blob: bytes | None
    totp_enabled: bool
    totp_last_step: int | None
    last_login_at: dt.datetime | None


def check_not_locked(account: Account, now: dt.datetime) -> None:
    if account.locked_until is not None and account.locked_until > now:
        minutes = max(1, int((account.locked_until - now).total_seconds() + 59) // 60)
        raise AccountLocked(f"too many failed attempts: the account is locked for another {minutes} min "
                            f"(until {account.locked_until:%H:%M} UTC)")


def record_failure(session: Session, ctx: ServiceContext, account: Account, now: dt.datetime, step: str,
                   actor: Actor, target_type: str, target_id: str) -> None:
    """Count a wrong password or code; lock the account at the limit. Audited either way."""
    account.failed_logins = (account.failed_logins or 0) + 1
    details: dict[str, object] = {"step": step, "failures": account.failed_logins}
    if account.failed_logins >= ctx.settings.login_max_failures:
        account.locked_until = now + dt.timedelta(minutes=ctx.settings.login_lock_minutes)
        account.failed_logins = 0
        details["locked_until"] = account.locked_until.isoformat()
        audit.record(session, ctx, actor, "signin.locked", target_type, target_id, **details)
    else:
        audit.record(session, ctx, actor, "signin.failed", target_type, target_id, **details)


def new_secret(ctx: ServiceContext, account: Account, purpose: str) -> str:
    """A fresh TOTP secret, stored wrapped under the key-encryption key (bound to ``purpose``)."""
    keyring = ctx.require_keyring()
    secret = totp.new_secret()
    account.totp_secret_blob = wrap_secret(secret.encode(), keyring.keys[keyring.current], keyring.current, purpose)
    account.totp_last_step = None
    return secret


def accept_code(ctx: ServiceContext, account: Account, code: str, now: dt.datetime, purpose: str,
                who: str) -> int | None:
    """The time step of a valid, not yet used code for the account's secret; None if wrong or used.
    On success the account is marked enrolled, unlocked and signed in at ``now``."""
    keyring = ctx.require_keyring()
    try:
        secret = unwrap_secret(account.totp_secret_blob or b"", keyring.keys, purpose).decode()
    except KeyFormatError as exc:
        raise ValidationError(f"the second factor of {who} cannot be read: {exc}") from None
    step = totp.match(secret, code, now)
    if step is None or (account.totp_last_step is not None and step <= account.totp_last_step):
        return None
    account.totp_enabled = True
    account.totp_last_step = step
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    return step


def code_failure_message(account: Account, code: str, now: dt.datetime, ctx: ServiceContext, purpose: str) -> str:
    """Which message a refused code gets: wrong, or right but already used."""
    keyring = ctx.require_keyring()
    try:
        secret = unwrap_secret(account.totp_secret_blob or b"", keyring.keys, purpose).decode()
    except KeyFormatError:
        return "wrong code"
    return "wrong or already used code" if totp.match(secret, code, now) is not None else "wrong code"
