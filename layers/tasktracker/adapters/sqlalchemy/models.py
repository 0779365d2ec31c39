"""Typed table models. Domain entities stay plain; repositories translate between the two."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tasktracker.application.ports import StorageAction
from tasktracker.domain.enums import (
    AuditEventType,
    DeliveryChannel,
    DeliveryStatus,
    NotificationType,
    ReminderType,
    TaskPriority,
    TaskStatus,
    TokenRevocation,
    WebhookEventType,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, values: type[Any]) -> str:
    return f"{column} IN ({', '.join(repr(str(member.value)) for member in values)})"


def rank_expression(column: str, ranks: dict[str, int]) -> str:
    """SQL ranking a column's values, for sorting by the domain's order rather than alphabetically."""
    whens = " ".join(f"WHEN '{value}' THEN {rank}" for value, rank in ranks.items())
    return f"CASE {column} {whens} END"


STATUS_RANKS = {status.value: rank for rank, status in enumerate(TaskStatus)}
PRIORITY_RANKS = {priority.value: priority.rank for priority in TaskPriority}


def search_text_expression(title: Any, description: Any) -> Any:
    """What `search` matches: the trigram index and the list query must use this same expression."""
    return func.lower(title + " " + func.coalesce(description, ""))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _timestamp(**kwargs: Any) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), **kwargs)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = _timestamp()
    updated_at: Mapped[datetime] = _timestamp()
    # Bumped by a password change, and by a trigger whenever is_active turns false (migration 0003).
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))

    __table_args__ = (
        # Emails are stored lower-cased by the domain; the index makes the database enforce it too.
        Index("uq_users_email_lower", func.lower(email), unique=True),
    )


class TaskRow(Base):
    __tablename__ = "tasks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # Deleting an account erases its tasks; the audit trail keeps its history with user_id set to null.
    owner_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default=TaskStatus.TODO.value)
    priority: Mapped[str] = mapped_column(String(20), nullable=False, server_default=TaskPriority.MEDIUM.value)
    due_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _timestamp()
    updated_at: Mapped[datetime] = _timestamp()
    # The task's version (its ETag): 1 when created, one more with every change (migration 0003).
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    # Stored ranks, so that "sort by status" or "by priority" follows the domain's order and reads an index.
    status_rank: Mapped[int] = mapped_column(
        SmallInteger, Computed(rank_expression("status", STATUS_RANKS), persisted=True)
    )
    priority_rank: Mapped[int] = mapped_column(
        SmallInteger, Computed(rank_expression("priority", PRIORITY_RANKS), persisted=True)
    )

    __table_args__ = (
        CheckConstraint(_one_of("status", TaskStatus), name="status_known"),
        CheckConstraint(_one_of("priority", TaskPriority), name="priority_known"),
        # The default list order (newest first) and "my tasks".
        Index("ix_tasks_created_at_id", "created_at", "id"),
        Index("ix_tasks_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_tasks_status_created_at", "status", "created_at"),
        Index("ix_tasks_priority_created_at", "priority", "created_at"),
        # One index per sortable field, ending in the tie-breakers (created_at, id): a sorted page of the
        # whole table is read from the index's start or end, in either direction.
        Index("ix_tasks_status_rank_created_at_id", "status_rank", "created_at", "id"),
        Index("ix_tasks_priority_rank_created_at_id", "priority_rank", "created_at", "id"),
        Index("ix_tasks_updated_at_created_at_id", "updated_at", "created_at", "id"),
        Index("ix_tasks_due_date_created_at_id", "due_date", "created_at", "id"),
        # The reminder pass reads only open tasks with a due date.
        Index(
            "ix_tasks_open_due_date",
            "due_date",
            postgresql_where=text("status <> 'DONE' AND due_date IS NOT NULL"),
        ),
    )


# Case-insensitive substring search on title and description (LIKE '%term%' on the lower-cased text) with trigrams.
Index(
    "ix_tasks_search_trgm",
    search_text_expression(TaskRow.title, TaskRow.description).label("search_text"),
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
)


# Tasks without a due date come last in both directions, so the descending order needs its own index.
Index(
    "ix_tasks_due_date_desc_created_at_id",
    TaskRow.due_date.desc().nulls_last(),
    TaskRow.created_at.desc(),
    TaskRow.id.desc(),
)
Index("ix_tasks_lower_title_created_at_id", func.lower(TaskRow.title), TaskRow.created_at, TaskRow.id)


class TaskCountRow(Base):
    """Exact task totals without counting rows: kept by triggers on tasks in the writing transaction.

    Each (status, priority) has a few slots, picked by the writer's connection, so that concurrent writers
    rarely wait on the same row; a total is the sum of the slots it covers.
    """

    __tablename__ = "task_counts"

    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    priority: Mapped[str] = mapped_column(String(20), primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tasks: Mapped[int] = mapped_column(BigInteger, nullable=False)


class TagRow(Base):
    __tablename__ = "tags"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)


class TaskTagRow(Base):
    __tablename__ = "task_tags"

    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    # A tag in use cannot vanish from under its tasks.
    tag_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tags.id", ondelete="RESTRICT"), primary_key=True
    )
    # Where the tag stands in the task's list, so tags come back in the order the user gave them.
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))

    __table_args__ = (Index("ix_task_tags_tag_id_task_id", "tag_id", "task_id"),)


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(255), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    storage_path: Mapped[str] = mapped_column(String(512), nullable=False, unique=True)
    created_at: Mapped[datetime] = _timestamp()

    __table_args__ = (
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        Index("ix_attachments_task_id_created_at", "task_id", "created_at"),
    )


class StorageChangeRow(Base):
    """The storage outbox: what the bucket must still do for a committed change of attachment rows."""

    __tablename__ = "storage_changes"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # No foreign key: a 'discard' outlives the row it was written for.
    storage_key: Mapped[str] = mapped_column(String(512), nullable=False)
    action: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[datetime] = _timestamp()
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_one_of("action", StorageAction), name="action_known"),
        # The settler takes the oldest first.
        Index("ix_storage_changes_created_at_id", "created_at", "id"),
    )


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL"))
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    # No foreign keys: the trail outlives the task or attachment it speaks of.
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    attachment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _timestamp()

    __table_args__ = (
        CheckConstraint(_one_of("event_type", AuditEventType), name="event_type_known"),
        Index("ix_audit_events_created_at_id", "created_at", "id"),
        Index("ix_audit_events_task_id_created_at", "task_id", "created_at"),
        Index("ix_audit_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_audit_events_event_type_created_at", "event_type", "created_at"),
    )


class ReminderLogRow(Base):
    __tablename__ = "reminder_logs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid())
    task_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    reminder_type: Mapped[str] = mapped_column(String(20), nullable=False)
    sent_at: Mapped[datetime] = _timestamp()

    __table_args__ = (
        # The whole idempotence of reminders rests on this constraint.
        UniqueConstraint("task_id", "reminder_type"),
        CheckConstraint(_one_of("reminder_type", ReminderType), name="reminder_type_known"),
    )


class NotificationRow(Base):
    """One user's in-app notification. It goes with its user, and with its task: a notice about a task that is
    gone would link nowhere."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tasks.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = _timestamp()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_one_of("type", NotificationType), name="type_known"),
        # Deleting a task finds its notifications by this index (the cascade).
        Index("ix_notifications_task_id", "task_id"),
    )


