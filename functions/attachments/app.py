"""The attachments function: a WSGI app for its container and a Lambda handler."""

from __future__ import annotations

from flask import Flask

from tasktracker import bootstrap
from tasktracker.bootstrap.attachments import attachment_use_cases
from tasktracker.config import Settings
from tasktracker.config import settings as environment_settings
from tasktracker.platform.app_factory import create_function_app, lazy_lambda_handler

from .routes import blp


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or environment_settings()
    app = create_function_app(
        "attachments",
        title="Task Tracker · attachments",
        description="Files attached to tasks, stored in S3: upload through the API (multipart) or straight to S3 "
        "with a presigned form, list, download, remove.",
        blueprints=[blp],
        settings=settings,
        active_users=bootstrap.active_users(settings),
        rate_limit_storage_uri=bootstrap.rate_limit_storage_uri(settings),
    )
    # Uploads raise the platform's cap (the largest JSON body) to theirs: a body announced larger than any allowed
    # upload is refused (413) before a byte of it is read. Its JSON bodies keep the JSON cap.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_body_bytes
    app.extensions["attachment_use_cases"] = attachment_use_cases(settings)
    return app


# AWS Lambda entry point (API Gateway HTTP API, payload format 2.0).
handler = lazy_lambda_handler(create_app)
