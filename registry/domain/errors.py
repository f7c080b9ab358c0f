"""Domain errors. The web layer maps them to HTTP statuses and the CLI to exit status 2."""


class DomainError(Exception):
    """Base class; ``str(error)`` is a one-line message fit to show to the person who caused it."""

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
