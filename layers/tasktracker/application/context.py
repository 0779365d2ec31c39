"""The correlation id of the request or job being served.

A context variable, so that HTTP requests, Celery jobs and CLI runs all set it the same way and
audit events and log lines can read it without knowing who set it.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_user_id: ContextVar[str | None] = ContextVar("user_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def set_correlation_id(value: str | None) -> None:
    _correlation_id.set(value)


def correlation_id() -> str | None:
    return _correlation_id.get()


def set_user_id(value: str | None) -> None:
    _user_id.set(value)


def user_id() -> str | None:
    return _user_id.get()
