"""The ops function: health of the whole system, merged metrics and the merged OpenAPI document."""

from __future__ import annotations

import os

from flask import Flask

from tasktracker import bootstrap
from tasktracker.bootstrap.ops import function_invoker, health_probes
from tasktracker.config import Settings
from tasktracker.config import settings as environment_settings
from tasktracker.platform.app_factory import create_function_app, lazy_lambda_handler

from .peers import peers_from_environment
from .readiness import SOCKET_TIMEOUT_SECONDS, Readiness
from .routes import FETCH_TIMEOUT_SECONDS, Operations, blp

NAME = "ops"
# /metrics is the merged exposition of every function; ops's own series are also served here, alone.
OWN_METRICS_PATH = "/metrics/self"


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or environment_settings()
    app = create_function_app(
        NAME,
        title="Task Tracker · ops",
        description="Liveness and readiness, every function's metrics in one exposition, and the whole API's "
        "OpenAPI document. Public: no token needed.",
        blueprints=[blp],
        settings=settings,
        active_users=bootstrap.active_users(settings),
        rate_limit_storage_uri=bootstrap.rate_limit_storage_uri(settings),
        metrics_path=OWN_METRICS_PATH,
    )
    worker_metrics_url = os.environ.get("WORKER_METRICS_URL", "").strip()
    app.extensions["operations"] = Operations(
        NAME,
        tuple(peers_from_environment(NAME, lambda: function_invoker(settings, FETCH_TIMEOUT_SECONDS))),
        Readiness(health_probes(settings, SOCKET_TIMEOUT_SECONDS)),
        extra_metrics_urls={"reminders-worker": worker_metrics_url.rstrip("/")} if worker_metrics_url else {},
        cache_seconds=settings.ops_cache_seconds,
    )
    return app


# AWS Lambda entry point (API Gateway HTTP API, payload format 2.0).
handler = lazy_lambda_handler(create_app)
