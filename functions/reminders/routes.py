"""HTTP only: parse, call the use case, answer. Rules live in the application layer."""

from __future__ import annotations

from typing import Any

from flask import current_app

from tasktracker.application.ports import Page, SentReminder
from tasktracker.application.reminders import ReminderQueries
from tasktracker.platform.paging import PageQuerySchema
from tasktracker.platform.smorest import FunctionBlueprint

from .schemas import SentReminderPageSchema

blp = FunctionBlueprint(
    "reminders",
    __name__,
    url_prefix="/api/v1/reminders",
    description="DUE_SOON reminders the scheduler sent: one per task and due date.",
)


def queries() -> ReminderQueries:
    reminder_queries: ReminderQueries = current_app.extensions["reminder_queries"]
    return reminder_queries


@blp.route("", methods=["GET"])
@blp.requires_sign_in
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, SentReminderPageSchema)
@blp.error(400, description="page or page_size out of range")
def list_reminders(args: dict[str, Any]) -> Page[SentReminder]:
    """Recent reminders, newest first"""
    return queries().recent(args["page"], args["page_size"])
