from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from tasktracker.application.clock import SystemClock
from tasktracker.application.outbox import Backoff, DeliverOutbox, DeliveryReport
from tasktracker.application.ports import EmailSender, FileStorage, WebhookSender
from tasktracker.application.reminders import ReminderPassReport, SendReminders
from tasktracker.application.storage_changes import SettleStorageChanges, StorageSettlementReport
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
        email=bool(settings.smtp_url),
    )


def settle_storage_changes(settings: Settings) -> SettleStorageChanges:
    def storage() -> FileStorage:
        # boto3 loads at the first change to carry out, never while the function or the worker starts.
        from .storage import file_storage

        return file_storage(settings)

    return SettleStorageChanges(
        uow=unit_of_work_factory(settings),
        storage=storage,
        clock=SystemClock(),
        grace_seconds=settings.storage_settle_grace_seconds,
    )


def deliver_outbox(settings: Settings) -> DeliverOutbox:
    # The senders load at the first message of their kind; senders are stateless, so the run's threads share one.
    @cache
    def email_sender() -> EmailSender:
        from tasktracker.adapters.delivery.smtp import SmtpEmailSender

        return SmtpEmailSender(settings.smtp_url)

    @cache
    def webhook_sender() -> WebhookSender:
        from tasktracker.adapters.delivery.targets import ResolvingTargetPolicy
        from tasktracker.adapters.delivery.webhooks import HttpWebhookSender

        return HttpWebhookSender(
            ResolvingTargetPolicy(allow_private=settings.webhook_allow_private_targets),
            settings.webhook_timeout_seconds,
        )

    return DeliverOutbox(
        uow=unit_of_work_factory(settings),
        clock=SystemClock(),
        email_sender=email_sender if settings.smtp_url else None,
        webhook_sender=webhook_sender,
        backoff=Backoff(
            base_seconds=settings.outbox_retry_base_seconds,
            max_seconds=settings.outbox_retry_max_seconds,
            max_attempts=settings.outbox_max_attempts,
        ),
        mail_from=settings.mail_from,
        app_base_url=settings.app_base_url,
        batch_size=settings.outbox_batch_size,
        concurrency=settings.outbox_concurrency,
        lease_seconds=settings.outbox_lease_seconds,
    )


def reminder_scheduler(
    settings: Settings,
    run_pass: Callable[[str], ReminderPassReport],
    settle_storage: Callable[[str], StorageSettlementReport],
    deliver: Callable[[str], DeliveryReport],
) -> Celery:
    """The Celery app that beat publishes the scheduled jobs on and the worker runs them with:
    `run_pass(correlation_id)` does one reminder pass, `settle_storage(correlation_id)` one storage settler run,
    `deliver(correlation_id)` one outbox delivery run. Celery loads only here, so the function's HTTP app and
    Lambda handler never load it."""
    from tasktracker.adapters.celery.app import create_celery_app
    from tasktracker.adapters.celery.outbox import register_delivery_job
    from tasktracker.adapters.celery.reminders import register_reminder_job
    from tasktracker.adapters.celery.storage import register_storage_job

    app = create_celery_app(settings)
    worker = register_reminder_job(app, settings, run_pass)
    register_storage_job(app, worker, settle_storage)
    register_delivery_job(app, worker, deliver)
    return app
