from __future__ import annotations

from tasktracker.application.clock import SystemClock
from tasktracker.application.reminders import SendReminders
from tasktracker.config import Settings

from . import unit_of_work_factory


def send_reminders(settings: Settings) -> SendReminders:
    return SendReminders(
        uow=unit_of_work_factory(settings),
        clock=SystemClock(),
        window_seconds=settings.reminder_window_seconds,
        batch_size=settings.reminder_batch_size,
    )
