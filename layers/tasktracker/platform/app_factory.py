"""Builds a function: a Flask + flask-smorest app around some blueprints, with everything they share."""

from __future__ import annotations

import importlib
import importlib.util
import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, Response, send_from_directory
from flask_smorest import Blueprint
from werkzeug.middleware.proxy_fix import ProxyFix

from tasktracker.config import Settings

from . import correlation
from .cors import configure_cors
from .errors import register_error_handlers
from .json_provider import OrjsonProvider
from .logs import configure_logging
from .metrics import FunctionMetrics
from .rate_limits import configure_rate_limits, exempt_from_api_limit
from .request_bodies import MAX_JSON_BODY_BYTES
from .security import ActiveUserCheck, configure_jwt
from .smorest import FunctionApi

API_PREFIX = "/api/v1"


def _swagger_ui_assets() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


class _FunctionFlask(Flask):
    """Flask, remembering which views and hooks are plain functions.

    Flask asks, before every call of a hook or a view on every request, whether the function is a coroutine function
    (ensure_sync, which Flask documents as the method to override): a dozen inspections a request of functions that
    never change. The answer is kept per function instead; an async one is still wrapped as Flask does.

    Its JSON is orjson's (json_provider.py)."""

    json_provider_class = OrjsonProvider

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._callable_as_is: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        callable_as_is = self._callable_as_is.get(func)
        if callable_as_is is None:
            callable_as_is = self._callable_as_is[func] = super().ensure_sync(func)
        return callable_as_is


def create_function_app(
    name: str,
    *,
    title: str,
    description: str,
    blueprints: Sequence[Blueprint],
    settings: Settings,
    active_users: ActiveUserCheck,
    rate_limit_storage_uri: str | None = None,
    docs_prefix: str | None = None,
    metrics_path: str = "/metrics",
) -> Flask:
    """`name` is the function (auth, tasks, ...); its documents live under /api/v1/<docs_prefix or name>.

    `metrics_path` serves the app's own Prometheus exposition; `active_users` is asked on every signed-in
    request (see security.configure_jwt); `rate_limit_storage_uri` is the limits storage (bootstrap's, which makes
    the limit and that check one Redis round trip; REDIS_URL as it is otherwise)."""
    configure_logging(settings.log_level)
    app = _FunctionFlask(f"tasktracker.functions.{name}")
    docs_root = f"{API_PREFIX}/{docs_prefix or name}"
    app.config.update(
        FUNCTION_NAME=name,
        API_TITLE=title,
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=docs_root,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{docs_root}/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "servers": [{"url": "/"}],
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        },
        # A function that takes no files reads nothing larger than the largest valid JSON body (413 past it);
        # one that takes uploads raises this to its own limit.
        MAX_CONTENT_LENGTH=MAX_JSON_BODY_BYTES,
        SETTINGS=settings,
    )
    # The router is the one proxy in front of every function: trust exactly its X-Forwarded-* headers.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    correlation.install(app)
    configure_cors(app, settings.cors_origins)
    register_error_handlers(app)
    configure_jwt(app, settings.jwt_secret_key, settings.access_token_ttl_seconds, active_users)
    configure_rate_limits(
        app,
        storage_uri=rate_limit_storage_uri or settings.redis_url,
        default_limit=settings.rate_limit_default,
        login_limit=settings.rate_limit_login,
        monitoring_limit=settings.rate_limit_ops,
        enabled=settings.rate_limit_enabled,
    )
    FunctionMetrics(app, path=metrics_path)

    api = FunctionApi(app)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)

    assets = _swagger_ui_assets()

    @app.get(f"{docs_root}/docs/assets/<path:filename>")
    @exempt_from_api_limit
    def swagger_ui_asset(filename: str) -> Response:
        # Served from the swagger-ui-bundle package: the docs work with no network access.
        return send_from_directory(assets, filename, max_age=3600)

    @app.get("/health/live")
    @exempt_from_api_limit
    def live() -> dict[str, str]:
        return {"status": "ok", "function": name}

    # Scrapes and health checks must never be rate-limited away.
    exempt_from_api_limit(app.view_functions["prometheus_metrics"])
    app.extensions["tasktracker_api"] = api
    return app


def lambda_handler(app: Flask) -> Callable[[dict[str, object], object], dict[str, object]]:
    """API Gateway HTTP API (payload 2.0) events in, responses out, through apig-wsgi."""
    from apig_wsgi import make_lambda_handler

    handler: Callable[[dict[str, object], object], dict[str, object]] = make_lambda_handler(app, binary_support=True)
    return handler


def lazy_lambda_handler(create_app: Callable[[], Flask]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A function's Lambda entry point, its app built once per execution environment.

    On Lambda (AWS_LAMBDA_FUNCTION_NAME is set) the app is built when the module is imported, in the INIT phase:
    Lambda runs INIT with more CPU than the invocations, and with SnapStart the snapshot holds the imports and the
    built app. Building opens no connection (the engine, the Redis pool and the clients connect on first use), so
    nothing stale is restored. Anywhere else (tests, tooling) importing the module needs no configuration: the app
    is built on the first event."""
    built: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None

    def build() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        nonlocal built
        if built is None:
            built = lambda_handler(create_app())
        return built

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return (built or build())(event, context)

    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        build()
        _register_snapstart_hooks()
    return handler


def _register_snapstart_hooks() -> None:
    """With SnapStart, before the snapshot: load the database libraries the function carries, which its first
    request would otherwise import (no connection is made); after each restore: seed `random` again, or every
    environment restored from one snapshot would draw the same retry jitter (the outbox's backoff, redis-py's).
    Without SnapStart neither hook runs, so INIT stays as lean as the app."""
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found]  # Lambda's runtime holds it
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return
    register_before_snapshot(_load_database_libraries)
    register_after_restore(random.seed)


# What a first request that reads the database imports, in the functions whose bundle has them.
_DATABASE_MODULES = ("sqlalchemy.orm", "sqlalchemy.dialects.postgresql.psycopg", "psycopg")


def _load_database_libraries() -> None:
    for name in _DATABASE_MODULES:
        if importlib.util.find_spec(name.partition(".")[0]) is not None:
            importlib.import_module(name)
