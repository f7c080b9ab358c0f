"""People an enterprise's legal representative authorises in the portal, and their sign-in.

The legal representative (signed in with the e-licence) creates named accounts for people of the
enterprise, grants each the authority to ``hold`` or ``manage`` particular seals, and withdraws
it; deactivates an account, resets its password or second factor; sets the enterprise's contact
address for notices. A person signs in with the enterprise's USCC, their username, a password
(argon2id; the first one is shown once and must be changed) and a TOTP code (enrolled at the first
sign-in), under the same lock-out rules as staff (services.sign_in). A person of an enterprise whose
licence is no longer active cannot sign in. Every change is an audit event on target
``person:<USCC>/<username>`` or ``enterprise:<USCC>``.
"""
# messages: not yet converted (tests/test_messages.py)
from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Enterprise, EnterprisePerson, Seal, SealGrant
from ..domain.errors import Conflict, DomainError, InvalidTransition, NotFound, ValidationError
from ..domain.states import LicenceStatus, SealStatus
from ..pki import totp
from . import audit, sign_in
from .context import Actor, ServiceContext
from .portal_access import Principal, require_legal_representative
from .sign_in import AccountLocked, SignInFailed
from .users import check_password, hash_password

__all__ = ["SignInFailed", "AccountLocked", "PersonChecked", "PersonView", "GrantView", "MIN_PASSWORD_LENGTH",
           "list_people", "person", "create_person", "set_active", "reset_password", "reset_second_factor",
           "grant", "withdraw", "set_contact_email", "check_password_step", "start_enrolment", "complete_sign_in",
           "principal_for", "change_password", "grantable_seals", "contact_email"]

MIN_PASSWORD_LENGTH = 12
AUTHORITIES = ("hold", "manage")
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
_MAX_PEOPLE = 500  # per enterprise: a seal register, not a staff directory


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


def _target(uscc: str, username: str) -> str:
    return f"{uscc}/{username}"


def _purpose(p: EnterprisePerson, uscc: str) -> str:
    return f"totp:person:{p.id}:{uscc}:{p.username}"


def check_email(text: str, *, required: bool = False) -> str:
    text = (text or "").strip()
    if not text:
        if required:
            raise ValidationError("an e-mail address is needed")
        return ""
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValidationError(f"{text!r} is not an e-mail address (name@example.cn)")
    return text


def _own_person(session: Session, principal: Principal, person_id: int, *, lock: bool = False) -> EnterprisePerson:
    query = select(EnterprisePerson).where(EnterprisePerson.id == person_id,
                                           EnterprisePerson.enterprise_id == principal.enterprise_id)
    if lock:
        query = query.with_for_update()
    p = session.scalar(query)
    if p is None:
        raise NotFound(f"no person {person_id} of this enterprise")
    return p


def _view(session: Session, p: EnterprisePerson, now: dt.datetime) -> PersonView:
    rows = session.execute(select(SealGrant, Seal).join(Seal, Seal.id == SealGrant.seal_id)
                           .where(SealGrant.person_id == p.id).order_by(Seal.id)).all()
    grants = tuple(GrantView(seal.es_id, seal.name, seal.effective_status(now), g.authority, g.granted_at,
                             g.granted_by) for g, seal in rows)
    return PersonView(p.id, p.username, p.display_name, p.email, p.active, p.totp_enabled,
                      p.locked_until is not None and p.locked_until > now, p.last_login_at, p.created_at, grants)


# -- what the legal representative does --------------------------------------------------------------


def list_people(ctx: ServiceContext, principal: Principal) -> list[PersonView]:
    require_legal_representative(principal, "see the people authorised for the enterprise")
    now = ctx.clock.now()
    with ctx.reader() as session:
        people = session.scalars(select(EnterprisePerson).where(EnterprisePerson.enterprise_id == principal.enterprise_id)
                                 .order_by(EnterprisePerson.username)).all()
        return [_view(session, p, now) for p in people]


def person(ctx: ServiceContext, principal: Principal, person_id: int) -> PersonView:
    require_legal_representative(principal, "see the people authorised for the enterprise")
    with ctx.reader() as session:
        return _view(session, _own_person(session, principal, person_id), ctx.clock.now())


