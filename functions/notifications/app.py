"""The notifications function: a WSGI app for its container and a Lambda handler. Never imports boto3 or Celery.

The reminder pass (functions/reminders) writes the notifications; this function lets their user read them, choose
whether reminders also come by e-mail, and manage the webhooks their tasks' events go to.
"""

from __future__ import annotations

from flask import Flask

from tasktracker import bootstrap
from tasktracker.bootstrap.notifications import notification_use_cases, webhook_use_cases
from tasktracker.config import Settings
from tasktracker.config import settings as environment_settings
from tasktracker.platform.app_factory import create_function_app, lazy_lambda_handler

from .routes import blp
from .webhooks import blp as webhooks_blp


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or environment_settings()
    app = create_function_app(
        "notifications",
        title="Task Tracker · notifications",
        description=(
            "Your in-app notifications (a task of yours due soon): list them, mark them read, choose e-mail; and "
            "your webhooks, which receive the events of your own tasks."
        ),
        blueprints=[blp, webhooks_blp],
        settings=settings,
        active_users=bootstrap.active_users(settings),
        rate_limit_storage_uri=bootstrap.rate_limit_storage_uri(settings),
    )
    app.extensions["notification_use_cases"] = notification_use_cases(settings)
    app.extensions["webhook_use_cases"] = webhook_use_cases(settings)
    return app


# AWS Lambda entry point (API Gateway HTTP API, payload format 2.0).
handler = lazy_lambda_handler(create_app)
