"""Staff accounts."""
from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import User, UserRole
from ..domain.errors import Conflict, NotFound, ValidationError
from ..domain.roles import Permission, Role, require
from . import audit
from .context import Actor, ServiceContext

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(ctx: ServiceContext, actor: Actor, username: str, roles: list[Role],
             display_name: str = "") -> tuple[User, str]:
    """Create a staff account with a one-time password (returned once, never stored in clear).
    The user must change it at first login."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(f"invalid username {username!r}: 2–64 characters, a-z first, then a-z 0-9 . _ -")
    if not roles:
        raise ValidationError("a staff account needs at least one role")
    password = secrets.token_urlsafe(12)
    with ctx.transaction() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username} already exists")
        user = User(username=username, display_name=display_name or username,
                    password_hash=hash_password(password), must_change_password=True, active=True,
                    created_at=ctx.clock.now(), role_rows=[UserRole(role=r) for r in sorted(set(roles))])
        session.add(user)
        session.flush()
        audit.record(session, ctx, actor, "user.created", "user", username,
                     roles=sorted(r.value for r in set(roles)))
    return user, password


def ensure_first_admin(ctx: ServiceContext, actor: Actor, username: str = "admin") -> str | None:
    """Create the first admin if no admin exists; returns its one-time password or None."""
    with ctx.reader() as session:
        has_admin = session.scalar(select(UserRole.user_id).where(UserRole.role == Role.ADMIN).limit(1))
    if has_admin is not None:
        return None
    _user, password = add_user(ctx, actor, username, [Role.ADMIN], display_name="Administrator")
    return password


def staff_actors(session: Session, purposes: dict[str, str]) -> dict[str, Actor]:
    """Resolve several usernames in one query. ``purposes`` maps each username to what it is for
    ("operator", "approver"), which the error names. Returns username → active staff Actor."""
    wanted = {(name or "").strip().lower(): purpose for name, purpose in purposes.items()}
    for name, purpose in wanted.items():
        if not name:
            raise ValidationError(f"{purpose}: no user given")
    rows = session.connection().execute(select(User.id, User.username, User.active, UserRole.role)
                                        .outerjoin(UserRole, UserRole.user_id == User.id)
                                        .where(User.username.in_(list(wanted)))).all()
    found: dict[str, tuple[int, bool, set[Role]]] = {}
    for uid, uname, active, role in rows:
        entry = found.setdefault(uname, (uid, active, set()))
        if role is not None:
            entry[2].add(role)
    out = {}
    for name, purpose in wanted.items():
        if name not in found:
            raise NotFound(f"{purpose}: no staff user named {name!r}")
        uid, active, roles = found[name]
        if not active:
            raise ValidationError(f"{purpose}: user {name} is deactivated")
        out[name] = Actor(name=name, kind="staff", roles=frozenset(roles), user_id=uid)
    return out
