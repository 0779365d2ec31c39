"""The scheduled reminder pass: exactly one DUE_SOON reminder per task, however often or concurrently it runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from tasktracker.domain.entities import AuditEvent
from tasktracker.domain.enums import AuditEventType, ReminderType

from .audit_trail import json_safe, with_correlation_id
from .ports import Clock, UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass
class ReminderRun:
    sent: int = 0
    batches: int = 0
    task_ids: list[str] = field(default_factory=list)


@dataclass
class SendReminders:
    uow: UnitOfWorkFactory
    clock: Clock
    window_seconds: int = 24 * 3600
    batch_size: int = 5000
    keep_task_ids: int = 100

    def __call__(self) -> ReminderRun:
        now = self.clock.now()
        window_end = now + timedelta(seconds=self.window_seconds)
        run = ReminderRun()
        while True:
            # Each batch is its own transaction: a crash loses at most the batch in flight, which the
            # next run redoes, and what committed is never redone thanks to the unique constraint.
            with self.uow() as uow:
                claimed = uow.reminders.claim_due_soon(now, window_end, now, self.batch_size)
                uow.audit.add_many(
                    [
                        AuditEvent.record(
                            AuditEventType.REMINDER_SENT,
                            now=now,
                            user_id=None,
                            task_id=due.task_id,
                            details=json_safe(
                                with_correlation_id(
                                    {
                                        "system": True,
                                        "reminder_type": ReminderType.DUE_SOON,
                                        "due_date": due.due_date,
                                        "title": due.title,
                                        "owner_id": due.owner_id,
                                    }
                                )
                            ),
                        )
                        for due in claimed
                    ]
                )
                uow.commit()
            if not claimed:
                break
            run.batches += 1
            run.sent += len(claimed)
            room = self.keep_task_ids - len(run.task_ids)
            run.task_ids.extend(str(due.task_id) for due in claimed[: max(room, 0)])
            logger.info("reminder batch sent", extra={"reminders": len(claimed), "batch": run.batches})
            if len(claimed) < self.batch_size:
                break
        return run
