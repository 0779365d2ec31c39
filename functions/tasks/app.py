"""The tasks function: a WSGI app for its container and a Lambda handler. boto3 loads only when needed."""

from __future__ import annotations

from flask import Flask

from tasktracker import bootstrap
from tasktracker.bootstrap.tasks import task_use_cases
from tasktracker.config import Settings
from tasktracker.config import settings as environment_settings
from tasktracker.platform.app_factory import create_function_app, lazy_lambda_handler

from .routes import blp


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or environment_settings()
    app = create_function_app(
        "tasks",
        title="Task Tracker · tasks",
        description="Tasks: create, read, search, filter, sort, page, change and delete. Everyone signed in may "
        "read every task; only a task's owner may change or delete it.",
        blueprints=[blp],
        settings=settings,
        active_users=bootstrap.active_users(settings),
        rate_limit_storage_uri=bootstrap.rate_limit_storage_uri(settings),
    )
    app.extensions["task_use_cases"] = task_use_cases(settings)
    return app


# AWS Lambda entry point (API Gateway HTTP API, payload format 2.0).
handler = lazy_lambda_handler(create_app)
