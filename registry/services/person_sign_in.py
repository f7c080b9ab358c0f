"""Sign-in of a person an enterprise authorised (services.enterprise_people): password, then a TOTP
second factor enrolled on first sign-in, then a portal session (services.web_sessions); and changing
one's own password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Enterprise, EnterprisePerson
from ..domain.errors import InvalidTransition, M, ValidationError
from ..domain.states import LicenceStatus
from ..pki import totp
from . import passwords, sign_in, web_sessions
from .context import Actor, ServiceContext
from .core.tx import begin
from .enterprise_people import (
    PersonChecked,
    _own_person,
    _purpose,
    _target,
)
from .portal_access import Principal
from .sign_in import SignInFailed
from .users import check_password, hash_password

LICENCE_INACTIVE = M(
    "people.licence_inactive",
    "the licence of {uscc} is {status}: its people cannot sign in",
    "{uscc} 的营业执照状态为{status}：其被授权人不能登录",
)
ALREADY_ENROLLED = M(
    "people.already_enrolled",
    "{user} already has a second factor; the legal representative can reset it",
    "{user} 已设置第二因素；如需更换，请法定代表人重置",
)
NO_PASSWORD_HERE = M(
    "people.representative_no_password",
    "the legal representative signs in with the e-licence and has no password here",
    "法定代表人使用电子营业执照登录，在此没有密码",
)
WRONG_LOGIN = M("people.wrong_login", "wrong USCC, username or password", "统一社会信用代码、用户名或密码错误")
CURRENT_WRONG = M("people.current_password_wrong", "the current password is wrong", "当前密码错误")


def _system(uscc: str, username: str) -> Actor:
    return Actor(name=f"enterprise:{uscc}:{username}"[:100], kind="enterprise")


def _load_for_sign_in(session: Session, person_id: int, *, lock: bool = False) -> tuple[EnterprisePerson, Enterprise]:
    query = (
        select(EnterprisePerson, Enterprise)
        .join(Enterprise, Enterprise.id == EnterprisePerson.enterprise_id)
        .where(EnterprisePerson.id == person_id)
    )
    row = session.execute(query.with_for_update(of=EnterprisePerson) if lock else query).first()
    if row is None or not row[0].active or row[1].status is not LicenceStatus.ACTIVE:
        raise SignInFailed(sign_in.START_AGAIN)
    return row[0], row[1]


def check_password_step(ctx: ServiceContext, uscc: str, username: str, password: str) -> PersonChecked:
    """First factor. One generic message for an unknown USCC, username or a wrong password (after
    the same work, and audited); the row is read FOR UPDATE so parallel attempts count in turn."""
    uscc = sign_in.typed_name(uscc, upper=True)
    username = sign_in.typed_name(username)
    failure: Exception | None = None
    # the names as typed: the person may not exist
    with begin(ctx, _system(uscc or "-", username or "-")) as tx:
        now = tx.now
        row = (
            tx.session.execute(
                select(EnterprisePerson, Enterprise)
                .join(Enterprise, Enterprise.id == EnterprisePerson.enterprise_id)
                .where(Enterprise.uscc == uscc, EnterprisePerson.username == username)
                .with_for_update(of=EnterprisePerson)
            ).first()
            if uscc and username
            else None
        )
        if row is None or not row[0].active:
            passwords.dummy_work(password)
            sign_in.record_unknown(tx, "person", _target(uscc or "-", username or "-"))
            failure = SignInFailed(WRONG_LOGIN)
        else:
            p, ent = row
            if p.locked_until is not None and p.locked_until > now:
                passwords.dummy_work(password)
                sign_in.check_not_locked(ctx, p, now)
            if not check_password(p, password or ""):
                sign_in.record_failure(tx, p, "password", "person", _target(uscc, username))
                failure = SignInFailed(WRONG_LOGIN)
            elif ent.status is not LicenceStatus.ACTIVE:
                raise SignInFailed(LICENCE_INACTIVE, uscc=ent.uscc, status=ent.status)
            else:
                result = PersonChecked(p.id, not p.totp_enabled)
    if failure is not None:
        raise failure
    return result


def start_enrolment(ctx: ServiceContext, person_id: int) -> tuple[str, str]:
    """The pending TOTP secret of a person without one (the same on every call until enrolment
    completes: a reload shows the QR code already scanned); returns (secret, otpauth URI)."""
    ctx.require_keyring()
    with begin(ctx, sign_in.SIGN_IN) as tx:
        p, ent = _load_for_sign_in(tx.session, person_id)
        if p.totp_enabled:
            raise InvalidTransition(ALREADY_ENROLLED, user=p.username)
        purpose = _purpose(p, ent.uscc)
        secret = (
            sign_in.read_secret(ctx, p, purpose, p.username)
            if p.totp_secret_blob is not None
            else sign_in.new_secret(ctx, p, purpose)
        )
        return secret, totp.provisioning_uri(secret, f"{p.username}@{ent.uscc}", ctx.settings.authority_name)


def complete_sign_in(ctx: ServiceContext, person_id: int, code: str) -> tuple[Principal, str]:
    """Second factor; returns the person's Principal and the new session's token (for the cookie)."""
    ctx.require_keyring()
    failure: Exception | None = None
    with begin(ctx, sign_in.SIGN_IN) as tx:
        now = tx.now
        p, ent = _load_for_sign_in(tx.session, person_id, lock=True)
        sign_in.check_not_locked(ctx, p, now)
        if p.totp_secret_blob is None:
            raise InvalidTransition(sign_in.NO_SECOND_FACTOR)
        enrolled = not p.totp_enabled
        who = _system(ent.uscc, p.username)
        if sign_in.accept_code(ctx, p, code, now, _purpose(p, ent.uscc), p.username) is None:
            failure = SignInFailed(sign_in.WRONG_CODE)
            sign_in.record_failure(tx, p, "code", "person", _target(ent.uscc, p.username), actor=who)
        else:
            if enrolled:
                tx.audit("totp.enrolled", "person", _target(ent.uscc, p.username), actor=who)
            started = web_sessions.start(tx, "person", person_id=p.id, enterprise_id=ent.id)
            tx.audit("signin.succeeded", "person", _target(ent.uscc, p.username), actor=who)
            principal = Principal(
                enterprise_id=ent.id,
                uscc=ent.uscc,
                enterprise_name=ent.name,
                person=p.display_name,
                person_id=p.id,
                username=p.username,
            )
    if failure is not None:
        raise failure
    return principal, started.token


def principal_for(ctx: ServiceContext, person_id: int) -> tuple[Principal, bool] | None:
    """The signed-in person's Principal and whether they must change their password; None if the
    account was deactivated, lost its second factor or the licence stopped being active meanwhile."""
    with ctx.reader() as session:
        row = session.execute(
            select(EnterprisePerson, Enterprise)
            .join(Enterprise, Enterprise.id == EnterprisePerson.enterprise_id)
            .where(EnterprisePerson.id == person_id)
        ).first()
        if row is None:
            return None
        p, ent = row
        if not p.active or not p.totp_enabled or ent.status is not LicenceStatus.ACTIVE:
            return None
        return Principal(
            enterprise_id=ent.id,
            uscc=ent.uscc,
            enterprise_name=ent.name,
            person=p.display_name,
            person_id=p.id,
            username=p.username,
        ), p.must_change_password


def change_password(
    ctx: ServiceContext, principal: Principal, current: str, new: str, *, keep_session: str | None = None
) -> None:
    """The person's own password; their other sessions end (``keep_session`` stays)."""
    if principal.person_id is None:
        raise ValidationError(NO_PASSWORD_HERE)
    passwords.check_new(new, current=current, username=principal.username)
    with begin(ctx, principal.actor) as tx:
        p = _own_person(tx.session, principal, principal.person_id, lock=True)
        if not check_password(p, current or ""):
            raise SignInFailed(CURRENT_WRONG)
        p.password_hash = hash_password(new)
        p.must_change_password = False
        ended = web_sessions.end_all(tx, person_id=p.id, keep=keep_session)
        tx.audit(
            "person.password_changed",
            "person",
            _target(principal.uscc, p.username),
            sessions_ended=ended,
        )
