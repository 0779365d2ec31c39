"""Benchmark (not a test): one reminder pass over 1,000,000 tasks of which 100,000 are due.

    PYTHONPATH=. python -m bench.reminders_pass [--tasks 1000000] [--due 100000] [--json]

`make bench` runs it as its part 6 (with --json, in a process of its own so that its peak memory is its own).
DATABASE_URL names a PostgreSQL server to use (a database `tasktracker_bench_reminders` is created on it and
dropped at the end; the database in the URL itself is not touched); without it an embedded PostgreSQL
is started in a temporary directory. Prints the pass's reminders per second and peak memory (the process's
maximum resident set size, before and after the pass), and the floor: one hand-written INSERT ... SELECT
that writes the same rows (reminder logs, audit events, the owners' notifications) without leaving the database.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from local.services import start_embedded_postgres
from tasktracker.adapters.sqlalchemy.migrate import upgrade
from tasktracker.application.reminders import ReminderPassReport
from tasktracker.bootstrap.reminders import send_reminders
from tasktracker.config import Settings

BENCH_DATABASE = "tasktracker_bench_reminders"
USERS = 1000

# Of the tasks that are not due, a quarter each: due later, overdue, without a due date, and DONE within the window.
SEED = (
    """
INSERT INTO users (id, email, password_hash)
SELECT gen_random_uuid(), 'bench-' || n || '@example.com', 'not-a-hash' FROM generate_series(1, %(users)s) AS n
""",
    "CREATE TEMPORARY TABLE owners AS SELECT row_number() OVER () AS owner_number, id FROM users",
    """
INSERT INTO tasks (id, owner_id, title, status, priority, due_date, created_at, updated_at)
SELECT gen_random_uuid(), owners.id, 'Task ' || n,
       CASE WHEN n > %(due)s AND n %% 4 = 3 THEN 'DONE' ELSE 'TODO' END,
       'MEDIUM',
       CASE
           WHEN n <= %(due)s THEN now() + interval '10 minutes' + (n %% 1380) * interval '1 minute'
           WHEN n %% 4 = 0 THEN now() + interval '2 days' + (n %% 1000) * interval '1 minute'
           WHEN n %% 4 = 1 THEN now() - interval '1 day' - (n %% 1000) * interval '1 minute'
           WHEN n %% 4 = 2 THEN NULL
           ELSE now() + interval '1 hour'
       END,
       now(), now()
FROM generate_series(1, %(tasks)s) AS n
JOIN owners ON owners.owner_number = 1 + n %% %(users)s
""",
)

# No NOT EXISTS here: planned once against an empty reminder_logs, it would probe the growing table for
# every row (quadratic); ON CONFLICT alone skips what is already logged.
FLOOR = """
WITH claimed AS (
    INSERT INTO reminder_logs (task_id, reminder_type, sent_at)
    SELECT id, 'DUE_SOON', now() FROM tasks
    WHERE status <> 'DONE' AND due_date IS NOT NULL AND due_date BETWEEN now() AND now() + interval '24 hours'
    ON CONFLICT (task_id, reminder_type) DO NOTHING
    RETURNING task_id
), recorded AS (
    INSERT INTO audit_events (id, user_id, event_type, task_id, details, created_at)
    SELECT gen_random_uuid(), NULL, 'REMINDER_SENT', tasks.id,
           jsonb_build_object('system', true, 'reminder_type', 'DUE_SOON', 'due_date', tasks.due_date,
                              'title', tasks.title, 'owner_id', tasks.owner_id, 'correlation_id', 'bench-floor'),
           now()
    FROM claimed JOIN tasks ON tasks.id = claimed.task_id
)
INSERT INTO notifications (id, user_id, type, task_id, title, message, created_at)
SELECT gen_random_uuid(), tasks.owner_id, 'DUE_SOON', tasks.id, tasks.title, 'This task is due within 24 hours.', now()
FROM claimed JOIN tasks ON tasks.id = claimed.task_id
"""


@contextmanager
def bench_database(name: str = BENCH_DATABASE) -> Iterator[str]:
    """A database of its own, dropped at the end, on DATABASE_URL's server or an embedded one."""
    given = os.environ.get("DATABASE_URL")
    scratch = None
    if given:
        server_url = given
    else:
        scratch = Path(tempfile.mkdtemp(prefix="tasktracker-bench-"))
        server, server_url = start_embedded_postgres(scratch / "postgres", "postgres")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        from tasktracker.adapters.sqlalchemy.engine import engine_for

        engine_for.cache_clear()
        with psycopg.connect(server_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if scratch is not None:
            server.cleanup()
            shutil.rmtree(scratch, ignore_errors=True)


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed table names
        return int(row[0]) if row else 0


def forget_reminders(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE reminder_logs, audit_events, notifications")
        connection.execute("VACUUM ANALYZE reminder_logs, audit_events, notifications")


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_pass(url: str) -> ReminderPassReport:
    settings = Settings(environment="test", database_url=url, rate_limit_enabled=False)
    return send_reminders(settings).run_pass("bench")


def measure(tasks: int, due: int, say: bool = True) -> dict[str, float | int]:
    with bench_database() as url:
        upgrade(url)
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as connection:
            for statement in SEED:
                connection.execute(statement, {"users": USERS, "tasks": tasks, "due": due})
            connection.execute("VACUUM ANALYZE")
        if say:
            print(f"seeded {count(url, 'tasks'):,} tasks ({due:,} due) in {time.perf_counter() - started:.1f} s")

        rss_before = max_rss_mib()
        report = run_pass(url)
        rss_after = max_rss_mib()
        assert count(url, "reminder_logs") == count(url, "audit_events") == count(url, "notifications") == due
        assert report.sent == report.notifications["DUE_SOON"] == due, report
        rate = report.sent / report.duration_seconds
        if say:
            print(
                f"pass:  {report.sent:,} reminders in {report.batches} batches, {report.duration_seconds:.2f} s, "
                f"{rate:,.0f} reminders/s; peak RSS {rss_after:.0f} MiB "
                f"(+{rss_after - rss_before:.0f} MiB during the pass)"
            )

        forget_reminders(url)
        with psycopg.connect(url, autocommit=True) as connection:
            started = time.perf_counter()
            written = connection.execute(FLOOR).rowcount
            floor = time.perf_counter() - started
        if say:
            print(
                f"floor: one INSERT ... SELECT, {written:,} reminders in {floor:.2f} s, "
                f"{written / floor:,.0f} reminders/s (the pass takes {report.duration_seconds / floor:.1f}x as long)"
            )
    return {
        "tasks": tasks,
        "sent": report.sent,
        "batches": report.batches,
        "pass_seconds": report.duration_seconds,
        "reminders_per_s": rate,
        "floor_reminders_per_s": written / floor,
        "peak_rss_mib": rss_after,
        "rss_growth_mib": rss_after - rss_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures instead of prose")
    args = parser.parse_args()
    figures = measure(args.tasks, args.due, say=not args.json)
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
