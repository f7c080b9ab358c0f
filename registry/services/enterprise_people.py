"""People an enterprise's legal representative authorises in the portal (their sign-in:
services.person_sign_in).

The legal representative (signed in with the e-licence) creates named accounts for people of the
enterprise, grants each the authority to ``hold`` or ``manage`` particular seals, and withdraws
it; deactivates an account, resets its password or second factor; sets the enterprise's contact
address for notices. A person signs in with the enterprise's USCC, their username, a password
(argon2id; the first one is shown once and must be changed) and a TOTP code (enrolled at the first
sign-in), under the same lock-out rules as staff (services.sign_in). A person of an enterprise whose
licence is no longer active cannot sign in. Every change is an audit event on target
``person:<USCC>/<username>`` or ``enterprise:<USCC>``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Enterprise, EnterprisePerson, Seal, SealGrant
from ..domain.errors import Conflict, InvalidTransition, M, NotFound, PermissionDenied, ValidationError
from ..domain.states import LicenceStatus, SealStatus
from . import passwords, web_sessions
from .context import ServiceContext
from .core.tx import begin
from .portal_access import Principal, require_legal_representative
from .sign_in import AccountLocked, SignInFailed
from .users import hash_password

__all__ = [
    "SignInFailed",
    "AccountLocked",
    "PersonChecked",
    "PersonView",
    "GrantView",
    "MIN_PASSWORD_LENGTH",
    "list_people",
    "person",
    "create_person",
    "set_active",
    "reset_password",
    "reset_second_factor",
    "grant",
    "withdraw",
    "set_contact_email",
    "grantable_seals",
    "contact_email",
]

MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
AUTHORITIES = ("hold", "manage")
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_EMAIL = re.compile(
    r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
_MAX_PEOPLE = 500  # per enterprise: a seal register, not a staff directory

EMAIL_NEEDED = M("people.email_needed", "an e-mail address is needed", "需要填写电子邮件地址")
BAD_EMAIL = M(
    "people.bad_email",
    "{text} is not an e-mail address (name@example.cn)",
    "“{text}”不是电子邮件地址（例如 name@example.cn）",
)
NO_PERSON = M("people.no_person", "no person {id} of this enterprise", "本企业没有编号为 {id} 的被授权人")
BAD_USERNAME = M(
    "people.bad_username",
    "invalid username {user}: 2–64 characters, a-z first, then a-z 0-9 . _ -",
    "用户名 {user} 无效：2–64 个字符，以 a-z 开头，其后为 a-z、0-9、.、_ 或 -",
)
NAME_NEEDED = M(
    "people.name_needed",
    "the person's name is needed (at most 100 characters)",
    "需要填写被授权人的姓名（最多 100 个字符）",
)
NO_ENTERPRISE = M("people.no_enterprise", "no such enterprise", "没有该企业")
PERSON_EXISTS = M(
    "people.exists", "the enterprise already has a person named {user}", "本企业已有名为 {user} 的被授权人"
)
TOO_MANY = M("people.too_many", "an enterprise can authorise at most {max} people", "一个企业最多可授权 {max} 人")
ALREADY_ACTIVE = M("people.already_active", "{user} is already active", "{user} 已处于启用状态")
ALREADY_INACTIVE = M("people.already_inactive", "{user} is already deactivated", "{user} 已被停用")
BAD_AUTHORITY = M(
    "people.bad_authority",
    "unknown authority {authority}: hold or manage",
    "未知的权限 {authority}：应为 hold（持有）或 manage（管理）",
)
NO_SEAL = M("people.no_seal", "no seal {es_id} of this enterprise", "本企业没有印章 {es_id}")
SEAL_REVOKED = M(
    "people.seal_revoked",
    "seal {es_id} is revoked: there is nothing to hold or manage",
    "印章 {es_id} 已吊销：无可持有或管理",
)
ALREADY_GRANTED = M(
    "people.already_granted",
    "{user} already has the authority to {authority} seal {es_id}",
    "{user} 已有对印章 {es_id} 的 {authority} 权限",
)
NO_GRANT = M("people.no_grant", "{user} has no authority over a seal {es_id}", "{user} 对印章 {es_id} 没有任何权限")


@dataclass(frozen=True)
class PersonChecked:
    person_id: int
    needs_enrolment: bool


@dataclass(frozen=True)
class GrantView:
    es_id: str
    seal_name: str
    seal_status: str
    authority: str
    granted_at: dt.datetime
    granted_by: str


@dataclass(frozen=True)
class PersonView:
    id: int
    username: str
    display_name: str
    email: str
    active: bool
    enrolled: bool
    locked: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    grants: tuple[GrantView, ...]
    created_by: str = ""
    by_former_representative: bool = False  # created by someone who is no longer the legal representative


def _target(uscc: str, username: str) -> str:
    return f"{uscc}/{username}"


def _purpose(p: EnterprisePerson, uscc: str) -> str:
    return f"totp:person:{p.id}:{uscc}:{p.username}"


def check_email(text: str, *, required: bool = False) -> str:
    text = (text or "").strip()
    if not text:
        if required:
            raise ValidationError(EMAIL_NEEDED)
        return ""
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValidationError(BAD_EMAIL, text=text[:100])
    return text


def _own_person(session: Session, principal: Principal, person_id: int, *, lock: bool = False) -> EnterprisePerson:
    query = select(EnterprisePerson).where(
        EnterprisePerson.id == person_id, EnterprisePerson.enterprise_id == principal.enterprise_id
    )
    if lock:
        query = query.with_for_update()
    p = session.scalar(query)
    if p is None:
        raise NotFound(NO_PERSON, id=person_id)
    return p


NOT_REPRESENTATIVE = M(
    "people.no_longer_representative",
    "{person} is no longer the legal representative of {uscc}, "
    "or its licence is not active: sign in again with the e-licence",
    "{person} 已不是 {uscc} 的法定代表人，或其营业执照不在有效状态：请用电子营业执照重新登录",
)


def _still_representative(ent: Enterprise, principal: Principal) -> None:
    """In the action's own transaction: the licence is active and names the signed-in legal
    representative (the portal checks this on every request too; this closes the gap between)."""
    if principal.person_id is None and (
        ent.status is not LicenceStatus.ACTIVE or ent.legal_representative != principal.person
    ):
        raise PermissionDenied(NOT_REPRESENTATIVE, person=principal.person, uscc=ent.uscc)


def _representative_actor(ent: Enterprise) -> str:
    return f"enterprise:{ent.uscc}:{ent.legal_representative}"[:100]


def _view(session: Session, p: EnterprisePerson, now: dt.datetime, ent: Enterprise | None = None) -> PersonView:
    ent = ent or session.get(Enterprise, p.enterprise_id)
    current = _representative_actor(ent) if ent is not None else ""
    rows = session.execute(
        select(SealGrant, Seal)
        .join(Seal, Seal.id == SealGrant.seal_id)
        .where(SealGrant.person_id == p.id)
        .order_by(Seal.id)
    ).all()
    grants = tuple(
        GrantView(seal.es_id, seal.name, seal.effective_status(now), g.authority, g.granted_at, g.granted_by)
        for g, seal in rows
    )
    return PersonView(
        p.id,
        p.username,
        p.display_name,
        p.email,
        p.active,
        p.totp_enabled,
        p.locked_until is not None and p.locked_until > now,
        p.last_login_at,
        p.created_at,
        grants,
        p.created_by,
        bool(current) and p.created_by != current,
    )


# -- what the legal representative does --------------------------------------------------------------


def list_people(ctx: ServiceContext, principal: Principal) -> list[PersonView]:
    require_legal_representative(principal, "see the people authorised for the enterprise")
    now = ctx.clock.now()
    with ctx.reader() as session:
        people = session.scalars(
            select(EnterprisePerson)
            .where(EnterprisePerson.enterprise_id == principal.enterprise_id)
            .order_by(EnterprisePerson.username)
        ).all()
        return [_view(session, p, now) for p in people]


def person(ctx: ServiceContext, principal: Principal, person_id: int) -> PersonView:
    require_legal_representative(principal, "see the people authorised for the enterprise")
    with ctx.reader() as session:
        return _view(session, _own_person(session, principal, person_id), ctx.clock.now())


def create_person(
    ctx: ServiceContext, principal: Principal, username: str, display_name: str, email: str = ""
) -> tuple[int, str]:
    """A new account; returns (its id, the one-time password — shown once, never stored in clear)."""
    require_legal_representative(principal, "authorise people")
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(BAD_USERNAME, user=username[:64])
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 100:
        raise ValidationError(NAME_NEEDED)
    email = check_email(email)
    password = secrets.token_urlsafe(12)
    with begin(ctx, principal.actor) as tx:
        session = tx.session
        ent = session.scalar(select(Enterprise).where(Enterprise.id == principal.enterprise_id).with_for_update())
        if ent is None:
            raise NotFound(NO_ENTERPRISE)
        _still_representative(ent, principal)
        if (
            session.scalar(
                select(EnterprisePerson.id).where(
                    EnterprisePerson.enterprise_id == ent.id, EnterprisePerson.username == username
                )
            )
            is not None
        ):
            raise Conflict(PERSON_EXISTS, user=username)
        count = len(
            session.scalars(
                select(EnterprisePerson.id).where(EnterprisePerson.enterprise_id == ent.id).limit(_MAX_PEOPLE)
            ).all()
        )
        if count >= _MAX_PEOPLE:
            raise Conflict(TOO_MANY, max=_MAX_PEOPLE)
        p = EnterprisePerson(
            enterprise_id=ent.id,
            username=username,
            display_name=display_name,
            email=email,
            password_hash=hash_password(password),
            must_change_password=True,
            active=True,
            created_at=tx.now,
            created_by=principal.actor.name,
            totp_enabled=False,
            failed_logins=0,
        )
        session.add(p)
        session.flush()
        tx.audit(
            "person.created",
            "person",
            _target(ent.uscc, username),
            display_name=display_name,
            email=email,
        )
        return p.id, password


def set_active(ctx: ServiceContext, principal: Principal, person_id: int, active: bool) -> None:
    """Deactivate (signed out at their next request; grants kept but of no use) or reactivate."""
    require_legal_representative(principal, "deactivate or reactivate people")
    with begin(ctx, principal.actor) as tx:
        p = _own_person(tx.session, principal, person_id, lock=True)
        if p.active == active:
            if active:
                raise InvalidTransition(ALREADY_ACTIVE, user=p.username)
            raise InvalidTransition(ALREADY_INACTIVE, user=p.username)
        p.active = active
        if active:
            tx.audit("person.reactivated", "person", _target(principal.uscc, p.username))
        else:
            ended = web_sessions.end_all(tx, person_id=p.id)
            tx.audit("person.deactivated", "person", _target(principal.uscc, p.username), sessions_ended=ended)


def reset_password(ctx: ServiceContext, principal: Principal, person_id: int) -> str:
    """A new one-time password (forgotten password); the person must change it at the next sign-in."""
    require_legal_representative(principal, "reset passwords")
    password = secrets.token_urlsafe(12)
    with begin(ctx, principal.actor) as tx:
        p = _own_person(tx.session, principal, person_id, lock=True)
        p.password_hash = hash_password(password)
        p.must_change_password = True
        p.failed_logins = 0
        p.locked_until = None
        ended = web_sessions.end_all(tx, person_id=p.id)
        tx.audit(
            "person.password_reset",
            "person",
            _target(principal.uscc, p.username),
            sessions_ended=ended,
        )
    return password


def reset_second_factor(ctx: ServiceContext, principal: Principal, person_id: int) -> None:
    """Lost phone: the person enrols a new authenticator at their next sign-in."""
    require_legal_representative(principal, "reset a second factor")
    with begin(ctx, principal.actor) as tx:
        p = _own_person(tx.session, principal, person_id, lock=True)
        p.totp_enabled = False
        p.totp_secret_blob = None
        p.totp_last_step = None
        ended = web_sessions.end_all(tx, person_id=p.id)
        tx.audit(
            "person.totp_reset",
            "person",
            _target(principal.uscc, p.username),
            sessions_ended=ended,
        )


def grant(ctx: ServiceContext, principal: Principal, person_id: int, es_id: str, authority: str) -> None:
    """Give (or change) a person's authority over one seal of the enterprise."""
    require_legal_representative(principal, "grant authority over seals")
    if authority not in AUTHORITIES:
        raise ValidationError(BAD_AUTHORITY, authority=str(authority)[:20])
    now = ctx.clock.now()
    with begin(ctx, principal.actor) as tx:
        session = tx.session
        p = _own_person(session, principal, person_id, lock=True)
        seal = session.scalar(
            select(Seal).where(Seal.es_id == (es_id or "").strip(), Seal.enterprise_id == principal.enterprise_id)
        )
        if seal is None:
            raise NotFound(NO_SEAL, es_id=(es_id or "")[:40])
        if seal.status is SealStatus.REVOKED:
            raise InvalidTransition(SEAL_REVOKED, es_id=seal.es_id)
        row = session.get(SealGrant, (p.id, seal.id))
        if row is not None and row.authority == authority:
            raise InvalidTransition(ALREADY_GRANTED, user=p.username, authority=authority, es_id=seal.es_id)
        before = row.authority if row is not None else None
        if row is None:
            session.add(
                SealGrant(
                    person_id=p.id,
                    seal_id=seal.id,
                    authority=authority,
                    granted_at=now,
                    granted_by=principal.actor.name,
                )
            )
        else:
            row.authority, row.granted_at, row.granted_by = authority, now, principal.actor.name
        tx.audit(
            "person.granted",
            "person",
            _target(principal.uscc, p.username),
            seal=seal.es_id,
            authority=authority,
            before=before,
        )


