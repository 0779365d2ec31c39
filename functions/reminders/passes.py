"""The one reminder pass. The Celery job, the Lambda schedule and the CLI all run it, so they cannot drift."""

from __future__ import annotations

from tasktracker.application.reminders import ReminderPassReport
from tasktracker.bootstrap.reminders import send_reminders
from tasktracker.config import Settings


def run_reminder_pass(settings: Settings, correlation_id: str | None = None) -> ReminderPassReport:
    return send_reminders(settings).run_pass(correlation_id)
