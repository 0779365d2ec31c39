"""The migration goes up, down to nothing and up again, and matches the models exactly."""

from __future__ import annotations

import psycopg

from tasktracker.adapters.sqlalchemy.migrate import check, downgrade, upgrade

TABLES = {
    "users",
    "tasks",
    "tags",
    "task_tags",
    "attachments",
    "audit_events",
    "reminder_logs",
    "refresh_tokens",
    "storage_changes",
    "notifications",
}


def _tables(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchall()
    return {row[0] for row in rows}


def test_up_down_up_and_no_drift(database_url: str) -> None:
    assert _tables(database_url) >= TABLES
    downgrade(database_url, "base")
    assert _tables(database_url) == set()
    upgrade(database_url)
    assert _tables(database_url) >= TABLES
    check(database_url)


def test_the_schema_has_the_indexes_the_queries_need(database_url: str) -> None:
    with psycopg.connect(database_url) as connection:
        indexes = {
            row[0]: row[1]
            for row in connection.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
        }
    assert "gin_trgm_ops" in indexes["ix_tasks_search_trgm"]
    assert "lower((email)::text)" in indexes["uq_users_email_lower"]
    assert "UNIQUE" in indexes["uq_reminder_logs_task_id_reminder_type"]
    assert "WHERE" in indexes["ix_tasks_open_due_date"]
    # A user's notifications newest first, and the unread ones (list and count) from a partial index.
    assert "(user_id, created_at DESC, id DESC)" in indexes["ix_notifications_user_id_created_at_id"]
    unread = indexes["ix_notifications_unread_user_id_created_at_id"]
    assert "(user_id, created_at DESC, id DESC)" in unread and "WHERE (read_at IS NULL)" in unread
    assert "(task_id)" in indexes["ix_notifications_task_id"]
