"""The reminder pass against writes that race it, on real PostgreSQL with real concurrent transactions.

A pass claims a batch with one statement while users edit and delete tasks. Whatever the interleaving, a
reminder records the due date the task has while the claim holds it, a task deleted meanwhile is simply not
reminded, and two passes at once still remind each task once. The interleavings are made deterministic by
pausing real transactions: the task use cases with a clock that waits (they read it after locking the task),
and an uncommitted reminder log of another pass, which makes a claim wait on the unique constraint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from tasktracker.application.ports import UnitOfWorkFactory
from tasktracker.application.reminders import ReminderRun, SendReminders
from tasktracker.application.tasks import TaskUseCases
from tasktracker.domain.entities import Task, User

from .test_repositories import make_task, make_user

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WAIT = 20.0


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class HeldClock:
    """A clock that keeps its first caller waiting until released: a task use case reads the clock after it
    locked the task, so the write holds the task's row lock, uncommitted, for as long as the test wants."""

    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def now(self) -> datetime:
        self.reached.set()
        assert self.released.wait(WAIT), "the test never released the write"
        return NOW


class Background:
    """A call in a thread of its own, with its result or its exception."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self.result = call()
        except BaseException as error:  # handed to the test, which raises it again
            self.error = error

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float = WAIT) -> Any:
        self._thread.join(timeout)
        assert self.done(), "still running"
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def db(clean_db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(clean_db, autocommit=True) as connection:
        yield connection


def claims_waiting(db: psycopg.Connection[Any]) -> int:
    """How many reminder claims of this database are waiting on a lock right now."""
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND query LIKE '%%INSERT INTO reminder_logs%%' AND pid <> pg_backend_pid()"
    ).fetchone()
    return int(row[0]) if row else 0


def settle(db: psycopg.Connection[Any], running: Background, *, waiting: int = 1) -> None:
    """Until the pass is done or `waiting` of its claims wait on a lock: either way it read its batch."""
    deadline = time.monotonic() + WAIT
    while not running.done() and claims_waiting(db) < waiting:
        assert time.monotonic() < deadline, "the pass neither finished nor waited"
        time.sleep(0.02)


def reminder_pass(uow: UnitOfWorkFactory, batch_size: int = 100) -> Callable[[], ReminderRun]:
    return SendReminders(uow, FixedClock(), batch_size=batch_size)


def logs(db: psycopg.Connection[Any]) -> dict[UUID, int]:
    return dict(db.execute("SELECT task_id, count(*) FROM reminder_logs GROUP BY task_id").fetchall())


def notified(db: psycopg.Connection[Any]) -> dict[UUID, int]:
    """DUE_SOON notifications per task."""
    return dict(
        db.execute("SELECT task_id, count(*) FROM notifications WHERE type = 'DUE_SOON' GROUP BY task_id").fetchall()
    )


def reminded_due_dates(db: psycopg.Connection[Any]) -> dict[UUID, list[datetime]]:
    """The due dates the REMINDER_SENT events say they reminded of, per task."""
    dates: dict[UUID, list[datetime]] = {}
    for task_id, due_date in db.execute(
        "SELECT task_id, details->>'due_date' FROM audit_events WHERE event_type = 'REMINDER_SENT'"
    ).fetchall():
        dates.setdefault(task_id, []).append(datetime.fromisoformat(due_date))
    return dates


def hold_claim(database_url: str, task: Task) -> psycopg.Connection[Any]:
    """Another pass in the middle of its batch: its log for `task` is written and not yet committed, so a
    claim of the same task waits on the unique constraint until this connection commits or rolls back."""
    other = psycopg.connect(database_url)
    other.execute(
        "INSERT INTO reminder_logs (task_id, reminder_type, sent_at) VALUES (%s, 'DUE_SOON', %s)", (task.id, NOW)
    )
    return other


@dataclass
class Tasks:
    owner: User
    first: Task
    moved: Task
    last: Task


@pytest.fixture
def tasks(uow: UnitOfWorkFactory) -> Tasks:
    ada = make_user(uow, "ada@example.com")
    return Tasks(
        owner=ada,
        first=make_task(uow, ada, "First", due_date=NOW + timedelta(hours=1)),
        moved=make_task(uow, ada, "Moved", due_date=NOW + timedelta(hours=2)),
        last=make_task(uow, ada, "Last", due_date=NOW + timedelta(hours=3)),
    )


NEW_DUE_DATE = NOW + timedelta(hours=5)


def test_a_due_date_moved_while_the_pass_waits_on_the_task_is_never_reminded_as_the_old_one(
    uow: UnitOfWorkFactory, db: psycopg.Connection[Any], tasks: Tasks
) -> None:
    clock = HeldClock()
    edit = Background(
        lambda: TaskUseCases(uow, clock).update(tasks.owner.id, tasks.moved.id, {"due_date": NEW_DUE_DATE})
    )
    assert clock.reached.wait(WAIT)  # the PATCH holds the task's row lock, its new due date not yet written

    running = Background(reminder_pass(uow))
    settle(db, running)
    clock.released.set()
    edit.wait()
    first = running.wait()

    # The pass reminded of the moved task with its new due date, or left it to the next pass: never the old one.
    assert reminded_due_dates(db).get(tasks.moved.id, [NEW_DUE_DATE]) == [NEW_DUE_DATE]
    second = reminder_pass(uow)()
    assert first.sent + second.sent == 3
    assert logs(db) == {tasks.first.id: 1, tasks.moved.id: 1, tasks.last.id: 1}
    assert reminded_due_dates(db)[tasks.moved.id] == [NEW_DUE_DATE]
    assert notified(db) == {tasks.first.id: 1, tasks.moved.id: 1, tasks.last.id: 1}


def test_a_due_date_moved_after_the_pass_read_its_batch_is_reminded_as_the_new_one(
    uow: UnitOfWorkFactory, db: psycopg.Connection[Any], clean_db: str, tasks: Tasks
) -> None:
    other_pass = hold_claim(clean_db, tasks.first)
    try:
        running = Background(reminder_pass(uow))
        # The pass read its batch, the moved task's old row with it, and waits on the first task's claim; it
        # has not come to the moved task yet, so the edit does not wait for it.
        settle(db, running)
        edit = Background(
            lambda: TaskUseCases(uow, FixedClock()).update(tasks.owner.id, tasks.moved.id, {"due_date": NEW_DUE_DATE})
        )
        edit.wait()
    finally:
        other_pass.rollback()
        other_pass.close()
    first = running.wait()

    # The claim re-read the task when it came to lock it, after the edit committed.
    assert first.sent == 3
    assert reminded_due_dates(db)[tasks.moved.id] == [NEW_DUE_DATE]
    assert reminder_pass(uow)().sent == 0
    assert logs(db) == {tasks.first.id: 1, tasks.moved.id: 1, tasks.last.id: 1}
    assert reminded_due_dates(db)[tasks.moved.id] == [NEW_DUE_DATE]


def test_a_task_marked_done_after_the_pass_read_its_batch_is_not_reminded(
    uow: UnitOfWorkFactory, db: psycopg.Connection[Any], clean_db: str, tasks: Tasks
) -> None:
    other_pass = hold_claim(clean_db, tasks.first)
    try:
        running = Background(reminder_pass(uow))
        settle(db, running)
        done = Background(
            lambda: TaskUseCases(uow, FixedClock()).update(tasks.owner.id, tasks.moved.id, {"status": "DONE"})
        )
        done.wait()
    finally:
        other_pass.rollback()
        other_pass.close()
    assert running.wait().sent == 2
    assert reminder_pass(uow)().sent == 0

    assert logs(db) == {tasks.first.id: 1, tasks.last.id: 1}
    assert tasks.moved.id not in reminded_due_dates(db)
    assert notified(db) == {tasks.first.id: 1, tasks.last.id: 1}


def test_a_task_deleted_while_the_pass_waits_on_it_is_skipped_and_the_batch_goes_through(
    uow: UnitOfWorkFactory, db: psycopg.Connection[Any], tasks: Tasks
) -> None:
    clock = HeldClock()
    removal = Background(lambda: TaskUseCases(uow, clock).delete(tasks.owner.id, tasks.moved.id))
    assert clock.reached.wait(WAIT)  # the task's row is deleted, not yet committed

    running = Background(reminder_pass(uow))
    settle(db, running)
    clock.released.set()
    removal.wait()
    run = running.wait()

    assert run.sent == 2
    assert logs(db) == {tasks.first.id: 1, tasks.last.id: 1}
    assert set(reminded_due_dates(db)) == {tasks.first.id, tasks.last.id}
    # The deleted task left no notification: one only for each log the claim inserted.
    assert notified(db) == {tasks.first.id: 1, tasks.last.id: 1}
    assert run.notifications == {"DUE_SOON": 2}


def test_a_task_deleted_after_the_pass_read_its_batch_is_skipped_and_the_batch_goes_through(
    uow: UnitOfWorkFactory, db: psycopg.Connection[Any], clean_db: str, tasks: Tasks
) -> None:
    other_pass = hold_claim(clean_db, tasks.first)
    try:
        running = Background(reminder_pass(uow))
        settle(db, running)
        Background(lambda: TaskUseCases(uow, FixedClock()).delete(tasks.owner.id, tasks.moved.id)).wait()
    finally:
        other_pass.rollback()
        other_pass.close()
    run = running.wait()

    assert run.sent == 2
    assert logs(db) == {tasks.first.id: 1, tasks.last.id: 1}
    assert set(reminded_due_dates(db)) == {tasks.first.id, tasks.last.id}
    assert notified(db) == {tasks.first.id: 1, tasks.last.id: 1}
    assert run.notifications == {"DUE_SOON": 2}


def test_the_pass_carries_on_past_a_task_being_edited_and_the_next_pass_reminds_it(
    uow: UnitOfWorkFactory, db: psycopg.Connection[Any]
) -> None:
    ada = make_user(uow, "ada@example.com")
    due = [make_task(uow, ada, f"Due in {hour} h", due_date=NOW + timedelta(hours=hour)) for hour in range(1, 8)]
    edited = due[1]
    clock = HeldClock()
    edit = Background(lambda: TaskUseCases(uow, clock).update(ada.id, edited.id, {"title": "Renamed"}))
    assert clock.reached.wait(WAIT)

    try:
        # Batches of two: the edited task is in the first, and a short batch must not end the pass.
        run = reminder_pass(uow, batch_size=2)()
    finally:
        clock.released.set()
        edit.wait()

    assert run.sent == 6
    assert set(logs(db)) == {task.id for task in due} - {edited.id}
    assert reminder_pass(uow, batch_size=2)().sent == 1
    assert logs(db) == dict.fromkeys((task.id for task in due), 1)
    assert notified(db) == dict.fromkeys((task.id for task in due), 1)


def test_two_passes_at_once_remind_each_task_once(
    uow: UnitOfWorkFactory, db: psycopg.Connection[Any], clean_db: str
) -> None:
    ada = make_user(uow, "ada@example.com")
    db.execute(
        "INSERT INTO tasks (id, owner_id, title, status, priority, due_date, created_at, updated_at)"
        " SELECT gen_random_uuid(), %s, 'Task ' || n, 'TODO', 'MEDIUM', %s + n * interval '1 minute', %s, %s"
        " FROM generate_series(1, 300) AS n",
        (ada.id, NOW, NOW, NOW),
    )
    [[first_id]] = db.execute("SELECT id FROM tasks ORDER BY due_date LIMIT 1").fetchall()
    # A third pass holds the first task's claim, so the first pass started waits in its first batch while
    # the second runs: the two overlap for certain.
    third = psycopg.connect(clean_db)
    third.execute(
        "INSERT INTO reminder_logs (task_id, reminder_type, sent_at) VALUES (%s, 'DUE_SOON', %s)", (first_id, NOW)
    )
    try:
        one = Background(reminder_pass(uow, batch_size=20))
        settle(db, one)
        two = Background(reminder_pass(uow, batch_size=20))
        settle(db, two, waiting=2)
    finally:
        third.rollback()
        third.close()
    runs = [one.wait(), two.wait()]

    assert sum(run.sent for run in runs) == 300
    counts = logs(db)
    assert len(counts) == 300 and set(counts.values()) == {1}
    events = db.execute(
        "SELECT count(*), count(DISTINCT task_id) FROM audit_events WHERE event_type = 'REMINDER_SENT'"
    ).fetchone()
    assert events == (300, 300)
    # One notification per task, for its owner, and the runs counted exactly those.
    notifications = db.execute(
        "SELECT count(*), count(DISTINCT task_id), array_agg(DISTINCT user_id) FROM notifications"
    ).fetchone()
    assert notifications == (300, 300, [ada.id])
    assert sum(run.notifications.get("DUE_SOON", 0) for run in runs) == 300
