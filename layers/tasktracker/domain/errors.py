"""Domain errors. Each carries a stable machine-readable code; delivery layers map the class to a status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "DOMAIN_ERROR"
    default_message = "The request could not be completed"

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)


class ValidationError(DomainError):
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid"

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationError:
        return cls(f"{field}: {message}", details={"fields": {field: [message]}})


class AuthenticationError(DomainError):
    code = "AUTHENTICATION_FAILED"
    default_message = "Authentication failed"


class AuthorizationError(DomainError):
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this"


class NotFoundError(DomainError):
    code = "NOT_FOUND"
    default_message = "Not found"


class ConflictError(DomainError):
    code = "CONFLICT"
    default_message = "The request conflicts with the current state"


class PreconditionFailedError(DomainError):
    """A change was based on a version of something that is no longer the current one."""

    code = "PRECONDITION_FAILED"
    default_message = "This was changed since it was loaded"


class RateLimitExceededError(DomainError):
    code = "RATE_LIMIT_EXCEEDED"
    default_message = "You're making too many requests. Please wait a bit and try again."


class PayloadTooLargeError(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The file is larger than allowed"


class ServiceUnavailableError(DomainError):
    """A backing service (database, cache, storage) is unreachable; the caller may retry."""

    code = "SERVICE_UNAVAILABLE"
    default_message = "A backing service is unavailable, please retry shortly"
