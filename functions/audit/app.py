"""The audit function: a WSGI app for its container and a Lambda handler. Never imports boto3."""

from __future__ import annotations

from flask import Flask

from tasktracker import bootstrap
from tasktracker.bootstrap.audit import audit_use_cases
from tasktracker.config import Settings
from tasktracker.config import settings as environment_settings
from tasktracker.platform.app_factory import create_function_app, lazy_lambda_handler

from .routes import blp


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or environment_settings()
    app = create_function_app(
        "audit",
        title="Task Tracker · audit",
        description="The read-only audit trail: task, attachment, reminder, sign-in and password events.",
        blueprints=[blp],
        settings=settings,
        active_users=bootstrap.active_users(settings),
        rate_limit_storage_uri=bootstrap.rate_limit_storage_uri(settings),
    )
    app.extensions["audit_use_cases"] = audit_use_cases(settings)
    return app


# AWS Lambda entry point (API Gateway HTTP API, payload format 2.0).
handler = lazy_lambda_handler(create_app)
