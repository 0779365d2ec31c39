"""What one request's single Redis round trip carries besides the rate limit's hit.

The rate limit's storage (`rate_limit_storage.py`) and the session cache (`sessions.py`) share it: the platform
names the request's user early (`SessionCache.expect`), the hit's script reads that user's session entry in the
same round trip and keeps the window's stats for the headers, and both are read back later in the request. A
context variable, made afresh at the start of every request (`expect(None)`), so nothing of an earlier request
served by the same thread is ever read.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from uuid import UUID


@dataclass
class RequestTrip:
    user_id: UUID | None = None
    # The user's session entry's key, while it is still to be fetched with the hit.
    session_key: str | None = None
    session_fetched: bool = False
    session_failed: bool = False
    session_value: bytes | None = None
    # Full rate-limit key -> (start of the moving window, entries in it), as the hit left it.
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)


_trip: ContextVar[RequestTrip | None] = ContextVar("tasktracker_request_trip", default=None)


def begin() -> RequestTrip:
    trip = RequestTrip()
    _trip.set(trip)
    return trip


def current() -> RequestTrip | None:
    return _trip.get()
