"""version every task

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Two people editing one task overwrote each other without knowing. Each task now has a version: 1 when
created, one more with every change that changes something. It is the task's ETag, and a change that names
an older one in If-Match is refused. updated_at cannot serve: two changes may share a timestamp (its
precision is finite, and clocks step back), and a validator that does not change with every change lets
the second overwrite the first. Existing tasks start at version 1; with a constant default PostgreSQL adds
the column without rewriting the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False))


def downgrade() -> None:
    op.drop_column("tasks", "version")
