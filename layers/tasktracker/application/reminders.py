"""The scheduled reminder pass: exactly one DUE_SOON reminder per task, however often or concurrently it runs."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from time import perf_counter
from typing import Any

from tasktracker.domain.enums import NotificationType, ReminderType

from .audit_trail import json_safe, with_correlation_id
from .context import new_correlation_id, set_correlation_id
from .ports import Clock, DuePosition, Page, ReminderAudit, ReminderNotice, SentReminder, UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass
class ReminderRun:
    sent: int = 0
    batches: int = 0
    task_ids: list[str] = field(default_factory=list)
    # Notifications written, by type: one DUE_SOON for the owner of each task reminded.
    notifications: dict[str, int] = field(default_factory=dict)
    # Queued in the outbox: e-mails to owners, and reminder.sent deliveries to their webhooks.
    emails_queued: int = 0
    webhook_events_queued: int = 0


def due_soon_message(window_seconds: int) -> str:
    """What a DUE_SOON notification says; its title is the task's."""
    hours, seconds = divmod(window_seconds, 3600)
    if seconds or not hours:
        return "This task is due soon."
    return f"This task is due within {hours} hour{'' if hours == 1 else 's'}."


@dataclass(frozen=True)
class ReminderPassReport:
    """What one pass did, for the scheduler's logs, the Lambda's answer and the CLI."""

    correlation_id: str
    sent: int
    batches: int
    duration_seconds: float
    # Notifications written, by type (NotificationType's values).
    notifications: dict[str, int] = field(default_factory=dict)
    emails_queued: int = 0
    webhook_events_queued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SendReminders:
    uow: UnitOfWorkFactory
    clock: Clock
    window_seconds: int = 24 * 3600
    batch_size: int = 5000
    keep_task_ids: int = 100
    # Queue an e-mail to each reminded owner who has not turned e-mail off: only where e-mail is set up.
    email: bool = False

    def __call__(self) -> ReminderRun:
        now = self.clock.now()
        window_end = now + timedelta(seconds=self.window_seconds)
        run = ReminderRun()
        audit = ReminderAudit(
            details=json_safe(with_correlation_id({"system": True, "reminder_type": ReminderType.DUE_SOON})),
            task_fields=("due_date", "title", "owner_id"),
            created_at=now,
        )
        notice = ReminderNotice(
            type=NotificationType.DUE_SOON,
            message=due_soon_message(self.window_seconds),
            created_at=now,
            email=self.email,
        )
        # Where the next batch starts: after the last task the run examined, in the order the batches read
        # (due date, then id), so that a long run does not rescan what it already went through (quadratic).
        after: DuePosition | None = None
        while True:
            # Each batch is its own transaction: a crash loses at most the batch in flight, which the
            # next run redoes, and what committed is never redone thanks to the unique constraint.
            with self.uow() as uow:
                batch = uow.reminders.claim_due_soon(now, window_end, now, self.batch_size, audit, notice, after=after)
                uow.commit()
            run.emails_queued += batch.emailed
            run.webhook_events_queued += batch.announced
            if batch.notified:
                kind = notice.type.value
                run.notifications[kind] = run.notifications.get(kind, 0) + batch.notified
            if batch.claimed:
                run.batches += 1
                run.sent += len(batch.claimed)
                room = self.keep_task_ids - len(run.task_ids)
                run.task_ids.extend(str(due.task_id) for due in batch.claimed[: max(room, 0)])
                logger.info("reminder batch sent", extra={"reminders": len(batch.claimed), "batch": run.batches})
            # A batch that claimed less than it examined does not end the run: a task being written at that
            # moment is left to the next run, and the tasks after it are still due now.
            if batch.examined < self.batch_size or batch.last is None:
                break
            after = batch.last
        return run

    def run_pass(self, correlation_id: str | None = None) -> ReminderPassReport:
        """One pass under its own correlation id, which every log line and audit event of the pass carries.

        The one entry point of every trigger (Celery job, Lambda schedule, CLI), so they cannot drift apart.
        """
        run_id = correlation_id or new_correlation_id()
        set_correlation_id(run_id)
        started = perf_counter()
        logger.info("reminder pass started")
        run = self()
        report = ReminderPassReport(
            correlation_id=run_id,
            sent=run.sent,
            batches=run.batches,
            duration_seconds=round(perf_counter() - started, 6),
            notifications=dict(run.notifications),
            emails_queued=run.emails_queued,
            webhook_events_queued=run.webhook_events_queued,
        )
        logger.info(
            "reminder pass finished",
            extra={
                "sent": report.sent,
                "batches": report.batches,
                "duration_seconds": report.duration_seconds,
                "notifications": report.notifications,
                "emails_queued": report.emails_queued,
                "webhook_events_queued": report.webhook_events_queued,
            },
        )
        return report


@dataclass
class ReminderQueries:
    uow: UnitOfWorkFactory

    def recent(self, page: int, page_size: int) -> Page[SentReminder]:
        """Reminders sent, newest first; like tasks, every signed-in user may read them."""
        with self.uow(read_only=True) as uow:
            return uow.reminders.list_sent(page, page_size)
