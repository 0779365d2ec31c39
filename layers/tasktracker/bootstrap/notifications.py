from __future__ import annotations

from tasktracker.application.clock import SystemClock
from tasktracker.application.notifications import NotificationUseCases
from tasktracker.application.webhooks import WebhookUseCases
from tasktracker.config import Settings

from . import unit_of_work_factory


def notification_use_cases(settings: Settings) -> NotificationUseCases:
    return NotificationUseCases(uow=unit_of_work_factory(settings), clock=SystemClock())


def webhook_use_cases(settings: Settings) -> WebhookUseCases:
    from tasktracker.adapters.delivery.targets import ResolvingTargetPolicy

    return WebhookUseCases(
        uow=unit_of_work_factory(settings),
        clock=SystemClock(),
        targets=ResolvingTargetPolicy(allow_private=settings.webhook_allow_private_targets),
    )
