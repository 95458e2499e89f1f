"""Domain errors, defined once and mapped to HTTP status codes in one place.

Services raise these; `server.handlers.base.BaseHandler.write_error` and the
websocket handler turn them into the single JSON error shape
``{"message": ..., "reason": ...}``. ``reason`` is a stable machine-readable
code; ``message`` is a human sentence safe to show to the user.
"""


class DomainError(Exception):
    """Base class: a refusal the user can understand and act on."""

    status = 400
    reason = "bad_request"

    def __init__(self, message: str, reason: str | None = None, **details):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.details = details


class Invalid(DomainError):
    """The input is malformed or breaks a rule; nothing was stored."""

    status = 400
    reason = "invalid"


class Unauthenticated(DomainError):
    """No valid session: log in (staff) or accept the terms (citizen)."""

    status = 401
    reason = "unauthenticated"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    status = 403
    reason = "forbidden"


class NotFound(DomainError):
    """No such thing, or the caller may not know it exists."""

    status = 404
    reason = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (already taken, duplicate)."""

    status = 409
    reason = "conflict"


class TooLarge(DomainError):
    """The request or one of its parts exceeds a configured limit."""

    status = 413
    reason = "too_large"


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` says when to try again (seconds)."""

    status = 429
    reason = "rate_limited"

    def __init__(self, message: str, retry_after: int, reason: str | None = None):
        super().__init__(message, reason)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A dependency (the database) is down; the caller should retry later."""

    status = 503
    reason = "unavailable"

    def __init__(self, message: str, retry_after: int = 5, reason: str | None = None):
        super().__init__(message, reason)
        self.retry_after = retry_after


class StorageFailed(DomainError):
    """A file could not be written (disk full, storage refused); nothing was kept."""

    status = 507
    reason = "storage_failed"
