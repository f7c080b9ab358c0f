"""State machines with explicit transition tables (design.md §3)."""
from __future__ import annotations

import enum

from .errors import InvalidTransition


class ApplicationState(str, enum.Enum):
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
        raise InvalidTransition(f"cannot {action.value} an application that is {state.value}") from None


class SealStatus(str, enum.Enum):
    """Stored status. ``expired`` is never stored: it is derived from the validity window."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class LicenceStatus(str, enum.Enum):
    ACTIVE = "active"
    CANCELLED = "cancelled"   # 注销
    REVOKED = "revoked"       # 吊销

    @classmethod
    def parse(cls, text: str) -> "LicenceStatus":
        from .errors import ValidationError

        try:
            return cls((text or "").strip().lower())
        except ValueError:
            raise ValidationError(f"unknown licence status {text!r}; use active, cancelled or revoked") from None


class CertificateStatus(str, enum.Enum):
    GOOD = "good"
    HOLD = "hold"
    REVOKED = "revoked"
