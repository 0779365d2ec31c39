from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from tasktracker.application.context import set_correlation_id
from tasktracker.application.reminders import SendReminders, due_soon_message
from tasktracker.application.tasks import TaskUseCases
from tasktracker.domain.entities import Task, User
from tasktracker.domain.enums import AuditEventType, NotificationType, ReminderType
from tasktracker.domain.errors import ServiceUnavailableError

from .fakes import NOW, AddTask, FakeClock, FakeUnitOfWork

WINDOW = timedelta(hours=24)


@pytest.fixture
def send(uow: FakeUnitOfWork, clock: FakeClock) -> SendReminders:
    return SendReminders(uow, clock)


def due_in(add_task: AddTask, owner: User, delta: timedelta | None, **fields: object) -> Task:
    return add_task(owner, title=f"due in {delta}", due_date=None if delta is None else NOW + delta, **fields)


def reminded(uow: FakeUnitOfWork) -> set[UUID | None]:
    return {event.task_id for event in uow.events(AuditEventType.REMINDER_SENT)}


def test_only_open_tasks_due_within_the_window_get_a_reminder(
    send: SendReminders, uow: FakeUnitOfWork, alice: User, bob: User, add_task: AddTask
) -> None:
    expected = {
        due_in(add_task, alice, timedelta(0)).id,
        due_in(add_task, alice, timedelta(hours=1)).id,
        due_in(add_task, bob, timedelta(hours=3), status="BLOCKED").id,
        due_in(add_task, bob, timedelta(hours=5), status="IN_PROGRESS").id,
        due_in(add_task, alice, WINDOW).id,
    }
    due_in(add_task, alice, timedelta(hours=2), status="DONE")
    due_in(add_task, alice, WINDOW + timedelta(seconds=1))
    due_in(add_task, alice, timedelta(seconds=-1))
    due_in(add_task, bob, None)

    run = send()

    assert run.sent == 5
    assert set(run.task_ids) == {str(task_id) for task_id in expected}
    assert reminded(uow) == expected
    assert len(uow.events(AuditEventType.REMINDER_SENT)) == 5
    assert set(uow.committed_state.reminder_logs) == {(task_id, ReminderType.DUE_SOON) for task_id in expected}
    assert {log.sent_at for log in uow.committed_state.reminder_logs.values()} == {NOW}


