"""Staff accounts as the building blocks see them: several usernames resolved to their actors
(roles and id) in one query, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...db.models import User, UserRole
from ...domain.errors import M, NotFound, ValidationError
from ...domain.roles import Role
from ..context import Actor

__all__ = ["NOBODY", "NOBODY_NAMED", "PURPOSE_INACTIVE", "staff_actors"]

NOBODY = M("staff.nobody_given", "{purpose}: no user given", "{purpose}：未指定用户")
NOBODY_NAMED = M(
    "staff.purpose_no_user", "{purpose}: no staff user named {user}", "{purpose}：没有名为 {user} 的工作人员账号"
)
PURPOSE_INACTIVE = M("staff.purpose_inactive", "{purpose}: user {user} is deactivated", "{purpose}：用户 {user} 已停用")


def staff_actors(session: Session, purposes: dict[str, str]) -> dict[str, Actor]:
    """Resolve several usernames in one query. ``purposes`` maps each username to what it is for
    ("operator", "approver"), which the error names. Returns username → active staff Actor."""
    wanted = {(name or "").strip().lower(): purpose for name, purpose in purposes.items()}
    for name, purpose in wanted.items():
        if not name:
            raise ValidationError(NOBODY, purpose=purpose)
    rows = (
        session.connection()
        .execute(
            select(User.id, User.username, User.active, UserRole.role)
            .outerjoin(UserRole, UserRole.user_id == User.id)
            .where(User.username.in_(list(wanted)))
        )
        .all()
    )
    found: dict[str, tuple[int, bool, set[Role]]] = {}
    for uid, uname, active, role in rows:
        entry = found.setdefault(uname, (uid, active, set()))
        if role is not None:
            entry[2].add(role)
    out = {}
    for name, purpose in wanted.items():
        if name not in found:
            raise NotFound(NOBODY_NAMED, purpose=purpose, user=name)
        uid, active, roles = found[name]
        if not active:
            raise ValidationError(PURPOSE_INACTIVE, purpose=purpose, user=name)
        out[name] = Actor(name=name, kind="staff", roles=frozenset(roles), user_id=uid)
    return out
