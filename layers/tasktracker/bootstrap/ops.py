from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from tasktracker.application.ports import FunctionInvoker, HealthProbe, HealthState
from tasktracker.config import Settings

if TYPE_CHECKING:
    import redis

T = TypeVar("T")


@dataclass(frozen=True)
class HealthProbes:
    """What the ready check asks: the services the API needs, and the reminder worker, which it only reports."""

    database: HealthProbe
    redis: HealthProbe
    storage: HealthProbe
    worker: HealthProbe

    def prepare(self) -> None:
        """Makes the probes that are made at their first check, one after the other and outside any check's
        deadline: that deadline is for a service's answer, and a first check that also imported SQLAlchemy or
        boto3 on a busy machine would report a service down that is up."""
        for probe in (self.database, self.redis, self.storage, self.worker):
            if isinstance(probe, DeferredProbe):
                probe.prepare()


class _Once(Generic[T]):
    """`build()`'s value, made by the first caller (concurrent first callers wait for it) and then kept; a
    build that raises is tried again by the next caller."""

    def __init__(self, build: Callable[[], T]):
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    def __call__(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value


class DeferredProbe:
    """A probe made at its first check: building the ops app (a cold start) loads no SQLAlchemy, Redis client,
    boto3 or engine; the ready check that first needs them does."""

    def __init__(self, build: Callable[[], HealthProbe]):
        self._probe = _Once(build)

    def prepare(self) -> None:
        """Makes the probe now if it is not made yet; a probe that cannot be made is left to its check, which
        then reports it down."""
        try:
            self._probe()
        except Exception:  # noqa: BLE001 - the check that follows reports it
            return

    def check(self) -> HealthState:
        return self._probe().check()


def health_probes(settings: Settings, timeout_seconds: float) -> HealthProbes:
    """The Redis and S3 probes' sockets give up after `timeout_seconds`; the database probe uses the function's
    pooled engine. Nothing is imported, made or connected until a probe checks."""

    def redis_client() -> redis.Redis:
        from tasktracker.adapters.redis.health import probing_client

        return probing_client(settings.redis_url, timeout_seconds)()

    # The Redis probe and the worker's heartbeat share one client.
    client = _Once(redis_client)

    def database() -> HealthProbe:
        from tasktracker.adapters.sqlalchemy.engine import engine_for
        from tasktracker.adapters.sqlalchemy.health import DatabaseProbe

        return DatabaseProbe(engine_for(settings.database_url, settings.db_pool_size))

    def redis_probe() -> HealthProbe:
        from tasktracker.adapters.redis.health import RedisProbe

        return RedisProbe(client)

    def storage() -> HealthProbe:
        from tasktracker.adapters.s3.health import BucketProbe

        return BucketProbe(settings.s3_bucket, settings.s3_region, settings.s3_endpoint_url, timeout_seconds)

    def worker() -> HealthProbe:
        from tasktracker.adapters.celery.heartbeat import WorkerHeartbeatProbe

        return WorkerHeartbeatProbe(client, settings.worker_heartbeat_seconds)

    return HealthProbes(
        database=DeferredProbe(database),
        redis=DeferredProbe(redis_probe),
        storage=DeferredProbe(storage),
        worker=DeferredProbe(worker),
    )


def function_invoker(settings: Settings, timeout_seconds: float) -> FunctionInvoker:
    """Calls the other functions by name through the Lambda Invoke API (ops on AWS). boto3 loads at the first call."""
    from tasktracker.adapters.aws_lambda.invoke import LambdaInvoker

    return LambdaInvoker(settings.s3_region, timeout_seconds)
