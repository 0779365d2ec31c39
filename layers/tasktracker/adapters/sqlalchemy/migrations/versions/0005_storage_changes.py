"""storage changes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

An outbox for the attachment bucket. A transaction that records an upload or deletes attachments writes
here, with its rows, what storage must still do about each file: 'keep' (remove the pending tag of a
recorded upload) or 'discard' (delete the file of a deleted row). The request does it right after the commit
and removes the entry; whatever it could not do (a crash, a refusal) stays here for the settler.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storage_changes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("action IN ('keep', 'discard')", name=op.f("ck_storage_changes_action_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_changes")),
    )
    op.create_index("ix_storage_changes_created_at_id", "storage_changes", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_storage_changes_created_at_id", table_name="storage_changes")
    op.drop_table("storage_changes")
