"""The fakes must behave like the adapters they stand for, or the use-case tests prove nothing."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import pytest

from tasktracker.application.ports import (
    AuditQuery,
    DuePosition,
    FileStorage,
    ReminderAudit,
    ReminderNotice,
    UnitOfWorkFactory,
)
from tasktracker.domain.entities import Task, User, new_id
from tasktracker.domain.enums import NotificationType
from tasktracker.domain.errors import ConflictError, PayloadTooLargeError, ServiceUnavailableError

from .fakes import NOW, AddTask, FakeFileStorage, FakeUnitOfWork

AUDIT = ReminderAudit(details={"system": True}, task_fields=("title",), created_at=NOW)
NOTICE = ReminderNotice(type=NotificationType.DUE_SOON, message="Due soon", created_at=NOW)


def test_the_fakes_satisfy_the_ports(uow: FakeUnitOfWork, storage: FakeFileStorage) -> None:
    # Checked by mypy: a fake drifting from its Protocol fails the type check of these assignments.
    factory: UnitOfWorkFactory = uow
    file_storage: FileStorage = storage
    assert factory() is uow
    assert file_storage is storage


def test_changes_left_uncommitted_are_rolled_back(uow: FakeUnitOfWork, alice: User, add_task: AddTask) -> None:
    task = add_task(alice)
    with uow:
        uow.tasks.delete(task)
        assert uow.tasks.get(task.id) is None
    with uow:
        assert uow.tasks.get(task.id) == task
    assert not uow.committed


def test_changes_are_rolled_back_when_the_block_raises(uow: FakeUnitOfWork, alice: User, add_task: AddTask) -> None:
    task = add_task(alice)
    with pytest.raises(RuntimeError), uow:
        uow.tasks.delete(task)
        raise RuntimeError("boom")
    assert uow.committed_state.tasks == {task.id: task}


def test_committed_changes_are_kept_and_later_ones_are_not(uow: FakeUnitOfWork, alice: User, add_task: AddTask) -> None:
    first, second = add_task(alice), add_task(alice)
    with uow:
        uow.tasks.delete(first)
        uow.commit()
        uow.tasks.delete(second)
    assert list(uow.committed_state.tasks) == [second.id]
    assert (uow.committed, uow.commits) == (True, 1)


def test_rollback_discards_what_was_done_since_the_last_commit(
    uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    with uow:
        uow.tasks.delete(task)
        uow.rollback()
        assert uow.tasks.get(task.id) == task


def test_a_failing_commit_keeps_nothing(uow: FakeUnitOfWork, alice: User, add_task: AddTask) -> None:
    task = add_task(alice)
    uow.commit_error = ServiceUnavailableError()
    with pytest.raises(ServiceUnavailableError), uow:
        uow.tasks.delete(task)
        uow.commit()
    assert uow.committed_state.tasks == {task.id: task}
    assert not uow.committed


def test_entities_read_are_copies_so_only_save_changes_anything(
    uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, title="Original")
    with uow:
        loaded = uow.tasks.get(task.id)
        assert loaded is not None
        loaded.title = "Changed without save"
        uow.commit()
    assert uow.committed_state.tasks[task.id].title == "Original"


def test_repositories_refuse_use_outside_a_transaction(uow: FakeUnitOfWork, alice: User) -> None:
    with pytest.raises(RuntimeError):
        uow.users.get(alice.id)


def test_users_are_unique_by_email_whatever_its_case(uow: FakeUnitOfWork, alice: User) -> None:
    with uow:
        assert uow.users.get_by_email("ALICE@example.com") == alice
        with pytest.raises(ConflictError):
            uow.users.add(replace(alice, id=new_id(), email="Alice@Example.com"))


def test_claim_due_soon_claims_each_task_once(uow: FakeUnitOfWork, alice: User, add_task: AddTask) -> None:
    task = add_task(alice, due_date=NOW + timedelta(hours=1))
    with uow:
        [claimed] = uow.reminders.claim_due_soon(
            NOW, NOW + timedelta(days=1), NOW, limit=10, audit=AUDIT, notice=NOTICE
        ).claimed
        assert claimed.task_id == task.id
        [event] = uow.audit.search(AuditQuery(viewer_id=alice.id)).items
        assert (event.task_id, event.user_id, event.details) == (task.id, None, {"system": True, "title": task.title})
        assert (
            uow.reminders.claim_due_soon(
                NOW, NOW + timedelta(days=1), NOW, limit=10, audit=AUDIT, notice=NOTICE
            ).claimed
            == []
        )
        uow.reminders.forget(task.id)
        again = uow.reminders.claim_due_soon(NOW, NOW + timedelta(days=1), NOW, limit=10, audit=AUDIT, notice=NOTICE)
        assert len(again.claimed) == 1


def test_claim_due_soon_honours_status_window_and_limit_soonest_first(
    uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    hours = [5, 1, 3, 30]
    tasks: dict[int, Task] = {hour: add_task(alice, due_date=NOW + timedelta(hours=hour)) for hour in hours}
    add_task(alice, status="DONE", due_date=NOW + timedelta(hours=2))
    with uow:
        batch = uow.reminders.claim_due_soon(NOW, NOW + timedelta(days=1), NOW, limit=2, audit=AUDIT, notice=NOTICE)
        assert [item.task_id for item in batch.claimed] == [tasks[1].id, tasks[3].id]
        assert (batch.examined, batch.last) == (2, DuePosition(NOW + timedelta(hours=3), tasks[3].id))
        rest = uow.reminders.claim_due_soon(
            NOW, NOW + timedelta(days=1), NOW, limit=2, audit=AUDIT, notice=NOTICE, after=batch.last
        )
    assert [item.task_id for item in rest.claimed] == [tasks[5].id]
    assert (rest.examined, rest.last) == (1, DuePosition(NOW + timedelta(hours=5), tasks[5].id))


def test_claim_due_soon_examines_a_held_task_but_does_not_claim_it(
    uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    held, free = (add_task(alice, due_date=NOW + timedelta(hours=hour)) for hour in (1, 2))
    uow.reminders.held.add(held.id)
    with uow:
        batch = uow.reminders.claim_due_soon(NOW, NOW + timedelta(days=1), NOW, limit=10, audit=AUDIT, notice=NOTICE)
    assert [item.task_id for item in batch.claimed] == [free.id]
    assert batch.examined == 2


def test_storage_put_refuses_more_than_max_bytes_and_keeps_nothing(storage: FakeFileStorage) -> None:
    with pytest.raises(PayloadTooLargeError):
        storage.put("k", io.BytesIO(b"x" * 11), "text/plain", max_bytes=10)
    assert storage.objects == {}
    assert storage.put("k", io.BytesIO(b"x" * 10), "text/plain", max_bytes=10) == 10


def test_storage_fails_the_operations_it_is_told_to_until_it_recovers(storage: FakeFileStorage) -> None:
    storage.fail("delete")
    storage.put("k", io.BytesIO(b"data"), "text/plain", max_bytes=10)
    with pytest.raises(ServiceUnavailableError):
        storage.delete("k")
    storage.fail()
    with pytest.raises(ServiceUnavailableError):
        storage.head("k")
    storage.recover()
    storage.delete("k")
    assert storage.head("k") is None
