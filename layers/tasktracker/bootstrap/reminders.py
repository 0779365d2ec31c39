from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tasktracker.application.clock import SystemClock
from tasktracker.application.reminders import ReminderPassReport, SendReminders
from tasktracker.config import Settings

from . import unit_of_work_factory

if TYPE_CHECKING:
    from celery import Celery


def send_reminders(settings: Settings) -> SendReminders:
    return SendReminders(
        uow=unit_of_work_factory(settings),
        clock=SystemClock(),
        window_seconds=settings.reminder_window_seconds,
        batch_size=settings.reminder_batch_size,
    )


def reminder_scheduler(settings: Settings, run_pass: Callable[[str], ReminderPassReport]) -> Celery:
    """The Celery app that beat publishes the reminder job on and the worker runs it with: `run_pass(correlation_id)`
    does one pass. Celery loads only here, so the function's HTTP app and Lambda handler never load it."""
    from tasktracker.adapters.celery.app import create_celery_app
    from tasktracker.adapters.celery.reminders import register_reminder_job

    app = create_celery_app(settings)
    register_reminder_job(app, settings, run_pass)
    return app
