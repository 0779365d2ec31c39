"""notifications

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

In-app notifications, each for one user: the reminder pass writes a DUE_SOON one for a task's owner in the
transaction that logs the reminder. A user lists their own newest first (one read of the user's part of
ix_notifications_user_id_created_at_id), or only the unread ones, which with the unread count read the partial
index of unread rows alone. A notification goes with its user and with its task.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NEWEST_FIRST = ["user_id", sa.text("created_at DESC"), sa.text("id DESC")]


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("type IN ('DUE_SOON')", name=op.f("ck_notifications_type_known")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_notifications_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_task_id", "notifications", ["task_id"])
    op.create_index("ix_notifications_user_id_created_at_id", "notifications", NEWEST_FIRST)
    op.create_index(
        "ix_notifications_unread_user_id_created_at_id",
        "notifications",
        NEWEST_FIRST,
        postgresql_where=sa.text("read_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_unread_user_id_created_at_id", table_name="notifications")
    op.drop_index("ix_notifications_user_id_created_at_id", table_name="notifications")
    op.drop_index("ix_notifications_task_id", table_name="notifications")
    op.drop_table("notifications")
