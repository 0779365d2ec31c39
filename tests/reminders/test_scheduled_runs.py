"""The job run by a real Celery worker (and scheduled by a real beat): who is reminded, and only once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from .conftest import Seeder, reminded, worker_metric
from .processes import CeleryProcess, LogRecord, finished, wait_for_any


def test_only_open_tasks_due_within_24_hours_get_one_reminder_each(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    owner = seed.user()
    due = {
        seed.task(owner, "Ship the release", timedelta(hours=1)),
        seed.task(owner, "Review the draft", timedelta(hours=5), status="IN_PROGRESS"),
        seed.task(owner, "Unblock the build", timedelta(hours=23), status="BLOCKED"),
    }
    seed.task(owner, "Already done", timedelta(hours=1), status="DONE")
    seed.task(owner, "Due the day after tomorrow", timedelta(hours=25))
    seed.task(owner, "Overdue", timedelta(hours=-1))
    seed.task(owner, "Someday", None)
    worker = start_worker()

    run_id = publish()
    summary = worker.wait_for(finished(run_id))

    assert summary["sent"] == 3
    state = reminded(rdb)
    assert state.logs == dict.fromkeys(due, 1)
    assert {task_id: len(events) for task_id, events in state.events.items()} == dict.fromkeys(due, 1)
    assert state.event_user_ids == {None}
    # The owner's notification, one per task reminded, titled with the task.
    titles = dict(rdb.execute("SELECT id, title FROM tasks").fetchall())
    assert state.notified == {task_id: [(owner, titles[task_id])] for task_id in due}
    assert worker_metric(worker, "notifications_created_total", type="DUE_SOON") == 3
    task_id, title, due_date = rdb.execute(
        "SELECT id, title, due_date FROM tasks WHERE title = 'Review the draft'"
    ).fetchone() or (None, None, None)
    [details] = state.events[task_id]
    assert datetime.fromisoformat(details.pop("due_date")) == due_date
    assert details == {
        "system": True,
        "reminder_type": "DUE_SOON",
        "title": title,
        "owner_id": str(owner),
        "correlation_id": run_id,
    }


def test_every_log_line_of_a_run_carries_its_correlation_id(
    seed: Seeder, start_worker: Callable[..., CeleryProcess], publish: Callable[[], str]
) -> None:
    seed.many_tasks(seed.user(), "Logged ", 120)
    worker = start_worker()

    run_id = publish()
    worker.wait_for(lambda record: "succeeded" in str(record.get("message")) and run_id in str(record["message"]))

    records = worker.records()
    first = next(i for i, record in enumerate(records) if record.get("message") == "reminder pass started")
    last = next(i for i, record in enumerate(records) if "succeeded" in str(record.get("message")))
    run_lines = records[first : last + 1]
    assert [record["message"] for record in run_lines].count("reminder batch sent") == 3
    assert {record["correlation_id"] for record in run_lines} == {run_id}


def test_running_the_job_twice_sends_each_reminder_once(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    seed.many_tasks(seed.user(), "Twice ", 120)
    worker = start_worker()

    first = worker.wait_for(finished(publish()))
    second = worker.wait_for(finished(publish()))

    assert (first["sent"], first["batches"]) == (120, 3)
    assert (second["sent"], second["batches"]) == (0, 0)
    assert (first["notifications"], second["notifications"]) == ({"DUE_SOON": 120}, {})
    state = reminded(rdb)
    assert len(state.logs) == len(state.events) == len(state.notified) == 120
    assert set(state.logs.values()) == {1}
    assert {len(events) for events in state.events.values()} == {1}
    assert {len(notifications) for notifications in state.notified.values()} == {1}
    assert worker_metric(worker, "notifications_created_total", type="DUE_SOON") == 120


def _run_lines(workers: list[CeleryProcess], run_id: str) -> tuple[CeleryProcess, LogRecord, LogRecord]:
    for worker in workers:
        lines = [record for record in worker.records() if record.get("correlation_id") == run_id]
        started = [record for record in lines if record.get("message") == "reminder pass started"]
        ended = [record for record in lines if record.get("message") == "reminder pass finished"]
        if started and ended:
            return worker, started[0], ended[0]
    raise AssertionError(f"run {run_id} did not finish")


def test_two_workers_running_the_job_at_once_send_each_reminder_once(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
) -> None:
    # Every batch of these tasks holds its transaction open for a second, so the two runs overlap.
    seed.many_tasks(seed.user(), "slow: ", 150)
    workers = [start_worker(), start_worker()]

    runs = [publish(), publish()]
    for run_id in runs:
        wait_for_any(workers, finished(run_id))

    (worker_a, started_a, ended_a), (worker_b, started_b, ended_b) = (_run_lines(workers, run) for run in runs)
    assert worker_a is not worker_b, "each worker took one run"
    assert max(started_a["timestamp"], started_b["timestamp"]) < min(ended_a["timestamp"], ended_b["timestamp"])
    assert ended_a["sent"] + ended_b["sent"] == 150
    state = reminded(rdb)
    assert len(state.logs) == len(state.events) == len(state.notified) == 150
    assert set(state.logs.values()) == {1}
    assert {len(events) for events in state.events.values()} == {1}
    assert {len(notifications) for notifications in state.notified.values()} == {1}


def test_the_database_refuses_a_second_due_soon_log_for_a_task(seed: Seeder, rdb: psycopg.Connection[Any]) -> None:
    task_id = seed.task(seed.user(), "Once only", timedelta(hours=2))
    insert = "INSERT INTO reminder_logs (task_id, reminder_type, sent_at) VALUES (%s, 'DUE_SOON', now())"
    rdb.execute(insert, (task_id,))

    with pytest.raises(psycopg.errors.UniqueViolation):
        rdb.execute(insert, (task_id,))

    assert reminded(rdb).logs == {task_id: 1}


def test_beat_schedules_the_job_and_the_worker_runs_it(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    start_beat: Callable[..., CeleryProcess],
) -> None:
    task_id = seed.task(seed.user(), "Scheduled", timedelta(hours=3))
    worker = start_worker(REMINDER_INTERVAL_SECONDS="2")

    beat = start_beat(REMINDER_INTERVAL_SECONDS="2")
    summary = worker.wait_for(
        lambda record: record.get("message") == "reminder pass finished" and record.get("sent") == 1, timeout=20
    )

    assert reminded(rdb).logs == {task_id: 1}
    assert reminded(rdb).events[task_id][0]["correlation_id"] == summary["correlation_id"]
    assert any("Sending due task send-reminders" in str(record.get("message")) for record in beat.records())
