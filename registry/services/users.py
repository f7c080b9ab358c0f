"""Staff accounts."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import EnterprisePerson, User, UserRole
from ..domain.errors import Conflict, InvalidTransition, M, Message, NotFound, ValidationError
from ..domain.roles import Permission, Role, require
from . import passwords, web_sessions
from .context import Actor, ServiceContext
from .core.staff import staff_actors as staff_actors  # re-export: the tests resolve staff names with it
from .core.tx import begin

_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")

BAD_USERNAME = M(
    "staff.bad_username",
    "invalid username {user}: 2–64 characters, a-z first, then a-z 0-9 . _ -",
    "用户名 {user} 无效：2–64 个字符，以 a-z 开头，其后为 a-z、0-9、.、_ 或 -",
)
NO_ROLE = M("staff.no_role", "a staff account needs at least one role", "工作人员账号至少需要一个角色")
EXISTS = M("staff.exists", "user {user} already exists", "用户 {user} 已存在")
NO_USER = M("staff.no_user", "no staff user named {user}", "没有名为 {user} 的工作人员账号")
LAST_ADMIN = M(
    "staff.last_admin",
    "{user} is the last active admin: {what} would leave nobody to manage staff "
    "accounts; give another account the admin role first",
    "{user} 是最后一个启用的管理员：{what}后将无人管理工作人员账号；请先为另一个账号授予管理员角色",
)
REMOVING_ADMIN = M("staff.what.remove_admin", "removing the admin role", "去掉管理员角色")
DEACTIVATING = M("staff.what.deactivate", "deactivating it", "停用该账号")
OWN_ACCOUNT = M(
    "staff.own_account",
    "you cannot deactivate your own account; another admin can",
    "不能停用自己的账号；可由另一位管理员操作",
)
OWN_PASSWORD = M(
    "staff.own_password",
    "use “change password” for your own account; an admin resets other accounts",
    "自己的账号请使用“修改密码”；管理员重置的是其他人的密码",
)
ALREADY_INACTIVE = M("staff.already_inactive", "{user} is already deactivated", "{user} 已被停用")
ALREADY_ACTIVE = M("staff.already_active", "{user} is active already", "{user} 已处于启用状态")
INACTIVE = M(
    "staff.inactive", "{user} is deactivated: reactivate the account first", "{user} 已停用：请先重新启用该账号"
)


def hash_password(password: str) -> str:
    return passwords.hash_password(password)


def check_password(user: User | EnterprisePerson, password: str) -> bool:
    """Whether ``password`` is the account's (a staff member's or an authorised person's)."""
    return passwords.verify_password(user.password_hash, password)


def add_user(
    ctx: ServiceContext, actor: Actor, username: str, roles: list[Role], display_name: str = ""
) -> tuple[User, str]:
    """Create a staff account with a one-time password (returned once, never stored in clear).
    The user must change it at first login."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(BAD_USERNAME, user=username)
    if not roles:
        raise ValidationError(NO_ROLE)
    password = secrets.token_urlsafe(12)
    with begin(ctx, actor) as tx:
        session = tx.session
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(EXISTS, user=username)
        user = User(
            username=username,
            display_name=display_name or username,
            password_hash=hash_password(password),
            must_change_password=True,
            active=True,
            created_at=tx.now,
            role_rows=[UserRole(role=r) for r in sorted(set(roles))],
        )
        session.add(user)
        session.flush()
        tx.audit("user.created", "user", username, roles=sorted(r.value for r in set(roles)))
    return user, password


def ensure_first_admin(ctx: ServiceContext, actor: Actor, username: str = "admin") -> tuple[str, str] | None:
    """Create the first admin if no active admin exists (all deactivated: the bureau is locked out
    of its own back office otherwise); returns (its username, its one-time password) or None. The
    username is ``admin``, or ``admin2``, ``admin3``... if that name is taken by a deactivated account."""
    with ctx.reader() as session:
        has_admin = session.scalar(
            select(UserRole.user_id)
            .join(User, User.id == UserRole.user_id)
            .where(UserRole.role == Role.ADMIN, User.active.is_(True))
            .limit(1)
        )
        taken = set(session.scalars(select(User.username).where(User.username.like(f"{username}%"))).all())
    if has_admin is not None:
        return None
    name = next(n for n in (username, *(f"{username}{i}" for i in range(2, 1000))) if n not in taken)
    _user, password = add_user(ctx, actor, name, [Role.ADMIN], display_name="Administrator")
    return name, password


# ------------------------------------------------------------------------------------------------
# The admin's staff pages: list, roles, deactivate / reactivate (issue 5). Every change is checked
# for USER_MANAGE and audited in its transaction. Two rules keep the registry administrable: an
# admin cannot deactivate their own account, and the last active admin can neither be deactivated
# nor lose the admin role. Both checks run under row locks on every admin account (PostgreSQL:
# SELECT ... FOR UPDATE, taken in id order; SQLite: the write transaction's lock), so two admins
# removing each other at the same moment cannot leave the registry without one.

PAGE_SIZE = 50


class LastAdmin(Conflict):
    """The change would leave no active admin."""


class OwnAccount(Conflict):
    """An admin tried to deactivate their own account."""


@dataclass(frozen=True)
class StaffRow:
    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    active: bool
    totp_enabled: bool
    must_change_password: bool
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def role_enums(self) -> tuple[Role, ...]:
        return tuple(Role(r) for r in self.roles)

    @classmethod
    def of(cls, user: User) -> StaffRow:
        return cls(
            user.id,
            user.username,
            user.display_name,
            tuple(sorted(r.value for r in user.roles)),
            user.active,
            user.totp_enabled,
            user.must_change_password,
            user.locked_until,
            user.last_login_at,
            user.created_at,
        )


@dataclass(frozen=True)
class StaffPage:
    rows: list[StaffRow]
    next_after: str | None  # the username to continue after, if there are more


def list_users(ctx: ServiceContext, actor: Actor, *, after: str | None = None, limit: int = PAGE_SIZE) -> StaffPage:
    """Staff accounts by username, ``limit`` at a time after ``after`` (keyset on the unique index)."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    stmt = select(User)
    if after:
        stmt = stmt.where(User.username > after)
    with ctx.reader() as session:
        users = session.scalars(stmt.order_by(User.username).limit(limit + 1)).all()
        rows = [StaffRow.of(u) for u in users[:limit]]
    return StaffPage(rows, rows[-1].username if len(users) > limit else None)


