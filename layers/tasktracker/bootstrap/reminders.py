from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tasktracker.application.clock import SystemClock
from tasktracker.application.ports import FileStorage
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


def reminder_scheduler(
    settings: Settings,
    run_pass: Callable[[str], ReminderPassReport],
    settle_storage: Callable[[str], StorageSettlementReport],
) -> Celery:
    """The Celery app that beat publishes the scheduled jobs on and the worker runs them with:
    `run_pass(correlation_id)` does one reminder pass, `settle_storage(correlation_id)` one storage settler run.
    Celery loads only here, so the function's HTTP app and Lambda handler never load it."""
    from tasktracker.adapters.celery.app import create_celery_app
    from tasktracker.adapters.celery.reminders import register_reminder_job
    from tasktracker.adapters.celery.storage import register_storage_job

    app = create_celery_app(settings)
    worker = register_reminder_job(app, settings, run_pass)
    register_storage_job(app, worker, settle_storage)
    return app
