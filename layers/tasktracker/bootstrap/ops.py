from __future__ import annotations

from dataclasses import dataclass

from tasktracker.application.ports import FunctionInvoker, HealthProbe
from tasktracker.config import Settings


@dataclass(frozen=True)
class HealthProbes:
    """What the ready check asks: the services the API needs, and the reminder worker, which it only reports."""

    database: HealthProbe
    redis: HealthProbe
    storage: HealthProbe
    worker: HealthProbe


def health_probes(settings: Settings, timeout_seconds: float) -> HealthProbes:
    """The Redis and S3 probes' sockets give up after `timeout_seconds`; the database probe uses the function's
    pooled engine. Nothing connects, and boto3 is not loaded, until a probe checks."""
    from tasktracker.adapters.celery.heartbeat import WorkerHeartbeatProbe
    from tasktracker.adapters.redis.health import RedisProbe, probing_client
    from tasktracker.adapters.s3.health import BucketProbe
    from tasktracker.adapters.sqlalchemy.engine import engine_for
    from tasktracker.adapters.sqlalchemy.health import DatabaseProbe

    redis_client = probing_client(settings.redis_url, timeout_seconds)
    return HealthProbes(
        database=DatabaseProbe(engine_for(settings.database_url, settings.db_pool_size)),
        redis=RedisProbe(redis_client),
        storage=BucketProbe(settings.s3_bucket, settings.s3_region, settings.s3_endpoint_url, timeout_seconds),
        worker=WorkerHeartbeatProbe(redis_client, settings.worker_heartbeat_seconds),
    )


def function_invoker(settings: Settings, timeout_seconds: float) -> FunctionInvoker:
    """Calls the other functions by name through the Lambda Invoke API (ops on AWS). boto3 loads at the first call."""
    from tasktracker.adapters.aws_lambda.invoke import LambdaInvoker

    return LambdaInvoker(settings.s3_region, timeout_seconds)
