"""Every error leaves in one shape: {"error": {code, message, details, correlation_id}}."""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from tasktracker.application.context import correlation_id
from tasktracker.domain.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    DomainError,
    NotFoundError,
    PayloadTooLargeError,
    PreconditionFailedError,
    RateLimitExceededError,
    ServiceUnavailableError,
    ValidationError,
)

from . import metrics

logger = logging.getLogger("tasktracker.errors")

STATUS_OF_DOMAIN_ERROR: dict[type[DomainError], int] = {
    ValidationError: 400,
    AuthenticationError: 401,
    AuthorizationError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    PreconditionFailedError: 412,
    PayloadTooLargeError: 413,
    RateLimitExceededError: 429,
    ServiceUnavailableError: 503,
}

CODE_OF_STATUS = {
    400: "BAD_REQUEST",
    401: "AUTHENTICATION_REQUIRED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    411: "LENGTH_REQUIRED",
    412: "PRECONDITION_FAILED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    428: "PRECONDITION_REQUIRED",
    429: RateLimitExceededError.code,
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

FRIENDLY_MESSAGE = {
    404: "The requested resource was not found",
    405: "This method is not allowed here",
    413: "The request body is larger than allowed",
    429: RateLimitExceededError.default_message,
    500: "Something went wrong on our side; quote the correlation id when reporting it",
    503: "A backing service is unavailable, please retry shortly",
}

# Exceptions from drivers that mean "a service is unreachable", recognised by name so that this module
# imports none of the drivers (a function without Redis or S3 never loads them).
_UNAVAILABLE_EXCEPTION_NAMES = frozenset(
    {
        "OperationalError",
        "InterfaceError",
        "ConnectionError",
        "TimeoutError",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "BusyLoadingError",
    }
)


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Response:
    metrics.count_error(code)
    response = jsonify(
        {"error": {"code": code, "message": message, "details": details or {}, "correlation_id": correlation_id()}}
    )
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_domain_error(error: DomainError) -> Response:
    status = next(
        (status for kind, status in STATUS_OF_DOMAIN_ERROR.items() if isinstance(error, kind)),
        400,
    )
    headers = {"WWW-Authenticate": 'Bearer realm="tasktracker"'} if status == 401 else None
    if status == 503:
        logger.warning("service unavailable: %s", error.message, extra={"error_code": error.code})
    return error_response(status, error.code, error.message, error.details, headers)


def _field_errors(messages: Any) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {"title": [...]}}); callers only care about fields."""
    if not isinstance(messages, dict):
        return {"_schema": messages}
    fields: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            fields.update(errors)
        else:
            fields[location] = errors
    return fields


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="tasktracker"')
    messages = data.get("messages") or data.get("errors")
    if messages is not None and status in (400, 422):
        fields = _field_errors(messages)
        return error_response(400, ValidationError.code, "The request is not valid", {"fields": fields}, headers)
    if isinstance(error.__cause__, DomainError):
        return handle_domain_error(error.__cause__)
    message = data.get("message") or FRIENDLY_MESSAGE.get(status) or error.description or error.name
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    if status >= 500:
        original = getattr(error, "original_exception", None)
        if original is not None:
            return handle_unexpected(original)
    return error_response(status, CODE_OF_STATUS.get(status, f"HTTP_{status}"), message, None, headers)


def handle_unexpected(error: BaseException) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, DomainError):
        return handle_domain_error(error)
    if isinstance(error, ma.ValidationError):
        return error_response(400, ValidationError.code, "The request is not valid", {"fields": error.messages_dict})
    if any(kind.__name__ in _UNAVAILABLE_EXCEPTION_NAMES for kind in type(error).__mro__):
        logger.warning("backing service unavailable: %s", type(error).__name__)
        return error_response(503, "SERVICE_UNAVAILABLE", FRIENDLY_MESSAGE[503])
    logger.error("unhandled error", exc_info=error)
    return error_response(500, "INTERNAL_ERROR", FRIENDLY_MESSAGE[500])


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