def withdraw(ctx: ServiceContext, principal: Principal, person_id: int, es_id: str) -> None:
    require_legal_representative(principal, "withdraw authority over seals")
    with begin(ctx, principal.actor) as tx:
        session = tx.session
        p = _own_person(session, principal, person_id, lock=True)
        seal = session.scalar(
            select(Seal).where(Seal.es_id == (es_id or "").strip(), Seal.enterprise_id == principal.enterprise_id)
        )
        row = session.get(SealGrant, (p.id, seal.id)) if seal is not None else None
        if seal is None or row is None:
            raise NotFound(NO_GRANT, user=p.username, es_id=(es_id or "")[:40])
        session.delete(row)
        tx.audit(
            "person.withdrawn",
            "person",
            _target(principal.uscc, p.username),
            seal=seal.es_id,
            authority=row.authority,
        )


def grantable_seals(ctx: ServiceContext, principal: Principal) -> list[tuple[str, str]]:
    """(esID, name) of the enterprise's seals that can be granted (not revoked), newest first."""
    require_legal_representative(principal, "grant authority over seals")
    with ctx.reader() as session:
        rows = session.execute(
            select(Seal.es_id, Seal.name)
            .where(Seal.enterprise_id == principal.enterprise_id, Seal.status != SealStatus.REVOKED)
            .order_by(Seal.id.desc())
            .limit(500)
        ).all()
    return [(es_id, name) for es_id, name in rows]


def set_contact_email(ctx: ServiceContext, principal: Principal, email: str) -> None:
    """Where the enterprise's notices go ("" for none)."""
    require_legal_representative(principal, "change the enterprise's contact address")
    email = check_email(email)
    with begin(ctx, principal.actor) as tx:
        ent = tx.session.scalar(select(Enterprise).where(Enterprise.id == principal.enterprise_id).with_for_update())
        if ent is None:
            raise NotFound(NO_ENTERPRISE)
        _still_representative(ent, principal)
        if ent.contact_email == email:
            return
        before, ent.contact_email = ent.contact_email, email
        tx.audit(
            "enterprise.contact_changed",
            "enterprise",
            ent.uscc,
            before=before,
            after=email,
        )


def contact_email(ctx: ServiceContext, principal: Principal) -> str:
    with ctx.reader() as session:
        return session.scalar(select(Enterprise.contact_email).where(Enterprise.id == principal.enterprise_id)) or ""
