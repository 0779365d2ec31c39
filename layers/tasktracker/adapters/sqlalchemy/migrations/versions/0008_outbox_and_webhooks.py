"""outbox and webhooks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Reminders and task changes reach people beyond the app. `webhooks`: where a user wants the events of their own
tasks POSTed, and the secret that signs them. `outbox_messages`: each e-mail and each webhook delivery, written in
the transaction of the change it tells of and sent afterwards by the delivery job, retried with backoff; the job
reads the partial index of what is pending. `notification_settings`: a user's choice of e-mail (no row: on).
The audit trail learns the webhooks' creation and deletion.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_EVENT_TYPES = (
    "'TASK_CREATED', 'TASK_UPDATED', 'TASK_DELETED', 'ATTACHMENT_ADDED', 'ATTACHMENT_REMOVED', 'REMINDER_SENT',"
    " 'LOGIN', 'PASSWORD_CHANGED', 'LOGOUT'"
)
_WEBHOOK_EVENTS = (
    "'task.created', 'task.updated', 'task.deleted', 'attachment.added', 'attachment.removed', 'reminder.sent'"
)
NEWEST_FIRST = [sa.text("created_at DESC"), sa.text("id DESC")]


def _replace_event_types(event_types: str) -> None:
    op.drop_constraint(op.f("ck_audit_events_event_type_known"), "audit_events", type_="check")
    op.create_check_constraint(
        op.f("ck_audit_events_event_type_known"), "audit_events", f"event_type IN ({event_types})"
    )


def upgrade() -> None:
    _replace_event_types(f"{_EVENT_TYPES}, 'WEBHOOK_CREATED', 'WEBHOOK_DELETED'")
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("cardinality(events) > 0", name=op.f("ck_webhooks_events_not_empty")),
        sa.CheckConstraint(f"events <@ ARRAY[{_WEBHOOK_EVENTS}]::varchar[]", name=op.f("ck_webhooks_events_known")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_webhooks_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index("ix_webhooks_user_id_created_at_id", "webhooks", ["user_id", *NEWEST_FIRST])
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("webhook_id", sa.UUID(), nullable=True),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=10), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_response_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'webhook')", name=op.f("ck_outbox_messages_channel_known")),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name=op.f("ck_outbox_messages_status_known")
        ),
        sa.CheckConstraint(
            "(channel = 'webhook') = (webhook_id IS NOT NULL)", name=op.f("ck_outbox_messages_webhook_iff_channel")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_outbox_messages_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.id"], name=op.f("fk_outbox_messages_webhook_id_webhooks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        "ix_outbox_messages_pending_next_attempt_at",
        "outbox_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_outbox_messages_user_id", "outbox_messages", ["user_id"])
    op.create_index("ix_outbox_messages_webhook_id_created_at_id", "outbox_messages", ["webhook_id", *NEWEST_FIRST])


def downgrade() -> None:
    op.drop_table("outbox_messages")
    op.drop_table("webhooks")
    op.drop_table("notification_settings")
    op.execute("DELETE FROM audit_events WHERE event_type IN ('WEBHOOK_CREATED', 'WEBHOOK_DELETED')")
    _replace_event_types(_EVENT_TYPES)
