"""Staff roles and what each may do (design.md §1). Services call :func:`require`."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from .errors import M, PermissionDenied


class Role(str, enum.Enum):
    OPERATOR = "operator"  # 经办
    REVIEWER = "reviewer"  # 审核
    ADMIN = "admin"  # 管理员
    AUDITOR = "auditor"  # 审计员

    def label(self, lang: str = "zh") -> str:
        zh, en = _ROLE_LABELS[self]
        return zh if lang == "zh" else en

    @classmethod
    def parse(cls, text: str) -> Role:
        from .errors import M, ValidationError

        try:
            return cls((text or "").strip().lower())
        except ValueError:
            raise ValidationError(
                M("role.unknown", "unknown role {text}; use one of: {choices}", "未知角色 {text}；可选：{choices}"),
                text=f"{text!r}",
                choices=", ".join(r.value for r in cls),
            ) from None


_ROLE_LABELS = {
    Role.OPERATOR: ("经办", "Operator"),
    Role.REVIEWER: ("审核", "Reviewer"),
    Role.ADMIN: ("管理员", "Administrator"),
    Role.AUDITOR: ("审计员", "Auditor"),
}


class Permission(str, enum.Enum):
    APPLICATION_SUBMIT = "application.submit"  # on behalf of an enterprise, at the counter
    APPLICATION_REVIEW = "application.review"  # licence check (first of the two controls)
    APPLICATION_APPROVE = "application.approve"  # second control
    APPLICATION_REJECT = "application.reject"
    SEAL_ISSUE = "seal.issue"
    SEAL_SUSPEND = "seal.suspend"
    SEAL_REVOKE = "seal.revoke"
    SEAL_VIEW = "seal.view"
    LICENCE_IMPORT = "licence.import"
    LICENCE_CHANGE = "licence.change"
    USER_MANAGE = "user.manage"
    CA_MANAGE = "ca.manage"
    CRL_PUBLISH = "crl.publish"
    TRUST_LIST_PUBLISH = "trust_list.publish"  # our signed trust list and its list-signing keys
    PEER_PROPOSE = "peer.propose"  # propose admitting another registry (first of the two controls)
    PEER_APPROVE = "peer.approve"  # admit it (second control: another person)
    PEER_MANAGE = "peer.manage"  # suspend, resume, withdraw, refresh now
    AUDIT_VIEW = "audit.view"
    AUDIT_VERIFY = "audit.verify"  # the hash chain's integrity check (not the log itself)


P = Permission
# Licence data (import of the e-licence registry's files, a licence event keyed in by hand) is the
# operator's: it is the licence check's source of truth, and its effect on seals follows from the
# rule in design.md §3, not from anyone's judgement. The admin runs accounts and the CAs: someone
# who can create staff accounts does not also feed the data that revokes seals.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset(
        {
            P.APPLICATION_SUBMIT,
            P.APPLICATION_REVIEW,
            P.APPLICATION_REJECT,
            P.SEAL_ISSUE,
            P.SEAL_SUSPEND,
            P.SEAL_VIEW,
            P.LICENCE_IMPORT,
            P.LICENCE_CHANGE,
        }
    ),
    Role.REVIEWER: frozenset(
        {P.APPLICATION_APPROVE, P.APPLICATION_REJECT, P.SEAL_REVOKE, P.SEAL_SUSPEND, P.SEAL_VIEW, P.PEER_APPROVE}
    ),
    Role.ADMIN: frozenset(
        {
            P.USER_MANAGE,
            P.CA_MANAGE,
            P.CRL_PUBLISH,
            P.TRUST_LIST_PUBLISH,
            P.PEER_PROPOSE,
            P.PEER_APPROVE,
            P.PEER_MANAGE,
            P.SEAL_VIEW,
            P.AUDIT_VERIFY,
        }
    ),
    Role.AUDITOR: frozenset({P.SEAL_VIEW, P.AUDIT_VIEW, P.AUDIT_VERIFY}),
}


def permissions_of(roles: Iterable[Role]) -> frozenset[Permission]:
    out: set[Permission] = set()
    for r in roles:
        out |= ROLE_PERMISSIONS[r]
    return frozenset(out)


def require(who: str, roles: Iterable[Role], permission: Permission) -> None:
    if permission not in permissions_of(roles):
        raise PermissionDenied(
            M(
                "role.may_needs_role_that",
                "{who} may not {replace} (needs a role that grants {permission})",
                "{who} 无权{replace}（需要具有 {permission} 权限的角色）",
            ),
            who=who,
            replace=permission.value.replace(".", " "),
            permission=permission.value,
        )


def check_dual_control(reviewer: str, approver: str) -> None:
    """Dual control (四眼原则): the person who approves is never the one who reviewed."""
    if reviewer == approver:
        raise PermissionDenied(
            M(
                "role.reviewed_this_application_cannot",
                "{approver} reviewed this application and cannot also approve it (dual control)",
                "{approver} 已核验此申请，不能再批准它（双人控制）",
            ),
            approver=approver,
        )
