"""A fan-out's answer, kept for a few seconds and computed by one request at a time (single flight).

Readiness, the merged metrics and the merged document each ask every function; without this, every request
would ask them all again, and a burst of requests would ask them all at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


class SingleFlightCache(Generic[T]):
    """`get()` answers the kept value while it is fresh; otherwise the first caller computes a new one and the
    callers arriving meanwhile wait for that computation instead of starting their own.

    `ttl(value)` is how long a value stays fresh (a partial answer may be kept shorter than a whole one);
    0 keeps nothing but still shares a computation between the requests that arrive during it. A caller
    that has waited `wait_seconds` (longer than any computation should take: each is bounded by its own
    deadline) answers with the last value, however old, rather than waiting on.
    """

    def __init__(
        self,
        compute: Callable[[], T],
        ttl: Callable[[T], float],
        *,
        wait_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._compute = compute
        self._ttl = ttl
        self._wait_seconds = wait_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._has_value = False
        self._fresh_until = 0.0
        self._flight: _Flight[T] | None = None

    def get(self) -> T:
        with self._lock:
            if self._has_value and self._clock() < self._fresh_until:
                return self._value  # type: ignore[return-value]
            flight = self._flight
            leading = flight is None
            if flight is None:
                flight = self._flight = _Flight()
        if leading:
            return self._lead(flight)
        if not flight.done.wait(self._wait_seconds):
            with self._lock:
                if self._has_value:
                    return self._value  # type: ignore[return-value]
            flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.value  # type: ignore[return-value]

    def _lead(self, flight: _Flight[T]) -> T:
        try:
            value = self._compute()
        except BaseException as error:
            flight.error = error
            raise
        else:
            flight.value = value
            with self._lock:
                self._value, self._has_value = value, True
                self._fresh_until = self._clock() + self._ttl(value)
            return value
        finally:
            with self._lock:
                self._flight = None
            flight.done.set()
