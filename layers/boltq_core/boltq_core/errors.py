"""Errors: what callers did wrong (mapped to HTTP status codes by the api function) and what
processors raise to steer retries."""

from __future__ import annotations

from typing import Any


class BoltQError(Exception):
    """Base of every BoltQ error; `status` is the HTTP status the API answers with."""

    status = 500

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidInput(BoltQError):
    """Bad input; the message names the field. Nothing stored was changed."""

    status = 400


def invalid_input(details: list[dict[str, Any]]) -> InvalidInput:
    """An InvalidInput from per-field details ({"field", "message", ...}): the message names
    the first field and counts the others."""
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return InvalidInput(f"{first['field']}: {first['message']}{more}", details)


def validation_message(err: dict[str, Any]) -> str:
    """A pydantic error's message, without pydantic's "Value error, " for our own checks."""
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


class Unauthorized(BoltQError):
    """No credentials (no API key, no WebSocket ticket)."""

    status = 401


class Forbidden(BoltQError):
    """Credentials that are wrong, revoked, expired, or of too small a scope."""

    status = 403


class NotFound(BoltQError):
    status = 404


class Conflict(BoltQError):
    """The request is valid but the object's state does not allow it (e.g. cancel a finished
    job)."""

    status = 409


class PayloadTooLarge(BoltQError):
    status = 413


class StoreUnavailable(BoltQError):
    """The store could not be reached (or is failing over); nothing is known to have changed.
    `retry_after` is the number of seconds a client should wait before trying again."""

    status = 503

    def __init__(
        self, message: str, details: list[dict[str, Any]] | None = None, retry_after: int = 1
    ) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class ConfigError(BoltQError):
    """A setting in the environment is missing or malformed."""


# --- raised by processors -------------------------------------------------------------------


class ErrorCategory:
    """How a failed attempt is classified; decides whether it is retried. The store's scripts
    set two more when a worker is lost (jobs/lua/includes/promote_due.lua): "lease_expired"
    (it ran beside other jobs: not charged, it runs again alone) and "crashed" (it ran alone:
    charged, dead-lettered after its last attempt)."""

    TRANSIENT = "transient"  # any unexpected exception: retried with backoff
    PERMANENT = "permanent"  # PermanentError: straight to the dead-letter queue
    VALIDATION = "validation"  # bad job data: straight to the dead-letter queue
    TIMEOUT = "timeout"  # the attempt overran timeout_seconds: retried
    UNKNOWN_TYPE = "unknown_type"  # no processor registered: straight to the dead-letter queue
    RATE_LIMITED = "rate_limited"  # RateLimited: back to its group's front, attempt not charged


class PermanentError(Exception):
    """Raise from a processor to fail the job without retrying."""

    category = ErrorCategory.PERMANENT


class JobValidationError(PermanentError):
    """Raise from a processor when the job's data is unusable; never retried."""

    category = ErrorCategory.VALIDATION


class RetryAfter(Exception):
    """Raise from a processor to retry after `seconds` (still bounded by max_attempts)."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"retry requested after {seconds}s")
        self.seconds = max(0.0, float(seconds))


class RateLimited(Exception):
    """Raise from a processor when a downstream says "too many" (an HTTP 429): the job goes back
    to the front of its group without using an attempt, and its whole group waits `seconds`
    (SPEC §13)."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"rate limited for {seconds}s")
        self.seconds = max(0.0, float(seconds))


class JobCancelled(Exception):
    """Raised inside a processor (by ctx.raise_if_cancelled) when the job was cancelled."""