def create_person(ctx: ServiceContext, principal: Principal, username: str, display_name: str,
                  email: str = "") -> tuple[int, str]:
    """A new account; returns (its id, the one-time password — shown once, never stored in clear)."""
    require_legal_representative(principal, "authorise people")
    username = (username or "").strip().lower()
    if not _USERNAME.match(username):
        raise ValidationError(f"invalid username {username!r}: 2–64 characters, a-z first, then a-z 0-9 . _ -")
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 100:
        raise ValidationError("the person's name is needed (at most 100 characters)")
    email = check_email(email)
    password = secrets.token_urlsafe(12)
    with ctx.transaction() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.id == principal.enterprise_id).with_for_update())
        if ent is None:
            raise NotFound("no such enterprise")
        if session.scalar(select(EnterprisePerson.id).where(EnterprisePerson.enterprise_id == ent.id,
                                                            EnterprisePerson.username == username)) is not None:
            raise Conflict(f"the enterprise already has a person named {username}")
        count = len(session.scalars(select(EnterprisePerson.id).where(EnterprisePerson.enterprise_id == ent.id)
                                    .limit(_MAX_PEOPLE)).all())
        if count >= _MAX_PEOPLE:
            raise Conflict(f"an enterprise can authorise at most {_MAX_PEOPLE} people")
        p = EnterprisePerson(enterprise_id=ent.id, username=username, display_name=display_name, email=email,
                             password_hash=hash_password(password), must_change_password=True, active=True,
                             created_at=ctx.clock.now(), created_by=principal.actor.name, totp_enabled=False,
                             failed_logins=0)
        session.add(p)
        session.flush()
        audit.record(session, ctx, principal.actor, "person.created", "person", _target(ent.uscc, username),
                     display_name=display_name, email=email)
        return p.id, password


def set_active(ctx: ServiceContext, principal: Principal, person_id: int, active: bool) -> None:
    """Deactivate (signed out at their next request; grants kept but of no use) or reactivate."""
    require_legal_representative(principal, "deactivate or reactivate people")
    with ctx.transaction() as session:
        p = _own_person(session, principal, person_id, lock=True)
        if p.active == active:
            raise InvalidTransition(f"{p.username} is already {'active' if active else 'deactivated'}")
        p.active = active
        audit.record(session, ctx, principal.actor, "person.reactivated" if active else "person.deactivated",
                     "person", _target(principal.uscc, p.username))


def reset_password(ctx: ServiceContext, principal: Principal, person_id: int) -> str:
    """A new one-time password (forgotten password); the person must change it at the next sign-in."""
    require_legal_representative(principal, "reset passwords")
    password = secrets.token_urlsafe(12)
    with ctx.transaction() as session:
        p = _own_person(session, principal, person_id, lock=True)
        p.password_hash = hash_password(password)
        p.must_change_password = True
        p.failed_logins = 0
        p.locked_until = None
        audit.record(session, ctx, principal.actor, "person.password_reset", "person", _target(principal.uscc, p.username))
    return password


def reset_second_factor(ctx: ServiceContext, principal: Principal, person_id: int) -> None:
    """Lost phone: the person enrols a new authenticator at their next sign-in."""
    require_legal_representative(principal, "reset a second factor")
    with ctx.transaction() as session:
        p = _own_person(session, principal, person_id, lock=True)
        p.totp_enabled = False
        p.totp_secret_blob = None
        p.totp_last_step = None
        audit.record(session, ctx, principal.actor, "person.totp_reset", "person", _target(principal.uscc, p.username))


def grant(ctx: ServiceContext, principal: Principal, person_id: int, es_id: str, authority: str) -> None:
    """Give (or change) a person's authority over one seal of the enterprise."""
    require_legal_representative(principal, "grant authority over seals")
    if authority not in AUTHORITIES:
        raise ValidationError(f"unknown authority {authority!r}: hold or manage")
    now = ctx.clock.now()
    with ctx.transaction() as session:
        p = _own_person(session, principal, person_id, lock=True)
        seal = session.scalar(select(Seal).where(Seal.es_id == (es_id or "").strip(),
                                                 Seal.enterprise_id == principal.enterprise_id))
        if seal is None:
            raise NotFound(f"no seal {es_id!r} of this enterprise")
        if seal.status is SealStatus.REVOKED:
            raise InvalidTransition(f"seal {seal.es_id} is revoked: there is nothing to hold or manage")
        row = session.get(SealGrant, (p.id, seal.id))
        if row is not None and row.authority == authority:
            raise InvalidTransition(f"{p.username} already has the authority to {authority} seal {seal.es_id}")
        before = row.authority if row is not None else None
        if row is None:
            session.add(SealGrant(person_id=p.id, seal_id=seal.id, authority=authority, granted_at=now,
                                  granted_by=principal.actor.name))
        else:
            row.authority, row.granted_at, row.granted_by = authority, now, principal.actor.name
        audit.record(session, ctx, principal.actor, "person.granted", "person", _target(principal.uscc, p.username),
                     seal=seal.es_id, authority=authority, before=before)


