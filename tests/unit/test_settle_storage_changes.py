"""The settler carries out what requests left in the storage outbox: keeps, discards, and what to do with failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasktracker.application.attachments import storage_key
from tasktracker.application.ports import FileStorage, StorageAction, StorageChange
from tasktracker.application.storage_changes import SettleStorageChanges, StorageSettlement
from tasktracker.domain.entities import Attachment, Task, User, new_id

from .fakes import AddAttachment, AddTask, Blob, FakeClock, FakeFileStorage, FakeUnitOfWork

GRACE = 30


@pytest.fixture
def settle(uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock) -> SettleStorageChanges:
    return SettleStorageChanges(uow, lambda: storage, clock, grace_seconds=GRACE, max_attempts=3)


@pytest.fixture
def task(alice: User, add_task: AddTask) -> Task:
    return add_task(alice)


def left(
    uow: FakeUnitOfWork, clock: FakeClock, key: str, action: StorageAction, age_seconds: float = 60
) -> StorageChange:
    """A change a request wrote `age_seconds` ago and could not carry out."""
    change = StorageChange(new_id(), key, action, clock.now() - timedelta(seconds=age_seconds))
    uow.seed(change)
    return change


def pending_file(storage: FakeFileStorage, task: Task) -> str:
    key = storage_key(task.id, new_id())
    storage.receive_upload(key, b"data", "text/plain")
    return key


def recorded_pending(storage: FakeFileStorage, task: Task, add_attachment: AddAttachment) -> Attachment:
    """A committed row whose file still carries the pending tag, as a request killed after its commit leaves it."""
    attachment = add_attachment(task)
    storage.pending.add(attachment.storage_path)
    return attachment


def test_a_keep_marks_the_recorded_file_kept_and_leaves_the_outbox(
    settle: SettleStorageChanges,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    attachment = recorded_pending(storage, task, add_attachment)
    left(uow, clock, attachment.storage_path, StorageAction.KEEP)

    assert settle() == StorageSettlement(settled=1)

    assert storage.pending == set()
    assert attachment.storage_path in storage.objects
    assert uow.storage_outbox() == {}


def test_a_discard_deletes_the_file_and_a_file_already_gone_counts_as_deleted(
    settle: SettleStorageChanges, uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock, task: Task
) -> None:
    present = pending_file(storage, task)
    storage.pending.discard(present)
    left(uow, clock, present, StorageAction.DISCARD)
    left(uow, clock, storage_key(task.id, new_id()), StorageAction.DISCARD)

    assert settle() == StorageSettlement(settled=2)

    assert storage.objects == {}
    assert uow.storage_outbox() == {}


def test_changes_younger_than_the_grace_are_left_to_the_request_that_wrote_them(
    settle: SettleStorageChanges,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    attachment = recorded_pending(storage, task, add_attachment)
    left(uow, clock, attachment.storage_path, StorageAction.KEEP, age_seconds=GRACE - 1)

    assert settle() == StorageSettlement()
    assert storage.calls == []
    assert uow.storage_outbox() == {"keep": {attachment.storage_path}}

    # Asked to take everything, as the CLI can be: the same change is carried out at once.
    assert settle(grace_seconds=0) == StorageSettlement(settled=1)
    assert storage.pending == set()


def test_a_keep_whose_row_is_gone_is_dropped_without_keeping_the_file(
    settle: SettleStorageChanges, uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock, task: Task
) -> None:
    # The row was deleted after its commit: its delete wrote a discard of its own, or the file stays pending.
    key = pending_file(storage, task)
    left(uow, clock, key, StorageAction.KEEP)

    assert settle() == StorageSettlement(settled=1)

    assert "mark_kept" not in [operation for operation, _ in storage.calls]
    assert storage.pending == {key}
    assert uow.storage_outbox() == {}


def test_a_keep_and_a_later_discard_of_the_same_file_end_with_the_file_deleted(
    settle: SettleStorageChanges, uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock, task: Task
) -> None:
    key = pending_file(storage, task)
    left(uow, clock, key, StorageAction.KEEP, age_seconds=120)
    left(uow, clock, key, StorageAction.DISCARD, age_seconds=60)

    assert settle() == StorageSettlement(settled=2)

    assert storage.objects == {}
    assert uow.storage_outbox() == {}


def test_a_failed_change_stays_with_its_attempts_and_error_and_the_next_run_retries_it(
    settle: SettleStorageChanges,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    task: Task,
    add_attachment: AddAttachment,
) -> None:
    attachment = recorded_pending(storage, task, add_attachment)
    change = left(uow, clock, attachment.storage_path, StorageAction.KEEP)
    storage.fail("mark_kept")

    assert settle() == StorageSettlement(failed=1)
    clock.advance(minutes=1)
    assert settle() == StorageSettlement(failed=1)

    stored = uow.committed_state.storage_changes[change.id]
    assert stored.attempts == 2
    assert stored.last_error == "ServiceUnavailableError: File storage is unavailable"
    assert stored.attempted_at == clock.now()
    assert storage.pending == {attachment.storage_path}

    storage.recover()
    clock.advance(minutes=1)
    assert settle() == StorageSettlement(settled=1)
    assert storage.pending == set()
    assert uow.storage_outbox() == {}


def test_a_run_tries_each_change_once_however_many_fail(
    uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock, task: Task
) -> None:
    # Batches of one: a run that took failed changes again would never end.
    settle = SettleStorageChanges(uow, lambda: storage, clock, batch_size=1)
    keys = [pending_file(storage, task) for _ in range(3)]
    for key in keys:
        left(uow, clock, key, StorageAction.DISCARD)
    storage.refuse_to_delete(keys[0], keys[2])

    assert settle() == StorageSettlement(settled=1, failed=2)

    assert {change.attempts for change in uow.committed_state.storage_changes.values()} == {1}
    assert uow.storage_outbox() == {"discard": {keys[0], keys[2]}}


def test_a_refused_key_of_a_batch_fails_alone(
    settle: SettleStorageChanges, uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock, task: Task
) -> None:
    refused, *deleted = (pending_file(storage, task) for _ in range(3))
    for key in (refused, *deleted):
        left(uow, clock, key, StorageAction.DISCARD)
    storage.refuse_to_delete(refused)

    assert settle() == StorageSettlement(settled=2, failed=1)

    assert set(storage.objects) == {refused}
    [waiting] = uow.committed_state.storage_changes.values()
    assert (waiting.storage_key, waiting.last_error) == (refused, "AccessDenied: Access Denied")


def test_a_discard_that_keeps_failing_is_left_pending_for_storage_to_expire(
    settle: SettleStorageChanges,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    task: Task,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = pending_file(storage, task)
    storage.pending.discard(key)
    left(uow, clock, key, StorageAction.DISCARD)
    storage.refuse_to_delete(key)

    outcomes = []
    for _ in range(3):
        outcomes.append(settle())
        clock.advance(minutes=1)

    assert outcomes == [StorageSettlement(failed=1), StorageSettlement(failed=1), StorageSettlement(abandoned=1)]
    assert storage.pending == {key}
    assert uow.storage_outbox() == {}
    assert any(record.levelname == "ERROR" and "expire" in record.getMessage() for record in caplog.records)


def test_a_keep_that_keeps_failing_is_never_given_up_and_says_so_loudly(
    settle: SettleStorageChanges,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    task: Task,
    add_attachment: AddAttachment,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attachment = recorded_pending(storage, task, add_attachment)
    change = left(uow, clock, attachment.storage_path, StorageAction.KEEP)
    storage.fail("mark_kept")

    for _ in range(4):
        assert settle() == StorageSettlement(failed=1)
        clock.advance(minutes=1)

    assert uow.committed_state.storage_changes[change.id].attempts == 4
    assert "mark_pending" not in [operation for operation, _ in storage.calls]
    assert any(record.levelname == "ERROR" for record in caplog.records)


def test_a_run_with_nothing_to_do_never_reaches_storage(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    def unreachable() -> FileStorage:
        raise AssertionError("storage was loaded")

    assert SettleStorageChanges(uow, unreachable, clock)() == StorageSettlement()


def test_a_backlog_larger_than_a_batch_is_settled_in_one_run(
    uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock, task: Task
) -> None:
    settle = SettleStorageChanges(uow, lambda: storage, clock, batch_size=2)
    for _ in range(5):
        left(uow, clock, pending_file(storage, task), StorageAction.DISCARD)

    assert settle() == StorageSettlement(settled=5)
    assert storage.objects == {}
    assert uow.storage_outbox() == {}


def test_the_report_carries_the_correlation_id_and_the_counts(
    settle: SettleStorageChanges, uow: FakeUnitOfWork, storage: FakeFileStorage, clock: FakeClock, task: Task
) -> None:
    left(uow, clock, pending_file(storage, task), StorageAction.DISCARD)

    report = settle.run("run-1")

    assert (report.correlation_id, report.settled, report.failed, report.abandoned) == ("run-1", 1, 0, 0)
    assert set(report.as_dict()) == {"correlation_id", "settled", "failed", "abandoned", "duration_seconds"}


def test_a_file_storage_lost_after_its_row_was_recorded_is_reported(
    settle: SettleStorageChanges,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    task: Task,
    add_attachment: AddAttachment,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attachment = add_attachment(task)
    del storage.objects[attachment.storage_path]
    storage.objects["unrelated"] = Blob(b"x", "text/plain")
    left(uow, clock, attachment.storage_path, StorageAction.KEEP)

    assert settle() == StorageSettlement(settled=1)

    assert any(record.levelname == "ERROR" and "missing" in record.getMessage() for record in caplog.records)
    assert uow.storage_outbox() == {}
