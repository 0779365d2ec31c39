"""The reminders function: a WSGI app for its container and a Lambda handler.

The handler serves four kinds of events: EventBridge's scheduled event runs one reminder pass (the same
pass as the Celery job), the storage settler's schedule (its rule sends SETTLE_STORAGE_EVENT as the whole
event) runs one settler run, the outbox's schedule (DELIVER_OUTBOX_EVENT) one delivery run, and anything else
is an HTTP request for the app. Never imports Celery, and loads boto3 only when a settler run finds a change to
carry out.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tasktracker import bootstrap
from tasktracker.application.reminders import ReminderQueries
from tasktracker.config import Settings
from tasktracker.config import settings as environment_settings
from tasktracker.platform.app_factory import create_function_app, lambda_handler
from tasktracker.platform.logs import configure_logging

from .passes import run_outbox_delivery, run_reminder_pass, run_storage_settlement
from .routes import blp

_EVENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# What the storage settler's EventBridge rule sends (its Input in infra/aws/template.yaml): no HTTP event has
# this key, and a reminder schedule's event is EventBridge's own.
SETTLE_STORAGE_EVENT = {"scheduled_job": "settle-storage-changes"}
DELIVER_OUTBOX_EVENT = {"scheduled_job": "deliver-outbox"}


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or environment_settings()
    app = create_function_app(
        "reminders",
        title="Task Tracker · reminders",
        description=(
            "Reminders sent for tasks due within 24 hours. A scheduler (Celery beat, or EventBridge on AWS) "
            "runs the pass; this API lists what it sent."
        ),
        blueprints=[blp],
        settings=settings,
        active_users=bootstrap.active_users(settings),
        rate_limit_storage_uri=bootstrap.rate_limit_storage_uri(settings),
    )
    app.extensions["reminder_queries"] = ReminderQueries(bootstrap.unit_of_work_factory(settings))
    return app


def is_scheduled_event(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def is_storage_settlement_event(event: dict[str, Any]) -> bool:
    return event.get("scheduled_job") == SETTLE_STORAGE_EVENT["scheduled_job"]


def is_outbox_delivery_event(event: dict[str, Any]) -> bool:
    return event.get("scheduled_job") == DELIVER_OUTBOX_EVENT["scheduled_job"]


def scheduled_correlation_id(event: dict[str, Any]) -> str | None:
    """EventBridge's event id: new for every scheduled run, the same when Lambda retries that run."""
    event_id = event.get("id")
    return event_id if isinstance(event_id, str) and _EVENT_ID.match(event_id) else None


_http_handler: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point: an EventBridge schedule (reminders, storage settler, outbox), or API Gateway HTTP
    API (payload format 2.0)."""
    global _http_handler
    if is_scheduled_event(event):
        settings = environment_settings()
        configure_logging(settings.log_level)
        return run_reminder_pass(settings, scheduled_correlation_id(event)).as_dict()
    if is_storage_settlement_event(event):
        settings = environment_settings()
        configure_logging(settings.log_level)
        return run_storage_settlement(settings).as_dict()
    if is_outbox_delivery_event(event):
        settings = environment_settings()
        configure_logging(settings.log_level)
        return run_outbox_delivery(settings).as_dict()
    if _http_handler is None:
        _http_handler = lambda_handler(create_app())
    result: dict[str, Any] = _http_handler(event, context)
    return result