def withdraw(ctx: ServiceContext, principal: Principal, person_id: int, es_id: str) -> None:
    require_legal_representative(principal, "withdraw authority over seals")
    with ctx.transaction() as session:
        p = _own_person(session, principal, person_id, lock=True)
        seal = session.scalar(select(Seal).where(Seal.es_id == (es_id or "").strip(),
                                                 Seal.enterprise_id == principal.enterprise_id))
        row = session.get(SealGrant, (p.id, seal.id)) if seal is not None else None
        if seal is None or row is None:
            raise NotFound(f"{p.username} has no authority over a seal {es_id!r}")
        session.delete(row)
        audit.record(session, ctx, principal.actor, "person.withdrawn", "person", _target(principal.uscc, p.username),
                     seal=seal.es_id, authority=row.authority)


def grantable_seals(ctx: ServiceContext, principal: Principal) -> list[tuple[str, str]]:
    """(esID, name) of the enterprise's seals that can be granted (not revoked), newest first."""
    require_legal_representative(principal, "grant authority over seals")
    with ctx.reader() as session:
        rows = session.execute(select(Seal.es_id, Seal.name).where(Seal.enterprise_id == principal.enterprise_id,
                                                                   Seal.status != SealStatus.REVOKED)
                               .order_by(Seal.id.desc()).limit(500)).all()
    return [(es_id, name) for es_id, name in rows]


def set_contact_email(ctx: ServiceContext, principal: Principal, email: str) -> None:
    """Where the enterprise's notices go ("" for none)."""
    require_legal_representative(principal, "change the enterprise's contact address")
    email = check_email(email)
    with ctx.transaction() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.id == principal.enterprise_id).with_for_update())
        if ent is None:
            raise NotFound("no such enterprise")
        if ent.contact_email == email:
            return
        before, ent.contact_email = ent.contact_email, email
        audit.record(session, ctx, principal.actor, "enterprise.contact_changed", "enterprise", ent.uscc,
                     before=before, after=email)


def contact_email(ctx: ServiceContext, principal: Principal) -> str:
    with ctx.reader() as session:
        return session.scalar(select(Enterprise.contact_email).where(Enterprise.id == principal.enterprise_id)) or ""


# -- sign-in of an authorised person -------------------------------------------------------------------


def _system(uscc: str, username: str) -> Actor:
    return Actor(name=f"enterprise:{uscc}:{username}"[:100], kind="enterprise")


def _load_for_sign_in(session: Session, person_id: int) -> tuple[EnterprisePerson, Enterprise]:
    row = session.execute(select(EnterprisePerson, Enterprise).join(Enterprise, Enterprise.id == EnterprisePerson.enterprise_id)
                          .where(EnterprisePerson.id == person_id)).first()
    if row is None or not row[0].active or row[1].status is not LicenceStatus.ACTIVE:
        raise SignInFailed("the sign-in was not completed; start again")
    return row[0], row[1]


def check_password_step(ctx: ServiceContext, uscc: str, username: str, password: str) -> PersonChecked:
    """First factor. One generic message for an unknown USCC, username or a wrong password."""
    now = ctx.clock.now()
    uscc = (uscc or "").strip().upper()
    username = (username or "").strip().lower()
    failure: DomainError | None = None
    with ctx.transaction() as session:
        row = session.execute(select(EnterprisePerson, Enterprise)
                              .join(Enterprise, Enterprise.id == EnterprisePerson.enterprise_id)
                              .where(Enterprise.uscc == uscc, EnterprisePerson.username == username)).first()
        if row is None or not row[0].active:
            hash_password(password or "x")   # the same work as a wrong password
            raise SignInFailed("wrong username or password")
        p, ent = row
        sign_in.check_not_locked(p, now)
        if not check_password(p, password or ""):  # type: ignore[arg-type]
            sign_in.record_failure(session, ctx, p, now, "password", _system(uscc, username), "person",
                                   _target(uscc, username))
            failure = SignInFailed("wrong username or password")
        elif ent.status is not LicenceStatus.ACTIVE:
            raise SignInFailed(f"the licence of {ent.uscc} is {ent.status.value}: its people cannot sign in")
        else:
            result = PersonChecked(p.id, not p.totp_enabled)
    if failure is not None:
        raise failure
    return result


