"""The auth function: a WSGI app for its container and a Lambda handler. Never imports boto3."""

from __future__ import annotations

from flask import Flask

from tasktracker import bootstrap
from tasktracker.bootstrap.auth import auth_use_cases
from tasktracker.config import Settings
from tasktracker.config import settings as environment_settings
from tasktracker.platform.app_factory import create_function_app, lazy_lambda_handler
from tasktracker.platform.security import FlaskJwtAccessTokenIssuer

from .routes import blp


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or environment_settings()
    app = create_function_app(
        "auth",
        title="Task Tracker · auth",
        description="Accounts and tokens. Access tokens last 15 minutes; refresh tokens rotate on every use.",
        blueprints=[blp],
        settings=settings,
        active_users=bootstrap.active_users(settings),
        rate_limit_storage_uri=bootstrap.rate_limit_storage_uri(settings),
    )
    app.extensions["auth_use_cases"] = auth_use_cases(
        settings, FlaskJwtAccessTokenIssuer(settings.access_token_ttl_seconds)
    )
    return app


# AWS Lambda entry point (API Gateway HTTP API, payload format 2.0).
handler = lazy_lambda_handler(create_app)