# A user's list, newest first, is one index read; the unread list and the unread count read the partial index,
# which holds only what is unread (most of a user's notifications are read and stay out of it).
Index(
    "ix_notifications_user_id_created_at_id",
    NotificationRow.user_id,
    NotificationRow.created_at.desc(),
    NotificationRow.id.desc(),
)
Index(
    "ix_notifications_unread_user_id_created_at_id",
    NotificationRow.user_id,
    NotificationRow.created_at.desc(),
    NotificationRow.id.desc(),
    postgresql_where=NotificationRow.read_at.is_(None),
)


class NotificationSettingsRow(Base):
    """A user's choices beyond the app; no row means the defaults (e-mail on)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    updated_at: Mapped[datetime] = _timestamp()


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    events: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    secret: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = _timestamp()

    __table_args__ = (
        CheckConstraint("cardinality(events) > 0", name="events_not_empty"),
        CheckConstraint(
            f"events <@ ARRAY[{', '.join(repr(kind.value) for kind in WebhookEventType)}]::varchar[]",
            name="events_known",
        ),
    )


# A user's webhooks, newest first; and the ones an event of theirs goes to, found by the same index.
Index("ix_webhooks_user_id_created_at_id", WebhookRow.user_id, WebhookRow.created_at.desc(), WebhookRow.id.desc())


class OutboxMessageRow(Base):
    """The delivery outbox: e-mails and webhook deliveries, written in the transaction of what they tell of, sent
    afterwards by the delivery job, which retries with backoff. A webhook's deliveries go with it."""

    __tablename__ = "outbox_messages"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    webhook_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    # No foreign key: a task.deleted event outlives its task.
    task_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = _timestamp()
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _timestamp()

    __table_args__ = (
        CheckConstraint(_one_of("channel", DeliveryChannel), name="channel_known"),
        CheckConstraint(_one_of("status", DeliveryStatus), name="status_known"),
        CheckConstraint("(channel = 'webhook') = (webhook_id IS NOT NULL)", name="webhook_iff_channel"),
        # The delivery job reads only what is pending, soonest due first.
        Index(
            "ix_outbox_messages_pending_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_outbox_messages_user_id", "user_id"),
    )


# A webhook's recent deliveries, newest first; deleting a webhook finds its deliveries by it too.
Index(
    "ix_outbox_messages_webhook_id_created_at_id",
    OutboxMessageRow.webhook_id,
    OutboxMessageRow.created_at.desc(),
    OutboxMessageRow.id.desc(),
)


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    created_at: Mapped[datetime] = _timestamp()
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(20))
    successor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # 32 bytes, hex: the successor sealed under this token, which only its holder can open.
    successor_sealed: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_user_id", "user_id"),
        CheckConstraint(_one_of("revoked_reason", TokenRevocation), name="revoked_reason_known"),
    )


def _table(row: type[Base]) -> Table:
    # Typed as the Table it is: Core statements built once (INSERTs, prebuilt reads) take these.
    return cast(Table, row.__table__)


USERS = _table(UserRow)
TASKS = _table(TaskRow)
TAGS = _table(TagRow)
TASK_TAGS = _table(TaskTagRow)
ATTACHMENTS = _table(AttachmentRow)
AUDIT_EVENTS = _table(AuditEventRow)
WEBHOOKS = _table(WebhookRow)
OUTBOX_MESSAGES = _table(OutboxMessageRow)
