"""Reminder logs: which tasks were reminded, claimed by the database's unique constraint, never twice."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, Text, cast, delete, exists, func, insert, literal, null, select, text, true, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tasktracker.application.ports import (
    DuePosition,
    DueTask,
    Page,
    ReminderAudit,
    ReminderBatch,
    ReminderNotice,
    SentReminder,
)
from tasktracker.domain.enums import AuditEventType, DeliveryChannel, ReminderType, TaskStatus, WebhookEventType

from .base import SqlRepository, page_of
from .models import (
    AuditEventRow,
    NotificationRow,
    NotificationSettingsRow,
    OutboxMessageRow,
    ReminderLogRow,
    TaskRow,
    UserRow,
    WebhookRow,
)

OUTBOX_COLUMNS = [
    "id",
    "channel",
    "user_id",
    "webhook_id",
    "event_type",
    "task_id",
    "payload",
    "next_attempt_at",
    "created_at",
]


class SqlReminderRepository(SqlRepository):
    def claim_due_soon(
        self,
        window_start: datetime,
        window_end: datetime,
        sent_at: datetime,
        limit: int,
        audit: ReminderAudit,
        notice: ReminderNotice,
        after: DuePosition | None = None,
    ) -> ReminderBatch:
        open_and_due = (
            TaskRow.status != TaskStatus.DONE.value,
            TaskRow.due_date.is_not(None),
            TaskRow.due_date >= window_start,
            TaskRow.due_date <= window_end,
        )
        # Where the batch starts: after the last task the run examined, in order (due date, then id).
        position = (
            ()
            if after is None
            else (
                TaskRow.due_date >= after.due_date,
                tuple_(TaskRow.due_date, TaskRow.id) > tuple_(literal(after.due_date), literal(after.task_id)),
            )
        )
        # The batch's place in the due tasks, read from the statement's snapshot: which tasks it examines, and
        # where the next batch starts. Nothing is claimed from these rows themselves: a write that committed
        # since the snapshot (a new due date, DONE, a deletion) is not in them.
        examined = (
            select(TaskRow.id, TaskRow.due_date)
            .where(
                *open_and_due,
                *position,
                ~exists(
                    select(literal(1)).where(
                        ReminderLogRow.task_id == TaskRow.id,
                        ReminderLogRow.reminder_type == ReminderType.DUE_SOON.value,
                    )
                ),
            )
            .order_by(TaskRow.due_date, TaskRow.id)
            .limit(limit)
            .cte("examined")
            .prefix_with("MATERIALIZED")
        )
        # What is claimed: each examined task locked, in order, as it is when the lock is held. Under READ
        # COMMITTED, PostgreSQL re-reads a row updated since the snapshot and checks it against the conditions
        # again (a moved due date, a task marked done); a deleted row drops out; a row a write holds at that
        # moment is skipped (SKIP LOCKED), left to the next run rather than waited for. The lock keeps the
        # task as recorded until the batch commits: a write after it waits, and its change of due date then
        # forgets this batch's reminder. NO KEY UPDATE does not lock the key, so what references the task
        # (its attachments and tags, this batch's reminder logs) is not held up. One index probe per task
        # (LATERAL), never a scan of every task to join the batch back to.
        locked = (
            select(TaskRow.id, TaskRow.owner_id, TaskRow.title, TaskRow.due_date)
            .where(TaskRow.id == examined.c.id, *open_and_due)
            .with_for_update(key_share=True, skip_locked=True)
            .lateral("locked")
        )
        due = select(locked).select_from(examined.join(locked, true())).cte("due")
        # INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING: the unique constraint, not a prior check,
        # decides which concurrent pass claims a task.
        claimed = (
            pg_insert(ReminderLogRow)
            .from_select(
                ["task_id", "reminder_type", "sent_at"],
                select(due.c.id, literal(ReminderType.DUE_SOON.value), literal(sent_at)),
            )
            .on_conflict_do_nothing(index_elements=["task_id", "reminder_type"])
            .returning(ReminderLogRow.task_id, ReminderLogRow.id)
            .cte("claimed")
        )
        # The events are written by the same statement, so that a batch of thousands never travels through
        # Python row by row: the batch's details, with each task's own fields added as JSON by PostgreSQL.
        task_fields = [part for name in audit.task_fields for part in (literal(name), due.c[name])]
        recorded = (
            insert(AuditEventRow)
            .from_select(
                ["id", "user_id", "event_type", "task_id", "details", "created_at"],
                select(
                    func.gen_random_uuid(),
                    null(),
                    literal(AuditEventType.REMINDER_SENT.value),
                    due.c.id,
                    cast(literal(audit.details, JSONB), JSONB).op("||")(func.jsonb_build_object(*task_fields)),
                    literal(audit.created_at),
                ).join(claimed, claimed.c.task_id == due.c.id),
            )
            .returning(AuditEventRow.task_id)
            .cte("recorded")
        )
        # The owner's notification, by the same statement and for the same claimed rows only: a task another pass
        # claimed (the conflict), or one deleted, done or moved out of the window before its lock, gets none, and
        # a batch rolled back takes its notifications with it.
        notified = (
            insert(NotificationRow)
            .from_select(
                ["id", "user_id", "type", "task_id", "title", "message", "created_at"],
                select(
                    func.gen_random_uuid(),
                    due.c.owner_id,
                    literal(notice.type.value),
                    due.c.id,
                    due.c.title,
                    literal(notice.message),
                    literal(notice.created_at),
                ).join(claimed, claimed.c.task_id == due.c.id),
            )
            .returning(NotificationRow.task_id)
            .cte("notified")
        )
        # Beyond the app, by the same statement and for the same claimed rows: an e-mail for each owner who has
        # not turned e-mail off (when e-mail is set up), and a reminder.sent event for each of the owner's webhooks
        # subscribed to it, whose id is the reminder's (its log row's), the same for every webhook.
        at = cast(literal(notice.created_at), DateTime(timezone=True))
        reminded_task = func.jsonb_build_object(
            "id", due.c.id, "title", due.c.title, "due_date", due.c.due_date, "owner_id", due.c.owner_id
        )
        emailed = (
            insert(OutboxMessageRow)
            .from_select(
                OUTBOX_COLUMNS,
                select(
                    func.gen_random_uuid(),
                    literal(DeliveryChannel.EMAIL.value),
                    due.c.owner_id,
                    null(),
                    literal(WebhookEventType.REMINDER_SENT.value),
                    due.c.id,
                    func.jsonb_build_object(
                        "to",
                        UserRow.email,
                        "task_id",
                        due.c.id,
                        "title",
                        due.c.title,
                        "due_date",
                        due.c.due_date,
                        "message",
                        cast(literal(notice.message), Text),
                    ),
                    at,
                    at,
                )
                .select_from(
                    due.join(claimed, claimed.c.task_id == due.c.id)
                    .join(UserRow, UserRow.id == due.c.owner_id)
                    .outerjoin(NotificationSettingsRow, NotificationSettingsRow.user_id == due.c.owner_id)
                )
                .where(literal(notice.email), func.coalesce(NotificationSettingsRow.email, true())),
            )
            .returning(OutboxMessageRow.task_id)
            .cte("emailed")
        )
        announced = (
            insert(OutboxMessageRow)
            .from_select(
                OUTBOX_COLUMNS,
                select(
                    func.gen_random_uuid(),
                    literal(DeliveryChannel.WEBHOOK.value),
                    WebhookRow.user_id,
                    WebhookRow.id,
                    literal(WebhookEventType.REMINDER_SENT.value),
                    due.c.id,
                    func.jsonb_build_object(
                        "id",
                        claimed.c.id,
                        "type",
                        literal(WebhookEventType.REMINDER_SENT.value),
                        "occurred_at",
                        cast(literal(notice.created_at.isoformat()), Text),
                        "data",
                        reminded_task.op("||")(
                            func.jsonb_build_object("reminder_type", literal(ReminderType.DUE_SOON.value))
                        ),
                    ),
                    at,
                    at,
                ).select_from(
                    due.join(claimed, claimed.c.task_id == due.c.id).join(
                        WebhookRow,
                        (WebhookRow.user_id == due.c.owner_id)
                        & WebhookRow.events.contains([WebhookEventType.REMINDER_SENT.value]),
                    )
                ),
            )
            .returning(OutboxMessageRow.task_id)
            .cte("announced")
        )
        # psycopg prepares a statement run often, and PostgreSQL may then reuse a generic plan made without
        # the window's dates or the batch size: for this statement one that probes the growing reminder_logs
        # row by row, a pass slowing from seconds to minutes. Each batch is planned for its own values.
        # PostgreSQL has no statistics for CTEs and guesses their joins at millions of rows, past the JIT
        # thresholds: compiling would cost more than running.
        self.session.execute(
            text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)")
        )
        # One row per examined task, in order; the claimed ones with the values they were claimed with.
        rows = self.session.execute(
            select(
                examined.c.id,
                examined.c.due_date.label("examined_due_date"),
                due.c.owner_id,
                due.c.title,
                due.c.due_date,
                recorded.c.task_id.is_not(None).label("claimed"),
                notified.c.task_id.is_not(None).label("notified"),
                emailed.c.task_id.is_not(None).label("emailed"),
                select(func.count()).select_from(announced).scalar_subquery().label("announced"),
            )
            .select_from(
                examined.outerjoin(due.join(recorded, recorded.c.task_id == due.c.id), due.c.id == examined.c.id)
                .outerjoin(notified, notified.c.task_id == examined.c.id)
                .outerjoin(emailed, emailed.c.task_id == examined.c.id)
            )
            .order_by(examined.c.due_date, examined.c.id)
        ).all()
        return ReminderBatch(
            claimed=[
                DueTask(task_id=row.id, owner_id=row.owner_id, title=row.title, due_date=row.due_date)
                for row in rows
                if row.claimed
            ],
            examined=len(rows),
            last=DuePosition(rows[-1].examined_due_date, rows[-1].id) if rows else None,
            notified=sum(1 for row in rows if row.notified),
            emailed=sum(1 for row in rows if row.emailed),
            announced=int(rows[0].announced) if rows else 0,
        )

    def forget(self, task_id: UUID) -> None:
        self.session.execute(
            delete(ReminderLogRow).where(
                ReminderLogRow.task_id == task_id, ReminderLogRow.reminder_type == ReminderType.DUE_SOON.value
            )
        )

    def list_sent(self, page: int, page_size: int) -> Page[SentReminder]:
        rows = self.session.execute(
            page_of(
                select(
                    ReminderLogRow.task_id,
                    ReminderLogRow.reminder_type,
                    ReminderLogRow.sent_at,
                    TaskRow.title,
                    TaskRow.due_date,
                )
                .join(TaskRow, TaskRow.id == ReminderLogRow.task_id)
                .order_by(ReminderLogRow.sent_at.desc(), ReminderLogRow.id.desc()),
                page,
                page_size,
            )
        ).all()
        total = self.session.execute(select(func.count()).select_from(ReminderLogRow)).scalar_one()
        items = [
            SentReminder(
                task_id=row.task_id,
                reminder_type=ReminderType(row.reminder_type),
                sent_at=row.sent_at,
                title=row.title,
                due_date=row.due_date,
            )
            for row in rows
        ]
        return Page(items=items, page=page, page_size=page_size, total=int(total))
