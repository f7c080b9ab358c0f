"""Dual control at the counter (the command line): who runs it, and who approves.

``registry seal issue --operator X --approver Y`` names two people. A name is only a claim, so
both must prove they are there: the operator signs in (password and a TOTP code, the same checks
and lock-out as the admin portal's sign-in) and the approver confirms with a TOTP code of their own.
Either may be refused before any code is asked for:

* an account whose password was set by someone else (``must_change_password``: a new account or
  one reset by an admin) or that has not enrolled its own second factor: whoever created it knows
  its one-time password, so its "approval" could be the creator's;
* as approver, an account with the admin role: admins create the staff accounts, so an admin's
  approval could always be given to themselves (an admin who wants to approve needs a separate
  reviewer account, created and enrolled by someone else).

Without both, the only way is ``--break-glass REASON``: the issuance is recorded as made by the
command-line user (``cli:<OS user>``) under the break-glass policy, with the reason, in the audit
log (``application.break_glass``, and ``seal.issued`` carries ``break_glass``), for the auditor to
review.
"""

from __future__ import annotations

from sqlalchemy import select

from ..db.models import User
from ..domain.errors import DomainError, M, PermissionDenied, ValidationError
from ..domain.roles import Permission, Role, require
from . import sign_in, staff_auth
from .context import Actor, ServiceContext
from .core.tx import begin

MAX_REASON = 500


def eligibility_problem(user: User, purpose: str) -> DomainError | None:
    """Why ``user`` cannot act as ``purpose`` ("operator" or "approver") at the counter, or None."""
    try:
        require(user.username, user.roles, _NEEDS[purpose])
    except PermissionDenied as exc:
        return exc
    if user.must_change_password:
        return PermissionDenied(
            M(
                "counter.password_not_own",
                "{user} cannot act as {purpose}: the password was set by someone else "
                "(the account must sign in and choose its own first)",
                "{user} 不能担任{purpose}：其密码由他人设置（须先登录并自行设置密码）",
            ),
            user=user.username,
            purpose=_PURPOSE[purpose],
        )
    if not user.totp_enabled or user.totp_secret_blob is None:
        return PermissionDenied(
            M(
                "counter.no_totp",
                "{user} cannot act as {purpose}: no second factor is enrolled "
                "(the account must sign in and enrol its authenticator first)",
                "{user} 不能担任{purpose}：尚未绑定动态口令（须先登录并绑定身份验证器）",
            ),
            user=user.username,
            purpose=_PURPOSE[purpose],
        )
    if purpose == "approver" and Role.ADMIN in user.roles:
        return PermissionDenied(
            M(
                "counter.admin_approver",
                "{user} cannot approve: an account with the admin role never approves "
                "(admins create the staff accounts)",
                "{user} 不能审批：具有管理员角色的账户不得审批（管理员负责创建员工账户）",
            ),
            user=user.username,
        )
    return None


_PURPOSE = {
    "operator": M("counter.purpose.operator", "operator", "经办人"),
    "approver": M("counter.purpose.approver", "approver", "审批人"),
    "peer-proposer": M("counter.purpose.peer_proposer", "the proposer of a peer", "对方机构的提议人"),
    "peer-approver": M("counter.purpose.peer_approver", "the approver of a peer", "对方机构的批准人"),
    "peer-manager": M("counter.purpose.peer_manager", "the one deciding about a peer", "对方机构事项的决定人"),
}
# What each purpose needs. A seal's approver is never an admin (see the module doc); a peer's
# approver may be an admin or a reviewer, as long as it is not the proposer (registry.services.peers).
_NEEDS = {
    "operator": Permission.APPLICATION_REVIEW,
    "approver": Permission.APPLICATION_APPROVE,
    "peer-proposer": Permission.PEER_PROPOSE,
    "peer-approver": Permission.PEER_APPROVE,
    "peer-manager": Permission.PEER_MANAGE,
}


def check_eligible(ctx: ServiceContext, username: str, purpose: str) -> None:
    """Refuse an ineligible account before asking for its password or code (nothing is counted)."""
    with ctx.reader() as session:
        user = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
        if user is None or not user.active:
            return  # the sign-in step gives its generic answer
        problem = eligibility_problem(user, purpose)
    if problem is not None:
        raise problem


def confirm(
    ctx: ServiceContext, cli_user: Actor, username: str, purpose: str, code: str, password: str | None = None
) -> Actor:
    """The operator's sign-in (``password`` and ``code``) or the approver's confirmation (``code``).
    Wrong passwords and codes count towards the account's lock-out like a portal sign-in; a code
    is accepted once. Returns the staff Actor; the confirmation is an audit event."""
    ctx.require_keyring()
    check_eligible(ctx, username, purpose)
    if password is not None:
        staff_auth.check_password_step(ctx, username, password)
    failure: DomainError | None = None
    with begin(ctx, cli_user) as tx:  # each event names the staff member it is about
        now = tx.now
        typed = sign_in.typed_name(username)
        user = tx.session.scalar(select(User).where(User.username == typed).with_for_update()) if typed else None
        if user is None or not user.active:
            raise sign_in.SignInFailed(sign_in.WRONG_PASSWORD)
        sign_in.check_not_locked(ctx, user, now)
        problem = eligibility_problem(user, purpose)
        if problem is not None:
            raise problem
        purpose_key = f"totp:{user.id}:{user.username}"  # as registry.services.staff_auth binds the secret
        if sign_in.accept_code(ctx, user, code or "", now, purpose_key, user.username) is None:
            sign_in.record_failure(
                tx, user, "code", "user", user.username, actor=Actor(name=user.username, kind="staff")
            )
            failure = PermissionDenied(
                M("counter.wrong_code", "wrong or already used code for {user}", "{user} 的动态口令错误或已使用过"),
                user=user.username,
            )
        else:
            actor = Actor(name=user.username, kind="staff", roles=user.roles, user_id=user.id)
            tx.audit(
                "counter.confirmed",
                "user",
                user.username,
                actor=actor,
                role=purpose,
                factors="password+totp" if password is not None else "totp",
                cli_user=cli_user.name,
            )
    if failure is not None:
        raise failure
    return actor


def check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            M("counter.break_glass_reason", "--break-glass needs a reason", "--break-glass 须说明理由")
        )
    if len(reason) > MAX_REASON or any(ord(c) < 32 for c in reason):
        raise ValidationError(
            M(
                "counter.break_glass_reason_bad",
                "the break-glass reason must be one line of at most {limit} characters",
                "紧急授权理由须为一行，不超过 {limit} 个字符",
            ),
            limit=MAX_REASON,
        )
    return reason
