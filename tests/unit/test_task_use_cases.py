from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tasktracker.application.ports import TaskQuery
from tasktracker.application.preconditions import ANY_VERSION, IfMatch, version_tag
from tasktracker.application.storage_changes import SettleStorageChanges
from tasktracker.application.tasks import TaskUseCases
from tasktracker.domain.entities import ReminderLog, Task, User, new_id
from tasktracker.domain.enums import AuditEventType, ReminderType, TaskPriority, TaskStatus
from tasktracker.domain.errors import (
    AuthorizationError,
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    ValidationError,
)

from .fakes import NOW, AddAttachment, AddTask, FakeClock, FakeFileStorage, FakeUnitOfWork

DUE = datetime(2025, 6, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
def tasks(uow: FakeUnitOfWork, clock: FakeClock, storage: FakeFileStorage) -> TaskUseCases:
    return TaskUseCases(uow, clock, storage=lambda: storage)


def stored(uow: FakeUnitOfWork, task: Task) -> Task:
    return uow.committed_state.tasks[task.id]


def log_reminder(uow: FakeUnitOfWork, task: Task) -> None:
    uow.seed(ReminderLog(new_id(), task.id, ReminderType.DUE_SOON, NOW))


# create


def test_create_stores_the_task_and_records_task_created(tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User) -> None:
    view = tasks.create(alice.id, title="  Plan the offsite ", priority=TaskPriority.HIGH, due_date=DUE)
    assert view.owner_email == "alice@example.com"
    assert stored(uow, view.task) == view.task
    assert view.task.title == "Plan the offsite"
    [event] = uow.events(AuditEventType.TASK_CREATED)
    assert (event.user_id, event.task_id) == (alice.id, view.task.id)
    assert event.details == {"title": "Plan the offsite", "status": "TODO", "priority": "HIGH"}
    assert uow.commits == 1


def test_create_normalises_the_tags(tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User) -> None:
    view = tasks.create(alice.id, title="Tagged", tags=[" Backend", "backend ", "URGENT"])
    assert stored(uow, view.task).tags == ["backend", "urgent"]


def test_create_with_invalid_input_stores_nothing(tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User) -> None:
    with pytest.raises(ValidationError):
        tasks.create(alice.id, title="Naive", due_date=datetime(2025, 6, 3, 8, 0))
    with pytest.raises(ValidationError):
        tasks.create(alice.id, title="   ")
    assert uow.committed_state.tasks == {}
    assert not uow.committed


# get


def test_anyone_can_get_a_task_with_its_attachments(
    tasks: TaskUseCases, alice: User, add_task: AddTask, add_attachment: AddAttachment
) -> None:
    task = add_task(alice)
    attachment = add_attachment(task)
    detail = tasks.get(task.id)
    assert detail.view.task == task
    assert detail.attachments == [attachment]


def test_get_of_a_missing_task_is_not_found(tasks: TaskUseCases) -> None:
    with pytest.raises(NotFoundError) as error:
        tasks.get(new_id())
    assert error.value.code == "TASK_NOT_FOUND"


# ownership


def update_title(tasks: TaskUseCases, user: User, task: Task, if_match: IfMatch | None = None) -> None:
    tasks.update(user.id, task.id, {"title": "Taken over"}, if_match)


def replace_task(tasks: TaskUseCases, user: User, task: Task, if_match: IfMatch | None = None) -> None:
    tasks.replace(user.id, task.id, {"title": "Taken over"}, if_match)


def delete_task(tasks: TaskUseCases, user: User, task: Task, if_match: IfMatch | None = None) -> None:
    tasks.delete(user.id, task.id, if_match)


@pytest.mark.parametrize("change", [update_title, replace_task, delete_task], ids=["update", "replace", "delete"])
def test_b_cannot_change_a_task_of_a(
    change: Callable[[TaskUseCases, User, Task], None],
    tasks: TaskUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    bob: User,
    add_task: AddTask,
    add_attachment: AddAttachment,
) -> None:
    task = add_task(alice, due_date=DUE)
    add_attachment(task)
    before, objects = copy.deepcopy(uow.committed_state), dict(storage.objects)
    with pytest.raises(AuthorizationError) as error:
        change(tasks, bob, task)
    assert error.value.code == "NOT_TASK_OWNER"
    assert uow.committed_state == before
    assert storage.objects == objects
    assert not uow.committed


@pytest.mark.parametrize("change", [update_title, replace_task, delete_task], ids=["update", "replace", "delete"])
def test_changing_a_missing_task_is_not_found(
    change: Callable[[TaskUseCases, User, Task], None], tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    ghost = Task.create(owner_id=alice.id, title="Never stored", now=NOW)
    with pytest.raises(NotFoundError):
        change(tasks, alice, ghost)
    assert not uow.committed


# update (PATCH) and replace (PUT)


def test_update_records_each_changed_field_with_old_and_new_values(
    tasks: TaskUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, title="Draft", tags=["work"], due_date=DUE)
    later = clock.advance(hours=1)
    new_due = DUE + timedelta(days=2)
    view = tasks.update(
        alice.id,
        task.id,
        {"title": "Final", "priority": "CRITICAL", "due_date": new_due, "tags": ["work", "q3"], "status": "TODO"},
    )
    assert view.task.updated_at == later
    assert stored(uow, task) == view.task
    [event] = uow.events(AuditEventType.TASK_UPDATED)
    assert (event.user_id, event.task_id, event.created_at) == (alice.id, task.id, later)
    assert event.details == {
        "changes": {
            "title": {"old": "Draft", "new": "Final"},
            "priority": {"old": "MEDIUM", "new": "CRITICAL"},
            "due_date": {"old": DUE.isoformat(), "new": new_due.isoformat()},
            "tags": {"old": ["work"], "new": ["work", "q3"]},
        }
    }


def test_update_that_changes_nothing_writes_no_event(
    tasks: TaskUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, title="Same", tags=["a"])
    clock.advance(hours=1)
    view = tasks.update(alice.id, task.id, {"title": " Same ", "tags": ["A"], "status": TaskStatus.TODO})
    assert view.task == task
    assert stored(uow, task).updated_at == NOW
    assert uow.events(AuditEventType.TASK_UPDATED) == []


def test_put_clears_the_optional_fields_it_omits(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, description="details", status="BLOCKED", priority="HIGH", due_date=DUE, tags=["one", "two"])
    view = tasks.replace(alice.id, task.id, {"title": "Only a title"})
    assert stored(uow, task) == view.task
    assert (view.task.title, view.task.description, view.task.due_date, view.task.tags) == (
        "Only a title",
        None,
        None,
        [],
    )
    assert (view.task.status, view.task.priority) == (TaskStatus.TODO, TaskPriority.MEDIUM)
    [event] = uow.events(AuditEventType.TASK_UPDATED)
    assert set(event.details["changes"]) == {"title", "description", "status", "priority", "due_date", "tags"}


def test_put_without_a_title_is_refused(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    with pytest.raises(ValidationError):
        tasks.replace(alice.id, task.id, {"description": "no title"})
    assert stored(uow, task) == task


def test_invalid_update_changes_nothing(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    with pytest.raises(ValidationError):
        tasks.update(alice.id, task.id, {"status": "DONE", "tags": ["x" * 51]})
    assert stored(uow, task) == task
    assert not uow.committed


def test_update_refuses_fields_that_are_not_writable(tasks: TaskUseCases, alice: User, add_task: AddTask) -> None:
    task = add_task(alice)
    with pytest.raises(ValueError, match="owner_id"):
        tasks.update(alice.id, task.id, {"owner_id": alice.id})


def test_changing_the_due_date_forgets_the_reminder_log(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, due_date=DUE)
    log_reminder(uow, task)
    tasks.update(alice.id, task.id, {"due_date": DUE + timedelta(days=1)})
    assert uow.committed_state.reminder_logs == {}


def test_clearing_the_due_date_in_a_put_forgets_the_reminder_log(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, due_date=DUE)
    log_reminder(uow, task)
    tasks.replace(alice.id, task.id, {"title": task.title})
    assert uow.committed_state.reminder_logs == {}


def test_changes_that_keep_the_due_date_keep_the_reminder_log(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, due_date=DUE)
    log_reminder(uow, task)
    tasks.update(alice.id, task.id, {"title": "Renamed", "due_date": DUE.astimezone(UTC)})
    assert list(uow.committed_state.reminder_logs) == [(task.id, ReminderType.DUE_SOON)]


# delete


def test_delete_removes_the_task_its_attachments_and_their_objects_and_records_task_deleted(
    tasks: TaskUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    add_task: AddTask,
    add_attachment: AddAttachment,
) -> None:
    task = add_task(alice)
    other_task = add_task(alice, title="Keep me")
    first, second, kept = add_attachment(task), add_attachment(task), add_attachment(other_task)
    tasks.delete(alice.id, task.id)
    assert list(uow.committed_state.tasks) == [other_task.id]
    assert list(uow.committed_state.attachments) == [kept.id]
    assert first.storage_path not in storage.objects
    assert second.storage_path not in storage.objects
    assert kept.storage_path in storage.objects
    [event] = uow.events(AuditEventType.TASK_DELETED)
    assert (event.user_id, event.task_id) == (alice.id, task.id)
    assert event.details == {"title": task.title, "attachments_removed": 2}


def test_delete_of_a_task_without_attachments_needs_no_storage(
    uow: FakeUnitOfWork, clock: FakeClock, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    TaskUseCases(uow, clock, storage=None).delete(alice.id, task.id)
    assert uow.committed_state.tasks == {}


def test_the_rows_and_their_discards_are_committed_before_storage_deletes_the_files(
    tasks: TaskUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    add_task: AddTask,
    add_attachment: AddAttachment,
) -> None:
    task = add_task(alice)
    keys = {add_attachment(task).storage_path, add_attachment(task).storage_path}
    seen: dict[str, object] = {}

    def look() -> None:
        seen["rows"] = dict(uow.committed_state.attachments)
        seen["outbox"] = uow.storage_outbox()

    storage.interleave("delete_many", look)
    tasks.delete(alice.id, task.id)

    assert seen == {"rows": {}, "outbox": {"discard": keys}}
    # One batch delete for the task's files.
    assert [operation for operation, _ in storage.calls] == ["delete_many"]
    assert uow.storage_outbox() == {}


def test_a_storage_failure_after_a_task_is_deleted_leaves_its_files_to_the_settler(
    tasks: TaskUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    clock: FakeClock,
    alice: User,
    add_task: AddTask,
    add_attachment: AddAttachment,
) -> None:
    task = add_task(alice)
    attachment = add_attachment(task)
    storage.fail("delete_many")

    tasks.delete(alice.id, task.id)

    assert uow.committed_state.tasks == {}
    assert uow.committed_state.attachments == {}
    assert attachment.storage_path in storage.objects
    assert uow.storage_outbox() == {"discard": {attachment.storage_path}}

    storage.recover()
    clock.advance(minutes=1)
    SettleStorageChanges(uow, lambda: storage, clock)()
    assert storage.objects == {}
    assert uow.storage_outbox() == {}


def test_the_keys_a_batch_delete_refuses_stay_in_the_outbox_and_the_others_leave_it(
    tasks: TaskUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    add_task: AddTask,
    add_attachment: AddAttachment,
) -> None:
    task = add_task(alice)
    refused, *_deleted = (add_attachment(task).storage_path for _ in range(3))
    storage.refuse_to_delete(refused)

    tasks.delete(alice.id, task.id)

    assert set(storage.objects) == {refused}
    assert uow.storage_outbox() == {"discard": {refused}}


def test_a_task_that_cannot_be_deleted_leaves_storage_and_the_outbox_alone(
    tasks: TaskUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    bob: User,
    add_task: AddTask,
    add_attachment: AddAttachment,
) -> None:
    task = add_task(alice)
    add_attachment(task)
    before = copy.deepcopy(uow.committed_state)
    with pytest.raises(AuthorizationError):
        tasks.delete(bob.id, task.id)
    assert uow.committed_state == before
    assert storage.calls == []


# optimistic concurrency: If-Match


def based_on(*tasks: Task) -> IfMatch:
    return IfMatch(tags=frozenset(version_tag(task) for task in tasks))


def test_a_change_based_on_the_current_version_is_applied_and_counts_the_version_up(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    view = tasks.update(alice.id, task.id, {"title": "Patched"}, based_on(task))
    assert (view.task.title, view.task.version) == ("Patched", 2)
    view = tasks.replace(alice.id, task.id, {"title": "Put"}, based_on(view.task))
    assert (stored(uow, task).title, stored(uow, task).version) == ("Put", 3)
    assert version_tag(view.task) != version_tag(task)


@pytest.mark.parametrize("change", [update_title, replace_task, delete_task], ids=["update", "replace", "delete"])
def test_a_change_based_on_an_older_version_is_refused_and_writes_nothing(
    change: Callable[..., None],
    tasks: TaskUseCases,
    uow: FakeUnitOfWork,
    storage: FakeFileStorage,
    alice: User,
    add_task: AddTask,
    add_attachment: AddAttachment,
) -> None:
    loaded = add_task(alice, due_date=DUE)
    add_attachment(loaded)
    log_reminder(uow, loaded)
    tasks.update(alice.id, loaded.id, {"description": "changed in another tab"})
    before, objects, commits = copy.deepcopy(uow.committed_state), dict(storage.objects), uow.commits
    with pytest.raises(PreconditionFailedError) as error:
        change(tasks, alice, loaded, based_on(loaded))
    assert error.value.code == "PRECONDITION_FAILED"
    assert uow.committed_state == before
    assert storage.objects == objects
    assert uow.commits == commits


def test_any_of_several_tags_and_the_star_match_the_current_version(
    tasks: TaskUseCases, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    several = IfMatch(tags=frozenset({"an-old-one", version_tag(task), "another"}))
    changed = tasks.update(alice.id, task.id, {"status": "DONE"}, several)
    assert tasks.update(alice.id, task.id, {"status": "BLOCKED"}, ANY_VERSION).task.version == changed.task.version + 1
    tasks.delete(alice.id, task.id, ANY_VERSION)


def test_an_if_match_that_names_no_strong_tag_is_never_met(tasks: TaskUseCases, alice: User, add_task: AddTask) -> None:
    task = add_task(alice)
    with pytest.raises(PreconditionFailedError):
        tasks.update(alice.id, task.id, {"status": "DONE"}, IfMatch())


def test_without_a_precondition_the_last_change_wins(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    tasks.update(alice.id, task.id, {"title": "First"})
    tasks.update(alice.id, task.id, {"title": "Second"}, None)
    assert (stored(uow, task).title, stored(uow, task).version) == ("Second", 3)


def test_a_change_that_changes_nothing_keeps_the_version(
    tasks: TaskUseCases, uow: FakeUnitOfWork, alice: User, add_task: AddTask
) -> None:
    task = add_task(alice, title="Same")
    view = tasks.update(alice.id, task.id, {"title": "Same"}, based_on(task))
    assert view.task.version == stored(uow, task).version == 1


def test_not_found_and_not_owner_come_before_the_precondition(
    tasks: TaskUseCases, alice: User, bob: User, add_task: AddTask
) -> None:
    task = add_task(alice)
    stale = IfMatch(tags=frozenset({"stale"}))
    with pytest.raises(AuthorizationError):
        tasks.update(bob.id, task.id, {"title": "x"}, stale)
    with pytest.raises(NotFoundError):
        tasks.delete(alice.id, new_id(), stale)


def test_a_save_over_a_version_that_moved_on_is_refused(uow: FakeUnitOfWork, alice: User, add_task: AddTask) -> None:
    """The repository's second line: a save that did not hold the row lock cannot overwrite a newer version."""
    task = add_task(alice)
    with uow:
        first, second = uow.tasks.get_for_update(task.id), uow.tasks.get_for_update(task.id)
        assert first is not None and second is not None
        first.apply_changes({"title": "First"}, NOW)
        uow.tasks.save(first)
        second.apply_changes({"title": "Second"}, NOW)
        with pytest.raises(ConflictError):
            uow.tasks.save(second)


# search


def test_search_returns_the_page_the_repository_finds(tasks: TaskUseCases, alice: User, add_task: AddTask) -> None:
    open_task = add_task(alice, title="Open")
    add_task(alice, title="Finished", status="DONE")
    page = tasks.search(TaskQuery(statuses=(TaskStatus.TODO,), page=1, page_size=10))
    assert [view.task.id for view in page.items] == [open_task.id]
    assert (page.page, page.page_size, page.total) == (1, 10, 1)


def test_search_accepts_the_largest_page_size(tasks: TaskUseCases) -> None:
    assert tasks.search(TaskQuery(page_size=100)).page_size == 100


def test_search_refuses_a_due_range_that_ends_before_it_starts(tasks: TaskUseCases) -> None:
    with pytest.raises(ValidationError) as error:
        tasks.search(TaskQuery(due_from=DUE, due_to=DUE - timedelta(seconds=1)))
    assert list(error.value.details["fields"]) == ["due_to"]


def test_search_refuses_a_naive_due_bound(tasks: TaskUseCases) -> None:
    with pytest.raises(ValidationError) as error:
        tasks.search(TaskQuery(due_from=DUE.replace(tzinfo=None)))
    assert list(error.value.details["fields"]) == ["due_from"]
