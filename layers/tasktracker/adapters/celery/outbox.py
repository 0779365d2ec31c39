"""The periodic job `tasktracker.deliver_outbox`: sends the outbox's e-mails and webhook deliveries.

Not retried by Celery: each message carries its own attempts and backoff in the outbox, and a run that fails as a
whole (the database away) leaves everything for the next run, seconds later. The reminder job starts one at once
when its pass queued something, so a reminder does not wait for the next tick to leave.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task

from tasktracker.application.outbox import DeliveryReport

from .app import DELIVER_OUTBOX_TASK
from .reminders import ReminderWorker

Deliver = Callable[[str], DeliveryReport]


def register_delivery_job(app: Celery, worker: ReminderWorker, deliver: Deliver) -> None:
    """Registers the job on `app`; `deliver(correlation_id)` does one delivery run, `worker` counts what it did."""

    @app.task(bind=True, name=DELIVER_OUTBOX_TASK, ignore_result=True)
    def deliver_outbox(self: Task[[], dict[str, Any]]) -> dict[str, Any]:
        report = deliver(str(self.request.id))
        worker.record_delivery(report)
        return report.as_dict()
