from __future__ import annotations

from tasktracker.application.clock import SystemClock
from tasktracker.application.notifications import NotificationUseCases
from tasktracker.config import Settings

from . import unit_of_work_factory


def notification_use_cases(settings: Settings) -> NotificationUseCases:
    return NotificationUseCases(uow=unit_of_work_factory(settings), clock=SystemClock())