def start_enrolment(ctx: ServiceContext, person_id: int) -> tuple[str, str]:
    """A fresh TOTP secret for a person without one; returns (secret, otpauth URI)."""
    ctx.require_keyring()
    with ctx.transaction() as session:
        p, ent = _load_for_sign_in(session, person_id)
        if p.totp_enabled:
            raise InvalidTransition(f"{p.username} already has a second factor; the legal representative can reset it")
        secret = sign_in.new_secret(ctx, p, _purpose(p, ent.uscc))
        return secret, totp.provisioning_uri(secret, f"{p.username}@{ent.uscc}", ctx.settings.authority_name)


def complete_sign_in(ctx: ServiceContext, person_id: int, code: str) -> Principal:
    ctx.require_keyring()
    now = ctx.clock.now()
    failure: DomainError | None = None
    with ctx.transaction() as session:
        p, ent = _load_for_sign_in(session, person_id)
        sign_in.check_not_locked(p, now)
        if p.totp_secret_blob is None:
            raise InvalidTransition("no second factor is set up for this account; start again")
        enrolled = not p.totp_enabled
        who = _system(ent.uscc, p.username)
        if sign_in.accept_code(ctx, p, code, now, _purpose(p, ent.uscc), p.username) is None:
            failure = SignInFailed(sign_in.code_failure_message(p, code, now, ctx, _purpose(p, ent.uscc)))
            sign_in.record_failure(session, ctx, p, now, "code", who, "person", _target(ent.uscc, p.username))
        else:
            if enrolled:
                audit.record(session, ctx, who, "totp.enrolled", "person", _target(ent.uscc, p.username))
            audit.record(session, ctx, who, "signin.succeeded", "person", _target(ent.uscc, p.username))
            principal = Principal(enterprise_id=ent.id, uscc=ent.uscc, enterprise_name=ent.name, person=p.display_name,
                                  person_id=p.id, username=p.username)
    if failure is not None:
        raise failure
    return principal


def principal_for(ctx: ServiceContext, person_id: int) -> tuple[Principal, bool] | None:
    """The signed-in person's Principal and whether they must change their password; None if the
    account was deactivated, lost its second factor or the licence stopped being active meanwhile."""
    with ctx.reader() as session:
        row = session.execute(select(EnterprisePerson, Enterprise).join(Enterprise, Enterprise.id == EnterprisePerson.enterprise_id)
                              .where(EnterprisePerson.id == person_id)).first()
        if row is None:
            return None
        p, ent = row
        if not p.active or not p.totp_enabled or ent.status is not LicenceStatus.ACTIVE:
            return None
        return Principal(enterprise_id=ent.id, uscc=ent.uscc, enterprise_name=ent.name, person=p.display_name,
                         person_id=p.id, username=p.username), p.must_change_password


def change_password(ctx: ServiceContext, principal: Principal, current: str, new: str) -> None:
    if principal.person_id is None:
        raise ValidationError("the legal representative signs in with the e-licence and has no password here")
    if len(new or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"the new password must have at least {MIN_PASSWORD_LENGTH} characters")
    if new == current:
        raise ValidationError("the new password must differ from the current one")
    if principal.username and principal.username.lower() in new.lower():
        raise ValidationError("the new password must not contain the username")
    with ctx.transaction() as session:
        p = _own_person(session, principal, principal.person_id, lock=True)
        if not check_password(p, current or ""):  # type: ignore[arg-type]
            raise SignInFailed("the current password is wrong")
        p.password_hash = hash_password(new)
        p.must_change_password = False
        audit.record(session, ctx, principal.actor, "person.password_changed", "person", _target(principal.uscc, p.username))
