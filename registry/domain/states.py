"""State machines with explicit transition tables (design.md §3)."""

from __future__ import annotations

import enum
from typing import cast

from .errors import InvalidTransition, M


class _Labelled:
    """Enums people read: ``label(lang)`` is the Chinese or English name (``|label`` in templates)."""

    _LABELS: dict[str, tuple[str, str]]  # value -> (Chinese, English), set after each class

    def label(self, lang: str = "zh") -> str:
        zh, en = type(self)._LABELS[cast(enum.Enum, self).value]  # a mixin of Enum classes
        return zh if lang == "zh" else en


class ApplicationState(_Labelled, str, enum.Enum):
    SUBMITTED = "submitted"
    REVIEWED = "reviewed"
    APPROVED = "approved"
    ISSUED = "issued"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ApplicationAction(str, enum.Enum):
    REVIEW = "review"
    APPROVE = "approve"
    ISSUE = "issue"
    REJECT = "reject"
    WITHDRAW = "withdraw"


_APP_TRANSITIONS: dict[tuple[ApplicationState, ApplicationAction], ApplicationState] = {
    (ApplicationState.SUBMITTED, ApplicationAction.REVIEW): ApplicationState.REVIEWED,
    (ApplicationState.REVIEWED, ApplicationAction.APPROVE): ApplicationState.APPROVED,
    (ApplicationState.APPROVED, ApplicationAction.ISSUE): ApplicationState.ISSUED,
    (ApplicationState.SUBMITTED, ApplicationAction.REJECT): ApplicationState.REJECTED,
    (ApplicationState.REVIEWED, ApplicationAction.REJECT): ApplicationState.REJECTED,
    (ApplicationState.SUBMITTED, ApplicationAction.WITHDRAW): ApplicationState.WITHDRAWN,
    (ApplicationState.REVIEWED, ApplicationAction.WITHDRAW): ApplicationState.WITHDRAWN,
}


def next_application_state(state: ApplicationState, action: ApplicationAction) -> ApplicationState:
    try:
        return _APP_TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(
            M(
                "state.cannot_application_that",
                "cannot {action} an application that is {state}",
                "不能对处于 {state} 状态的申请执行 {action}",
            ),
            action=action.value,
            state=state.value,
        ) from None


class SealStatus(_Labelled, str, enum.Enum):
    """Stored status. ``expired`` is never stored: it is derived from the validity window."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class LicenceStatus(_Labelled, str, enum.Enum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # 注销
    REVOKED = "revoked"  # 吊销

    @classmethod
    def parse(cls, text: str) -> LicenceStatus:
        from .errors import ValidationError

        try:
            return cls((text or "").strip().lower())
        except ValueError:
            raise ValidationError(
                M(
                    "state.unknown_licence_status_use",
                    "unknown licence status {text}; use active, cancelled or revoked",
                    "未知的执照状态 {text}；请使用 active（存续）、cancelled（注销）或 revoked（吊销）",
                ),
                text=f"{text!r}",
            ) from None


class CertificateStatus(_Labelled, str, enum.Enum):
    GOOD = "good"
    HOLD = "hold"
    REVOKED = "revoked"


ApplicationState._LABELS = {
    "submitted": ("已提交", "Submitted"),
    "reviewed": ("执照已核验", "Licence checked"),
    "approved": ("已批准", "Approved"),
    "issued": ("已签发", "Issued"),
    "rejected": ("已驳回", "Rejected"),
    "withdrawn": ("已撤回", "Withdrawn"),
}
SealStatus._LABELS = {
    "active": ("有效", "Valid"),
    "suspended": ("已停用", "Suspended"),
    "revoked": ("已吊销", "Revoked"),
}
LicenceStatus._LABELS = {
    "active": ("存续", "Active"),
    "cancelled": ("已注销", "Cancelled"),
    "revoked": ("已吊销", "Revoked"),
}
CertificateStatus._LABELS = {
    "good": ("有效", "Good"),
    "hold": ("已冻结", "On hold"),
    "revoked": ("已撤销", "Revoked"),
}
# A seal past its validEnd is not a stored status (SealStatus) but is shown as one.
EXPIRED_LABEL = ("已过期", "Expired")


def label_of(value: str, kind: type[_Labelled], lang: str = "zh") -> str:
    """The label of a stored value given as text (e.g. a status column read raw); unknown values as is."""
    pair = kind._LABELS.get(value)
    if value == "expired" and pair is None:
        pair = EXPIRED_LABEL
    return value if pair is None else pair[0 if lang == "zh" else 1]
