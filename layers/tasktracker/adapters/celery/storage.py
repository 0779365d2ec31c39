"""The periodic job `tasktracker.settle_storage_changes`: the storage settler, every minute in the worker.

Not retried: a run that fails leaves its changes in the outbox, and the next run takes them. Its correlation
id is its Celery task id, as for the reminder pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task

from tasktracker.application.storage_changes import StorageSettlementReport

from .app import SETTLE_STORAGE_TASK
from .reminders import ReminderWorker

Settle = Callable[[str], StorageSettlementReport]


def register_storage_job(app: Celery, worker: ReminderWorker, settle: Settle) -> None:
    """Registers the job on `app`; `settle(correlation_id)` does one settler run, `worker` counts what it did."""

    @app.task(bind=True, name=SETTLE_STORAGE_TASK, ignore_result=True)
    def settle_storage_changes(self: Task[[], dict[str, Any]]) -> dict[str, Any]:
        report = settle(str(self.request.id))
        worker.record_settlement(report)
        return report.as_dict()
