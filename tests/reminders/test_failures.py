"""Faults in the job: retried when transient, counted and logged when not, never doubled, never half-written.

The database faults come from the test-only triggers armed in conftest.py (by task title).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import redis
from celery import Celery

from tasktracker.adapters.celery.app import SEND_REMINDERS_TASK

from .conftest import Seeder, reminded, worker_metric
from .processes import CeleryProcess, LogRecord, failed_for_good, finished

RETRYING = "reminder run failed, will retry"


def wait_for_metric(worker: CeleryProcess, name: str, expected: float, **labels: str) -> None:
    # The failure is logged a moment before it is counted.
    deadline = time.monotonic() + 5
    while worker_metric(worker, name, **labels) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker_metric(worker, name, **labels) == expected


def retry_lines(worker: CeleryProcess) -> list[LogRecord]:
    return [record for record in worker.records() if record.get("message") == RETRYING]


def committed_logs(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM reminder_logs").fetchone()
    return int(row[0]) if row else 0


def wait_for_first_batch(db: psycopg.Connection[Any], batch_size: int = 50) -> None:
    deadline = time.monotonic() + 20
    while committed_logs(db) < batch_size:
        assert time.monotonic() < deadline, "the first batch never committed"
        time.sleep(0.02)


def wait_until_killed_sessions_end(db: psycopg.Connection[Any]) -> None:
    """PostgreSQL ends a killed client's session (rolling back its batch, or committing one whose COMMIT it
    had already received) only when it notices the closed socket; until then the batch's tasks stay locked
    and a new pass skips them, leaving them to the pass after."""
    deadline = time.monotonic() + 30
    while True:
        row = db.execute(
            "SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation "
            "WHERE pg_class.relname IN ('tasks', 'reminder_logs') AND pg_locks.pid <> pg_backend_pid()"
        ).fetchone()
        if not row or row[0] == 0:
            return
        assert time.monotonic() < deadline, "the killed worker's session still holds its locks"
        time.sleep(0.05)


def test_a_transient_database_error_is_retried_and_the_run_then_succeeds(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    owner = seed.user()
    tasks = {seed.task(owner, f"transient-once: {n}", timedelta(hours=n + 1)) for n in range(3)}
    worker = start_worker()

    run_id = publish()
    summary = worker.wait_for(finished(run_id))

    [retry] = retry_lines(worker)
    assert (retry["level"], retry["correlation_id"], retry["attempt"]) == ("WARNING", run_id, 1)
    assert "connection lost" in retry["error"]
    assert summary["sent"] == 3
    state = reminded(rdb)
    assert state.logs == dict.fromkeys(tasks, 1)
    assert {events[0]["correlation_id"] for events in state.events.values()} == {run_id}
    assert worker_metric(worker, "reminders_processed_total") == 3
    assert {task_id: len(notified) for task_id, notified in state.notified.items()} == dict.fromkeys(tasks, 1)
    assert worker_metric(worker, "notifications_created_total", type="DUE_SOON") == 3
    assert not [line for line in worker.records() if line.get("level") == "ERROR"]


def test_a_permanent_error_fails_the_run_at_once_logged_counted_and_nothing_half_written(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    owner = seed.user()
    seed.task(owner, "Fine", timedelta(hours=1))
    seed.task(owner, "permanent: broken", timedelta(hours=2))
    seed.task(owner, "Also fine", timedelta(hours=3))
    worker = start_worker()

    run_id = publish()
    failure = worker.wait_for(failed_for_good(run_id))

    assert (failure["level"], failure["reason"]) == ("ERROR", "error")
    assert "a bug" in failure["error"]
    assert retry_lines(worker) == []
    wait_for_metric(worker, "reminders_failed_total", 1, reason="error")
    assert worker_metric(worker, "reminders_processed_total") == 0
    # The three tasks were one batch: its ReminderLog rows went in, the audit insert failed, all rolled back,
    # the notifications with them.
    state = reminded(rdb)
    assert (state.logs, state.events, state.notified) == ({}, {}, {})
    assert worker_metric(worker, "notifications_created_total", type="DUE_SOON") == 0


def test_a_transient_error_that_persists_ends_the_run_after_bounded_retries(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    seed.task(seed.user(), "transient-always: database keeps dropping", timedelta(hours=1))
    worker = start_worker(REMINDER_MAX_RETRIES="2")

    run_id = publish()
    failure = worker.wait_for(failed_for_good(run_id))

    assert [(line["attempt"], line["correlation_id"]) for line in retry_lines(worker)] == [(1, run_id), (2, run_id)]
    assert (failure["level"], failure["reason"]) == ("ERROR", "retries_exhausted")
    wait_for_metric(worker, "reminders_failed_total", 1, reason="retries_exhausted")
    state = reminded(rdb)
    assert (state.logs, state.events) == ({}, {})


def test_a_run_that_expired_in_the_queue_is_dropped_logged_and_counted(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    producer: Celery,
    start_worker: Callable[..., CeleryProcess],
) -> None:
    seed.task(seed.user(), "Waiting", timedelta(hours=1))
    stale_run = str(producer.send_task(SEND_REMINDERS_TASK, expires=0.5).id)
    time.sleep(1)

    worker = start_worker()
    dropped = worker.wait_for(
        lambda line: (
            line.get("message") == "reminder run dropped before it ran" and line.get("correlation_id") == stale_run
        )
    )

    assert dropped["reason"] == "expired"
    wait_for_metric(worker, "reminders_failed_total", 1, reason="expired")
    assert reminded(rdb).logs == {}


def test_a_pool_process_killed_mid_run_gets_its_run_redone_without_doubles(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    # Three batches of 50, each holding its transaction open for a second.
    seed.many_tasks(seed.user(), "slow: ", 150)
    worker = start_worker()
    run_id = publish()
    wait_for_first_batch(rdb)

    [pool_process] = worker.pool_children()
    os.kill(pool_process, signal.SIGKILL)
    done_before_kill = committed_logs(rdb)

    # acks_late + reject_on_worker_lost: the message goes back on the queue and the same run starts over.
    sent = worker.wait_for(finished(run_id))["sent"]
    # The redone run skips a batch the killed process's session still held locked (PostgreSQL ends that
    # session only when it notices the closed socket); the next pass takes it.
    wait_until_killed_sessions_end(rdb)
    if committed_logs(rdb) < 150:
        sent += worker.wait_for(finished(publish()))["sent"]
    done_by_the_killed_process = 150 - sent
    assert done_before_kill <= done_by_the_killed_process < 150
    state = reminded(rdb)
    assert len(state.logs) == len(state.events) == len(state.notified) == 150
    assert set(state.logs.values()) == {1}
    assert {len(events) for events in state.events.values()} == {1}
    assert {len(notifications) for notifications in state.notified.values()} == {1}
    assert worker_metric(worker, "reminders_processed_total") == sent
    assert worker_metric(worker, "reminders_failed_total", reason="worker_lost") == 0


def test_a_worker_killed_mid_run_leaves_the_rest_to_the_next_run_without_doubles(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    reminders_redis: redis.Redis,
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    seed.many_tasks(seed.user(), "slow: ", 150)
    doomed = start_worker()
    killed_run = publish()
    wait_for_first_batch(rdb)

    doomed.kill_everything()
    wait_until_killed_sessions_end(rdb)
    done_before_kill = committed_logs(rdb)
    survivor = start_worker()
    summary = survivor.wait_for(finished(publish()))

    assert 0 < done_before_kill < 150
    assert summary["sent"] == 150 - done_before_kill
    state = reminded(rdb)
    assert len(state.logs) == len(state.events) == len(state.notified) == 150
    assert {len(notifications) for notifications in state.notified.values()} == {1}
    assert set(state.logs.values()) == {1}
    assert {len(events) for events in state.events.values()} == {1}
    # Nor is the killed run lost: Redis keeps it unacknowledged and redelivers it after the visibility timeout
    # (a run from beat has expired by then, so the worker drops it and counts it as "expired").
    unacked = [json.loads(raw)[0]["headers"]["id"] for raw in reminders_redis.hvals("unacked")]
    assert unacked == [killed_run]
