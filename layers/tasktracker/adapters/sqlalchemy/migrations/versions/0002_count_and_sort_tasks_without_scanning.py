"""count and sort tasks without scanning

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Everyone reads every task, so the default list is all of them and its exact `total` was a count of the
whole table. task_counts keeps that total, per status and priority, in the same transaction as every
write to tasks: statement-level triggers add up each statement's transition table, so a bulk load costs
one update per (status, priority), not one per row. A total is then the sum of at most a few dozen rows.

Each (status, priority) is spread over SLOTS rows, picked by the writer's backend, so that concurrent
writers seldom queue on one counter row; rows are touched in (status, priority) order within a statement,
so two statements never lock the same rows in opposite orders.

Sorting by status or priority follows the domain's order (stored rank columns), and every sortable field
has an index ending in the tie-breakers created_at, id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SLOTS = 16
STATUS_RANK = "CASE status WHEN 'TODO' THEN 0 WHEN 'IN_PROGRESS' THEN 1 WHEN 'DONE' THEN 2 WHEN 'BLOCKED' THEN 3 END"
PRIORITY_RANK = "CASE priority WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'HIGH' THEN 3 WHEN 'CRITICAL' THEN 4 END"


def _counting_function(name: str, changes: str) -> str:
    # Built from this module's constants only: no caller-supplied text reaches it.
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts AS counted (status, priority, slot, tasks)
    SELECT status, priority, pg_backend_pid() % {SLOTS}, sum(change)
    FROM ({changes}) AS changes
    GROUP BY status, priority
    HAVING sum(change) <> 0
    ORDER BY status, priority
    ON CONFLICT (status, priority, slot) DO UPDATE SET tasks = counted.tasks + excluded.tasks;
    RETURN NULL;
END
$$
"""  # noqa: S608


def upgrade() -> None:
    op.create_table(
        "task_counts",
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("tasks", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("status", "priority", "slot", name=op.f("pk_task_counts")),
    )
    op.execute(_counting_function("task_counts_inserted", "SELECT status, priority, 1 AS change FROM inserted"))
    op.execute(_counting_function("task_counts_deleted", "SELECT status, priority, -1 AS change FROM deleted"))
    op.execute(
        _counting_function(
            "task_counts_updated",
            "SELECT status, priority, 1 AS change FROM after_update"
            " UNION ALL SELECT status, priority, -1 FROM before_update",
        )
    )
    op.execute("""
CREATE FUNCTION task_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_counts;
    RETURN NULL;
END
$$
""")
    # No write may slip between the first count and the triggers that keep it.
    op.execute("LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE")
    op.execute(
        "CREATE TRIGGER tasks_counted_on_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS inserted"
        " FOR EACH STATEMENT EXECUTE FUNCTION task_counts_inserted()"
    )
    op.execute(
        "CREATE TRIGGER tasks_counted_on_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS deleted"
        " FOR EACH STATEMENT EXECUTE FUNCTION task_counts_deleted()"
    )
    op.execute(
        "CREATE TRIGGER tasks_counted_on_update AFTER UPDATE ON tasks"
        " REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update"
        " FOR EACH STATEMENT EXECUTE FUNCTION task_counts_updated()"
    )
    op.execute(
        "CREATE TRIGGER tasks_counted_on_truncate AFTER TRUNCATE ON tasks"
        " FOR EACH STATEMENT EXECUTE FUNCTION task_counts_truncated()"
    )
    op.execute(
        "INSERT INTO task_counts (status, priority, slot, tasks)"
        " SELECT status, priority, 0, count(*) FROM tasks GROUP BY status, priority"
    )

    op.add_column(
        "tasks",
        sa.Column("status_rank", sa.SmallInteger(), sa.Computed(STATUS_RANK, persisted=True), nullable=True),
    )
    op.add_column(
        "tasks",
        sa.Column("priority_rank", sa.SmallInteger(), sa.Computed(PRIORITY_RANK, persisted=True), nullable=True),
    )
    op.drop_index("ix_tasks_due_date", table_name="tasks")
    op.create_index("ix_tasks_status_rank_created_at_id", "tasks", ["status_rank", "created_at", "id"])
    op.create_index("ix_tasks_priority_rank_created_at_id", "tasks", ["priority_rank", "created_at", "id"])
    op.create_index("ix_tasks_updated_at_created_at_id", "tasks", ["updated_at", "created_at", "id"])
    op.create_index("ix_tasks_due_date_created_at_id", "tasks", ["due_date", "created_at", "id"])
    op.execute(
        "CREATE INDEX ix_tasks_due_date_desc_created_at_id"
        " ON tasks (due_date DESC NULLS LAST, created_at DESC, id DESC)"
    )
    op.execute("CREATE INDEX ix_tasks_lower_title_created_at_id ON tasks (lower(title), created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_tasks_lower_title_created_at_id")
    op.execute("DROP INDEX IF EXISTS ix_tasks_due_date_desc_created_at_id")
    op.drop_index("ix_tasks_due_date_created_at_id", table_name="tasks")
    op.drop_index("ix_tasks_updated_at_created_at_id", table_name="tasks")
    op.drop_index("ix_tasks_priority_rank_created_at_id", table_name="tasks")
    op.drop_index("ix_tasks_status_rank_created_at_id", table_name="tasks")
    op.create_index("ix_tasks_due_date", "tasks", ["due_date"])
    op.drop_column("tasks", "priority_rank")
    op.drop_column("tasks", "status_rank")
    for operation in ("truncate", "update", "delete", "insert"):
        op.execute(f"DROP TRIGGER tasks_counted_on_{operation} ON tasks")
    for change in ("truncated", "updated", "deleted", "inserted"):
        op.execute(f"DROP FUNCTION task_counts_{change}()")
    op.drop_table("task_counts")