def get_user(ctx: ServiceContext, actor: Actor, username: str) -> StaffRow:
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    with ctx.reader() as session:
        user = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
        if user is None:
            raise NotFound(NO_USER, user=username)
        return StaffRow.of(user)


def _lock_admins(session: Session) -> None:
    """Lock every account holding the admin role (in id order, so two callers never deadlock).
    Statements after this one see what a competing change committed while we waited."""
    session.execute(
        select(User.id)
        .where(User.id.in_(select(UserRole.user_id).where(UserRole.role == Role.ADMIN)))
        .order_by(User.id)
        .with_for_update()
    )


def _active_admins(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.ADMIN, User.active.is_(True))
        )
    )


def _target(session: Session, username: str) -> User:
    user = session.scalar(
        select(User)
        .where(User.username == (username or "").strip().lower())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if user is None:
        raise NotFound(NO_USER, user=username)
    return user


def _keep_an_admin(session: Session, user: User, what: Message) -> None:
    if user.active and Role.ADMIN in user.roles and _active_admins(session) <= {user.id}:
        raise LastAdmin(LAST_ADMIN, user=user.username, what=what)


def set_roles(ctx: ServiceContext, actor: Actor, username: str, roles: list[Role]) -> StaffRow:
    """Replace a user's roles. Takes effect at the user's next request."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    wanted = set(roles)
    if not wanted:
        raise ValidationError(NO_ROLE)
    with begin(ctx, actor) as tx:
        session = tx.session
        _lock_admins(session)
        user = _target(session, username)
        before = user.roles
        if wanted != before:
            if Role.ADMIN in before and Role.ADMIN not in wanted:
                _keep_an_admin(session, user, REMOVING_ADMIN)
            for row in [r for r in user.role_rows if r.role not in wanted]:
                user.role_rows.remove(row)
            user.role_rows.extend(UserRole(role=r) for r in sorted(wanted - before))
            session.flush()
            tx.audit(
                "user.roles_changed",
                "user",
                user.username,
                before=sorted(r.value for r in before),
                after=sorted(r.value for r in wanted),
            )
        return StaffRow.of(user)


def deactivate_user(ctx: ServiceContext, actor: Actor, username: str) -> StaffRow:
    """The account can no longer sign in, and a signed-in session ends at its next request."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    with begin(ctx, actor) as tx:
        session = tx.session
        _lock_admins(session)
        user = _target(session, username)
        if user.id == actor.user_id or (actor.user_id is None and user.username == actor.name):
            raise OwnAccount(OWN_ACCOUNT)
        if not user.active:
            raise InvalidTransition(ALREADY_INACTIVE, user=user.username)
        _keep_an_admin(session, user, DEACTIVATING)
        user.active = False
        ended = web_sessions.end_all(tx, user_id=user.id)
        tx.audit("user.deactivated", "user", user.username, sessions_ended=ended)
        return StaffRow.of(user)


def reactivate_user(ctx: ServiceContext, actor: Actor, username: str) -> StaffRow:
    """The account can sign in again (same password and second factor); a lock-out is lifted."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    with begin(ctx, actor) as tx:
        user = _target(tx.session, username)
        if user.active:
            raise InvalidTransition(ALREADY_ACTIVE, user=user.username)
        user.active = True
        user.failed_logins = 0
        user.locked_until = None
        tx.audit("user.reactivated", "user", user.username)
        return StaffRow.of(user)


def reset_password(ctx: ServiceContext, actor: Actor, username: str) -> str:
    """Admin: a new one-time password for another account (forgotten password). Returned once; the
    user must choose their own at the next sign-in, and every session of theirs ends now. The second
    factor stays: the one-time password alone does not sign anyone in."""
    require(actor.name, actor.roles, Permission.USER_MANAGE)
    password = secrets.token_urlsafe(12)
    with begin(ctx, actor) as tx:
        user = _target(tx.session, username)
        if user.id == actor.user_id or (actor.user_id is None and user.username == actor.name):
            raise OwnAccount(OWN_PASSWORD)
        if not user.active:
            raise InvalidTransition(INACTIVE, user=user.username)
        user.password_hash = hash_password(password)
        user.must_change_password = True
        user.failed_logins = 0
        user.locked_until = None
        ended = web_sessions.end_all(tx, user_id=user.id)
        tx.audit("user.password_reset", "user", user.username, sessions_ended=ended)
    return password