def test_running_twice_sends_nothing_new(
    send: SendReminders, uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    due_in(add_task, alice, timedelta(hours=1))
    due_in(add_task, alice, timedelta(hours=20))
    assert send().sent == 2
    clock.advance(minutes=10)
    second = send()
    assert (second.sent, second.batches, second.task_ids) == (0, 0, [])
    assert len(uow.events(AuditEventType.REMINDER_SENT)) == 2


def test_a_task_entering_the_window_later_is_reminded_then(
    send: SendReminders, uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    task = due_in(add_task, alice, WINDOW + timedelta(hours=1))
    assert send().sent == 0
    clock.advance(hours=1)
    assert send().sent == 1
    assert reminded(uow) == {task.id}


def test_reminder_events_are_system_events_with_due_date_title_and_owner(
    send: SendReminders, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = due_in(add_task, alice, timedelta(hours=2))
    send()
    [event] = uow.events(AuditEventType.REMINDER_SENT)
    assert (event.user_id, event.task_id, event.created_at) == (None, task.id, NOW)
    assert event.details == {
        "system": True,
        "reminder_type": "DUE_SOON",
        "due_date": (NOW + timedelta(hours=2)).isoformat(),
        "title": task.title,
        "owner_id": str(alice.id),
    }


def test_reminder_events_carry_the_correlation_id_when_one_is_set(
    send: SendReminders, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    due_in(add_task, alice, timedelta(hours=2))
    set_correlation_id("beat-7f3a")
    send()
    [event] = uow.events(AuditEventType.REMINDER_SENT)
    assert event.details["correlation_id"] == "beat-7f3a"
    assert event.details["system"] is True


@pytest.mark.parametrize(
    ("tasks", "batch_size", "batches", "transactions"),
    [(7, 3, 3, 3), (6, 3, 2, 3), (2, 5, 1, 1), (0, 3, 0, 1)],
    ids=["partial-last-batch", "exact-multiple", "one-short-batch", "nothing-due"],
)
def test_reminders_are_sent_in_batches_each_in_its_own_transaction(
    tasks: int,
    batch_size: int,
    batches: int,
    transactions: int,
    uow: FakeUnitOfWork,
    clock: FakeClock,
    alice: User,
    add_task: AddTask,
) -> None:
    for index in range(tasks):
        due_in(add_task, alice, timedelta(hours=index + 1))
    run = SendReminders(uow, clock, batch_size=batch_size)()
    assert (run.sent, run.batches) == (tasks, batches)
    assert uow.transactions == uow.commits == transactions
    assert len(uow.events(AuditEventType.REMINDER_SENT)) == len(uow.committed_state.reminder_logs) == tasks


def test_the_run_reports_at_most_keep_task_ids_ids(
    uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    for index in range(5):
        due_in(add_task, alice, timedelta(hours=index + 1))
    run = SendReminders(uow, clock, batch_size=2, keep_task_ids=3)()
    assert run.sent == 5
    assert len(run.task_ids) == 3


def test_a_batch_that_failed_to_commit_is_sent_by_the_next_run(
    send: SendReminders, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = due_in(add_task, alice, timedelta(hours=1))
    uow.commit_error = ServiceUnavailableError("database went away")
    with pytest.raises(ServiceUnavailableError):
        send()
    assert uow.committed_state.reminder_logs == {}
    assert uow.events() == []
    uow.commit_error = None
    assert send().sent == 1
    assert reminded(uow) == {task.id}


def test_a_new_due_date_earns_a_new_reminder(
    send: SendReminders, uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    task = due_in(add_task, alice, timedelta(hours=1))
    send()
    TaskUseCases(uow, clock).update(alice.id, task.id, {"due_date": NOW + timedelta(hours=6)})
    assert send().sent == 1
    assert len(uow.events(AuditEventType.REMINDER_SENT)) == 2


def test_a_finished_task_is_not_reminded(
    send: SendReminders, uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    task = due_in(add_task, alice, timedelta(hours=1))
    TaskUseCases(uow, clock).update(alice.id, task.id, {"status": "DONE"})
    assert send().sent == 0


def test_a_task_being_written_is_left_to_the_next_run_and_the_run_carries_on_past_it(
    uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    tasks = [due_in(add_task, alice, timedelta(hours=hour)) for hour in range(1, 6)]
    uow.reminders.held.add(tasks[1].id)
    # Batches of two: the first claims one task of the two it examined, and the run goes on.
    run = SendReminders(uow, clock, batch_size=2)()
    assert (run.sent, run.batches) == (4, 3)
    assert reminded(uow) == {task.id for task in tasks} - {tasks[1].id}
    uow.reminders.held.clear()
    assert SendReminders(uow, clock, batch_size=2)().sent == 1
    assert reminded(uow) == {task.id for task in tasks}


def test_a_batch_with_nothing_to_claim_does_not_end_the_run(
    uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    tasks = [due_in(add_task, alice, timedelta(hours=hour)) for hour in range(1, 6)]
    uow.reminders.held.update(task.id for task in tasks[:2])
    run = SendReminders(uow, clock, batch_size=2)()
    assert (run.sent, run.batches) == (3, 2)
    assert uow.transactions == 3


def test_tasks_due_at_the_same_moment_are_each_reminded_across_batches(
    uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    same = [due_in(add_task, alice, timedelta(hours=2)) for _ in range(5)]
    uow.reminders.held.add(min(task.id for task in same))
    run = SendReminders(uow, clock, batch_size=2)()
    assert run.sent == 4
    assert uow.transactions == 3


def test_each_task_reminded_notifies_its_owner_once_titled_with_the_task(
    send: SendReminders, uow: FakeUnitOfWork, clock: FakeClock, alice: User, bob: User, add_task: AddTask
) -> None:
    adas = due_in(add_task, alice, timedelta(hours=1))
    bobs = due_in(add_task, bob, timedelta(hours=3))
    due_in(add_task, alice, timedelta(hours=2), status="DONE")

    first = send.run_pass()
    clock.advance(minutes=5)
    second = send.run_pass()

    assert (first.notifications, second.notifications) == ({"DUE_SOON": 2}, {})
    notifications = sorted(uow.committed_state.notifications.values(), key=lambda row: row.title)
    assert [(row.user_id, row.task_id, row.type, row.title) for row in notifications] == sorted(
        [
            (alice.id, adas.id, NotificationType.DUE_SOON, adas.title),
            (bob.id, bobs.id, NotificationType.DUE_SOON, bobs.title),
        ],
        key=lambda row: row[3],
    )
    assert {(row.message, row.created_at, row.read_at) for row in notifications} == {
        ("This task is due within 24 hours.", NOW, None)
    }


def test_a_batch_that_fails_to_commit_leaves_no_notification(
    send: SendReminders, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    due_in(add_task, alice, timedelta(hours=1))
    uow.commit_error = ServiceUnavailableError("the database went away")

    with pytest.raises(ServiceUnavailableError):
        send()

    assert uow.committed_state.notifications == {}


@pytest.mark.parametrize(
    ("window_seconds", "message"),
    [
        (24 * 3600, "This task is due within 24 hours."),
        (3600, "This task is due within 1 hour."),
        (90 * 60, "This task is due soon."),
    ],
)
def test_the_due_soon_message_names_the_window(window_seconds: int, message: str) -> None:
    assert due_soon_message(window_seconds) == message
