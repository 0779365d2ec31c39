"""The worker's heartbeat in Redis, and how a ready check reads it. Imports no Celery.

The worker's main process writes the unix time (a float, as a string) to HEARTBEAT_KEY every
WORKER_HEARTBEAT_SECONDS. A heartbeat older than STALE_AFTER_BEATS intervals means the worker is down;
the key outlives that (TTL_BEATS intervals) so that "down" can be told apart from "never seen" (unknown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import cast

import redis

from tasktracker.application.ports import HealthState

HEARTBEAT_KEY = "tasktracker:worker:heartbeat"
STALE_AFTER_BEATS = 3
TTL_BEATS = 20

logger = logging.getLogger(__name__)


def heartbeat_ttl_seconds(interval_seconds: float) -> int:
    return max(int(interval_seconds * TTL_BEATS), 1)


def worker_status(client: redis.Redis, interval_seconds: float, now: float | None = None) -> HealthState:
    """up: a fresh heartbeat; down: a stale one; unknown: none at all (never started, or long gone)."""
    # redis-py types its sync and async clients alike; a sync client answers bytes or None.
    raw = cast(bytes | None, client.get(HEARTBEAT_KEY))
    if raw is None:
        return "unknown"
    try:
        beat = float(raw)
    except ValueError:
        return "unknown"
    age = (time.time() if now is None else now) - beat
    return "up" if age <= interval_seconds * STALE_AFTER_BEATS else "down"


class WorkerHeartbeatProbe:
    """The worker's state as the heartbeat it last wrote tells it."""

    def __init__(self, client: Callable[[], redis.Redis], interval_seconds: float):
        self.client = client
        self.interval_seconds = interval_seconds

    def check(self) -> HealthState:
        return worker_status(self.client(), self.interval_seconds)


class Heartbeat:
    """A daemon thread writing the heartbeat; a Redis outage only skips beats until Redis is back."""

    def __init__(self, redis_url: str, interval_seconds: float, clock: Callable[[], float] = time.time):
        self.interval_seconds = interval_seconds
        self.clock = clock
        timeout = min(max(interval_seconds, 0.5), 5.0)
        # redis-py drops a broken connection and dials a new one on the next command: that is the reconnect.
        self.client = redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tasktracker-heartbeat", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval_seconds + 5)
        self.client.close()

    def beat(self) -> bool:
        try:
            self.client.set(HEARTBEAT_KEY, str(self.clock()), ex=heartbeat_ttl_seconds(self.interval_seconds))
        except redis.RedisError as error:
            if not self._failing:
                logger.warning("worker heartbeat not written, will keep trying", extra={"error": repr(error)})
            self._failing = True
            return False
        if self._failing:
            logger.info("worker heartbeat written again")
        self._failing = False
        return True

    def _run(self) -> None:
        while True:
            self.beat()
            if self._stopping.wait(self.interval_seconds):
                return
