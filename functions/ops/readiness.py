"""Is every backing service and function answering? Checked concurrently, each within a short timeout."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, Literal

import redis
from sqlalchemy import text

from tasktracker.adapters.celery.heartbeat import WorkerStatus, worker_status
from tasktracker.adapters.sqlalchemy.engine import engine_for
from tasktracker.config import Settings

from .peers import Peer, call_concurrently

CHECK_TIMEOUT_SECONDS = 2.0
# Client-side socket timeouts stay under the check timeout, so a hung service rarely outlives its check.
SOCKET_TIMEOUT_SECONDS = 1.0

State = Literal["up", "down"]


def _state(is_up: bool | None) -> State:
    return "up" if is_up else "down"


class Readiness:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.settings.redis_url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        )

    @cached_property
    def _s3(self) -> Any:
        # Only ops loads boto3, and only once it checks storage.
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=SOCKET_TIMEOUT_SECONDS,
            read_timeout=SOCKET_TIMEOUT_SECONDS,
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"},
        )
        session = boto3.session.Session(region_name=self.settings.s3_region)
        return session.client("s3", endpoint_url=self.settings.s3_endpoint_url, config=config)

    def database_is_up(self) -> bool:
        with engine_for(self.settings.database_url, self.settings.db_pool_size).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True

    def redis_is_up(self) -> bool:
        return bool(self._redis.ping())

    def storage_is_up(self) -> bool:
        """The attachments bucket exists and answers: what uploads need."""
        self._s3.head_bucket(Bucket=self.settings.s3_bucket)
        return True

    def worker_state(self) -> WorkerStatus:
        """From the heartbeat the reminder worker writes to Redis every WORKER_HEARTBEAT_SECONDS."""
        return worker_status(self._redis, self.settings.worker_heartbeat_seconds)

    def report(self, peers: list[Peer]) -> tuple[bool, dict[str, Any]]:
        """(ready, body): ready when the database, Redis, S3 and every function are up; the worker is only
        reported, since the API serves requests without it."""
        checks: dict[str, Callable[[], object]] = {
            "db": self.database_is_up,
            "redis": self.redis_is_up,
            "s3": self.storage_is_up,
            "worker": self.worker_state,
        }
        for peer in peers:
            checks[f"function:{peer.name}"] = _live_check(peer)
        results = call_concurrently(checks, CHECK_TIMEOUT_SECONDS)
        functions = {peer.name: _state(bool(results[f"function:{peer.name}"])) for peer in peers}
        services = {name: _state(bool(results[name])) for name in ("db", "redis", "s3")}
        ready = all(state == "up" for state in (*services.values(), *functions.values()))
        worker = results["worker"] or "unknown"
        body = {
            "status": "ok" if ready else "degraded",
            "components": {**services, "worker": worker, "functions": functions},
        }
        return ready, body


def _live_check(peer: Peer) -> Callable[[], bool]:
    def is_live() -> bool:
        return peer.get("/health/live", SOCKET_TIMEOUT_SECONDS).status == 200

    return is_live
