"""Domain errors. The web layer maps them to HTTP statuses and the CLI to exit status 2.

Each carries a :class:`registry.messages.Message` (a code, English and Chinese): ``str(error)`` is
the English text, ``error.text("zh")`` the Chinese, and the web layer shows the page's language.
"""

from ..messages import Localized, M, Message

__all__ = [
    "DomainError",
    "ValidationError",
    "NotFound",
    "PermissionDenied",
    "InvalidTransition",
    "Conflict",
    "M",
    "Message",
]


class DomainError(Localized):
    """Base class; the message is one line fit to show to the person who caused it."""

    http_status = 400


class ValidationError(DomainError, ValueError):
    """Bad input: a malformed field, file, key or request."""

    http_status = 400


class NotFound(DomainError, LookupError):
    http_status = 404


class PermissionDenied(DomainError):
    http_status = 403


class InvalidTransition(DomainError):
    """The object is not in a state that allows the action (e.g. approving a rejected application)."""

    http_status = 409


class Conflict(DomainError):
    """The action collides with existing data (duplicate username, licence not active...)."""

    http_status = 409
