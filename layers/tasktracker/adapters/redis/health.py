"""Is Redis answering? A PING on a client whose sockets give up quickly."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import redis

from tasktracker.application.ports import HealthState

RedisClient = Callable[[], redis.Redis]


def probing_client(redis_url: str, timeout_seconds: float) -> RedisClient:
    """One client for every check that reads Redis, made at the first check: a REDIS_URL that Redis cannot
    use fails those checks, not the function's start. A hung Redis fails a check within `timeout_seconds`."""

    @cache
    def client() -> redis.Redis:
        return redis.Redis.from_url(redis_url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds)

    return client


class RedisProbe:
    def __init__(self, client: RedisClient):
        self.client = client

    def check(self) -> HealthState:
        return "up" if self.client().ping() else "down"
