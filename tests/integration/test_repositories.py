"""Repositories and the unit of work against real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tasktracker.application.audit_trail import json_safe
from tasktracker.application.ports import (
    AuditQuery,
    DuePosition,
    NotificationQuery,
    ReminderAudit,
    ReminderNotice,
    SortKey,
    StorageAction,
    StorageChange,
    TaskQuery,
    UnitOfWorkFactory,
)
from tasktracker.domain.entities import Attachment, AuditEvent, RefreshToken, Task, User, UserSession, new_id
from tasktracker.domain.enums import AuditEventType, NotificationType, TaskPriority, TaskStatus, TokenRevocation
from tasktracker.domain.errors import ConflictError, ServiceUnavailableError

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=5)


def make_user(uow: UnitOfWorkFactory, email: str) -> User:
    user = User(new_id(), email, "hash", None, True, NOW, NOW)
    with uow() as tx:
        tx.users.add(user)
        tx.commit()
    return user


def make_task(uow: UnitOfWorkFactory, owner: User, title: str, **fields: object) -> Task:
    task = Task.create(owner_id=owner.id, title=title, now=fields.pop("now", NOW), **fields)  # type: ignore[arg-type]
    with uow() as tx:
        tx.tasks.add(task)
        tx.commit()
    return task


def test_users_are_found_by_email_in_any_case_and_emails_are_unique(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    with uow() as tx:
        found = tx.users.get_by_email("ADA@example.com")
    assert found is not None and found.id == ada.id
    with pytest.raises(ConflictError) as raised:
        make_user(uow, "ada@example.com")
    assert raised.value.code == "EMAIL_TAKEN"


def test_without_commit_nothing_is_kept(uow: UnitOfWorkFactory) -> None:
    user = User(new_id(), "ghost@example.com", "hash", None, True, NOW, NOW)
    with uow() as tx:
        tx.users.add(user)
    with uow() as tx:
        assert tx.users.get(user.id) is None


def test_tasks_keep_their_tags_in_order_and_tags_are_shared(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    first = make_task(uow, ada, "Ship it", tags=["Urgent", "backend"])
    second = make_task(uow, ada, "Test it", tags=["backend"])
    with uow() as tx:
        assert tx.tasks.get(first.id).tags == ["urgent", "backend"]  # type: ignore[union-attr]
        view = tx.tasks.get_view(second.id)
    assert view is not None and view.owner_email == "ada@example.com" and view.task.tags == ["backend"]


def test_tags_keep_the_order_given_whether_new_or_known(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    make_task(uow, ada, "Known", tags=["m", "b"])
    task = make_task(uow, ada, "Many", tags=["z", "b", "y", "a", "m"])
    with uow() as tx:
        assert tx.tasks.get(task.id).tags == ["z", "b", "y", "a", "m"]  # type: ignore[union-attr]


def test_two_tasks_saved_at_once_with_the_same_new_tag_both_get_it(uow: UnitOfWorkFactory) -> None:
    """The second waits on the tag's unique name until the first commits, then finds the tag the first made."""
    ada = make_user(uow, "ada@example.com")
    first = Task.create(owner_id=ada.id, title="First", tags=["fresh"], now=NOW)
    second = Task.create(owner_id=ada.id, title="Second", tags=["other", "fresh"], now=NOW)
    saved = threading.Event()

    def save_second() -> None:
        with uow() as other:
            other.tasks.add(second)
            other.commit()
        saved.set()

    with uow() as tx:
        tx.tasks.add(first)
        waiting = threading.Thread(target=save_second)
        waiting.start()
        assert not saved.wait(0.5), "the second should wait for the first's uncommitted tag"
        tx.commit()
    waiting.join(10)
    assert saved.is_set()
    with uow() as tx:
        assert tx.tasks.get(first.id).tags == ["fresh"]  # type: ignore[union-attr]
        assert tx.tasks.get(second.id).tags == ["other", "fresh"]  # type: ignore[union-attr]


def test_saving_a_task_replaces_its_fields_and_tags(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    task = make_task(uow, ada, "Draft", tags=["a", "b"])
    with uow() as tx:
        loaded = tx.tasks.get_for_update(task.id)
        assert loaded is not None
        diff = loaded.apply_changes({"title": "Final", "tags": ["b", "c"], "status": TaskStatus.DONE}, NOW)
        tx.tasks.save(loaded)
        tx.commit()
    assert set(diff) == {"title", "tags", "status"}
    with uow() as tx:
        saved = tx.tasks.get(task.id)
    assert saved is not None and (saved.title, saved.tags, saved.status) == ("Final", ["b", "c"], TaskStatus.DONE)


def test_a_saved_task_keeps_its_version_and_a_save_never_overwrites_a_newer_one(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    task = make_task(uow, ada, "Draft")
    with uow() as tx:
        assert tx.tasks.get(task.id).version == 1  # type: ignore[union-attr]
        read_earlier = tx.tasks.get(task.id)  # without the lock, as no use case does
    with uow() as tx:
        loaded = tx.tasks.get_for_update(task.id)
        assert loaded is not None
        loaded.apply_changes({"title": "First"}, NOW)
        tx.tasks.save(loaded)
        tx.commit()
    assert read_earlier is not None
    read_earlier.apply_changes({"title": "Second"}, NOW)
    with uow() as tx, pytest.raises(ConflictError) as refused:
        tx.tasks.save(read_earlier)
    assert refused.value.code == "TASK_CHANGED"
    with uow() as tx:
        stored = tx.tasks.get(task.id)
        view = tx.tasks.get_view(task.id)
    assert stored is not None and (stored.title, stored.version) == ("First", 2)
    assert view is not None and view.task.version == 2


def test_search_filters_sorts_and_pages(uow: UnitOfWorkFactory) -> None:
    ada, bob = make_user(uow, "ada@example.com"), make_user(uow, "bob@example.com")
    make_task(uow, ada, "Write the Report", priority=TaskPriority.LOW, due_date=NOW + timedelta(days=3), tags=["docs"])
    make_task(
        uow,
        ada,
        "Fix login bug",
        description="report from users",
        priority=TaskPriority.CRITICAL,
        due_date=NOW + timedelta(days=1),
        tags=["backend"],
    )
    make_task(uow, bob, "Plan sprint", status=TaskStatus.DONE, priority=TaskPriority.HIGH)
    make_task(uow, bob, "100% done_ish", priority=TaskPriority.MEDIUM)

    def titles(**query: object) -> list[str]:
        with uow() as tx:
            return [view.task.title for view in tx.tasks.search(TaskQuery(**query)).items]  # type: ignore[arg-type]

    assert sorted(titles(search="REPORT")) == ["Fix login bug", "Write the Report"]
    assert titles(search="100%") == ["100% done_ish"]
    assert titles(search="_") == ["100% done_ish"]
    assert titles(statuses=(TaskStatus.DONE,)) == ["Plan sprint"]
    assert titles(tags=("backend", "docs"), sort=(SortKey("due_date", False),)) == ["Fix login bug", "Write the Report"]
    assert titles(owner_id=bob.id, sort=(SortKey("title", False),)) == ["100% done_ish", "Plan sprint"]
    assert titles(sort=(SortKey("priority", True),)) == [
        "Fix login bug",
        "Plan sprint",
        "100% done_ish",
        "Write the Report",
    ]
    assert titles(due_from=NOW + timedelta(days=2)) == ["Write the Report"]
    with uow() as tx:
        page = tx.tasks.search(TaskQuery(page=2, page_size=3, sort=(SortKey("title", False),)))
    assert page.total == 4 and [view.task.title for view in page.items] == ["Write the Report"]
    assert all(view.owner_email for view in page.items)


def test_refresh_tokens_revoke_by_family_and_user(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    family = new_id()
    tokens = [
        RefreshToken(new_id(), ada.id, family, f"hash-{n}", NOW + timedelta(days=1), False, NOW) for n in range(3)
    ]
    with uow() as tx:
        for token in tokens:
            tx.refresh_tokens.add(token)
        tx.commit()
    with uow() as tx:
        assert tx.refresh_tokens.revoke_family(family, TokenRevocation.REUSE_DETECTED, NOW) == 3
        tx.commit()
    with uow() as tx:
        found = tx.refresh_tokens.get_by_hash_for_update("hash-1")
        # A token keeps the first reason it stopped for.
        assert tx.refresh_tokens.revoke_all_for_user(ada.id, TokenRevocation.PASSWORD_CHANGED, LATER) == 0
    assert found is not None and found.revoked
    assert (found.revoked_reason, found.revoked_at) == (TokenRevocation.REUSE_DETECTED, NOW)


def test_a_rotation_keeps_one_sealed_successor_per_family(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    family = new_id()
    chain = [
        RefreshToken(new_id(), ada.id, family, f"hash-{n}", NOW + timedelta(days=1), False, NOW, session_epoch=2)
        for n in range(3)
    ]
    with uow() as tx:
        for token in chain:
            tx.refresh_tokens.add(token)
        tx.refresh_tokens.rotate(chain[0], chain[1].id, "aa" * 32, NOW)
        tx.refresh_tokens.rotate(chain[1], chain[2].id, "bb" * 32, LATER)
        tx.commit()
    with uow() as tx:
        first, second, third = (tx.refresh_tokens.get(token.id) for token in chain)
    assert first is not None and second is not None and third is not None
    assert (first.revoked_reason, first.successor_id, first.successor_sealed) == (
        TokenRevocation.ROTATED,
        chain[1].id,
        None,
    )
    assert (second.revoked_at, second.successor_id, second.successor_sealed) == (LATER, chain[2].id, "bb" * 32)
    assert (third.revoked, third.session_epoch) == (False, 2)
    with uow() as tx:
        tx.refresh_tokens.revoke_family(family, TokenRevocation.REUSE_DETECTED, LATER)
        tx.commit()
    with uow() as tx:
        assert all(tx.refresh_tokens.get(token.id).successor_sealed is None for token in chain)  # type: ignore[union-attr]


def test_a_deactivation_ends_the_users_sessions_however_it_is_made(uow: UnitOfWorkFactory, clean_db: str) -> None:
    ada = make_user(uow, "ada@example.com")
    with uow() as tx:
        assert tx.users.get_session(ada.id) == UserSession(is_active=True, session_epoch=0)
    # Deactivated by hand, as an operator would: the trigger moves the epoch on.
    with psycopg.connect(clean_db, autocommit=True) as connection:
        connection.execute("UPDATE users SET is_active = false WHERE id = %s", (ada.id,))
        connection.execute("UPDATE users SET is_active = true WHERE id = %s", (ada.id,))
        connection.execute("UPDATE users SET full_name = 'Ada' WHERE id = %s", (ada.id,))
    with uow() as tx:
        assert tx.users.get_session(ada.id) == UserSession(is_active=True, session_epoch=1)
        user = tx.users.get_for_update(ada.id)
        assert user is not None
        # Deactivated by code that already ended the sessions: not bumped twice.
        user.is_active = False
        user.end_sessions()
        tx.users.save(user)
        tx.commit()
    with uow() as tx:
        assert tx.users.get_session(ada.id) == UserSession(is_active=False, session_epoch=2)
        assert tx.users.get_session(new_id()) is None


def test_private_audit_events_are_only_visible_to_their_user(uow: UnitOfWorkFactory) -> None:
    ada, bob = make_user(uow, "ada@example.com"), make_user(uow, "bob@example.com")
    with uow() as tx:
        tx.audit.add(AuditEvent.record(AuditEventType.LOGIN, now=NOW, user_id=ada.id))
        tx.audit.add(AuditEvent.record(AuditEventType.TASK_CREATED, now=NOW, user_id=ada.id, task_id=new_id()))
        tx.commit()
    with uow() as tx:
        seen_by_bob = tx.audit.search(AuditQuery(viewer_id=bob.id))
        seen_by_ada = tx.audit.search(AuditQuery(viewer_id=ada.id))
    assert [event.event_type for event in seen_by_bob.items] == [AuditEventType.TASK_CREATED]
    assert seen_by_ada.total == 2


def test_reminder_claims_are_unique_per_task(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    due = make_task(uow, ada, "Due soon", due_date=NOW + timedelta(hours=2))
    make_task(uow, ada, "Done already", status=TaskStatus.DONE, due_date=NOW + timedelta(hours=2))
    make_task(uow, ada, "Later", due_date=NOW + timedelta(days=3))
    audit = ReminderAudit(
        details={"system": True, "correlation_id": "run-1"},
        task_fields=("due_date", "title", "owner_id"),
        created_at=NOW,
    )
    notice = ReminderNotice(type=NotificationType.DUE_SOON, message="Due within 24 hours.", created_at=NOW)
    with uow() as tx:
        batch = tx.reminders.claim_due_soon(NOW, NOW + timedelta(hours=24), NOW, 100, audit, notice)
        tx.commit()
    assert [item.task_id for item in batch.claimed] == [due.id]
    assert (batch.examined, batch.last, batch.notified) == (1, DuePosition(NOW + timedelta(hours=2), due.id), 1)
    with uow() as tx:
        again = tx.reminders.claim_due_soon(NOW, NOW + timedelta(hours=24), NOW, 100, audit, notice)
        assert (again.claimed, again.notified) == ([], 0)
        [event] = tx.audit.search(AuditQuery(viewer_id=ada.id, event_types=(AuditEventType.REMINDER_SENT,))).items
        notifications = tx.notifications.list_for_user(NotificationQuery(user_id=ada.id))
    # The owner's notification, titled with the task's title, unread, written with the claim.
    [notification] = notifications.items
    assert (notifications.total, notifications.unread) == (1, 1)
    assert (notification.user_id, notification.type, notification.task_id) == (
        ada.id,
        NotificationType.DUE_SOON,
        due.id,
    )
    assert (notification.title, notification.message) == ("Due soon", "Due within 24 hours.")
    assert (notification.created_at, notification.read_at) == (NOW, None)
    # The same details the application would have written itself, JSON-safe: ISO dates, ids as strings.
    assert (event.task_id, event.user_id, event.created_at) == (due.id, None, NOW)
    assert event.details == json_safe(
        {"system": True, "correlation_id": "run-1", "due_date": due.due_date, "title": "Due soon", "owner_id": ada.id}
    )


def test_a_read_only_unit_of_work_reads_outside_a_transaction_and_refuses_to_commit(uow: UnitOfWorkFactory) -> None:
    # In a transaction now() is when it began; a statement on its own is its own transaction.
    in_transaction = "SELECT now() <> statement_timestamp()"
    ada = make_user(uow, "ada@example.com")
    with uow(read_only=True) as tx:
        assert tx.users.get(ada.id) == ada
        assert tx.session.connection().exec_driver_sql(in_transaction).scalar() is False
        with pytest.raises(RuntimeError):
            tx.commit()
    with uow() as tx:
        assert tx.users.get(ada.id) == ada
        assert tx.session.connection().exec_driver_sql(in_transaction).scalar() is True


def test_every_reminder_batch_is_planned_for_its_own_window(uow: UnitOfWorkFactory) -> None:
    """psycopg prepares a statement it runs often; a generic plan of the claim, made without the window's
    dates, could probe reminder_logs row by row. Each batch must be planned with its values."""
    ada = make_user(uow, "ada@example.com")
    for hour in range(1, 13):
        make_task(uow, ada, f"Due in {hour} h", due_date=NOW + timedelta(hours=hour))
    audit = ReminderAudit(details={}, task_fields=(), created_at=NOW)
    notice = ReminderNotice(type=NotificationType.DUE_SOON, message="Due soon.", created_at=NOW)
    with uow() as tx:
        after = None
        for _ in range(12):
            after = tx.reminders.claim_due_soon(NOW, NOW + timedelta(hours=24), NOW, 1, audit, notice, after=after).last
        [[custom, generic]] = tx.session.connection().exec_driver_sql(
            "SELECT coalesce(sum(custom_plans), 0), coalesce(sum(generic_plans), 0) FROM pg_prepared_statements"
            " WHERE statement LIKE '%%INSERT INTO reminder_logs%%'"
        )
    assert custom >= 6, "the claim should have been prepared by now"
    assert generic == 0


def _changes(*keys_and_actions: tuple[str, StorageAction], created_at: datetime = NOW) -> list[StorageChange]:
    return [StorageChange(new_id(), key, action, created_at) for key, action in keys_and_actions]


def test_storage_changes_are_claimed_oldest_first_once_past_the_grace(uow: UnitOfWorkFactory) -> None:
    old = _changes(("tasks/a/1", StorageAction.KEEP), created_at=NOW - timedelta(minutes=2))
    older = _changes(("tasks/a/2", StorageAction.DISCARD), created_at=NOW - timedelta(minutes=5))
    young = _changes(("tasks/a/3", StorageAction.KEEP), created_at=NOW - timedelta(seconds=5))
    with uow() as tx:
        tx.storage_changes.add([*old, *older, *young])
        tx.commit()
    with uow() as tx:
        claimed = tx.storage_changes.claim(NOW - timedelta(seconds=30), NOW, 10)
    assert [change.storage_key for change in claimed] == ["tasks/a/2", "tasks/a/1"]
    assert claimed[0] == older[0]


def test_a_failed_storage_change_counts_its_attempts_and_is_not_claimed_again_by_the_same_run(
    uow: UnitOfWorkFactory,
) -> None:
    [change] = _changes(("tasks/b/1", StorageAction.DISCARD), created_at=NOW - timedelta(minutes=1))
    with uow() as tx:
        tx.storage_changes.add([change])
        tx.commit()
    for attempt in (1, 2):
        run_started = NOW + timedelta(minutes=attempt)
        with uow() as tx:
            [claimed] = tx.storage_changes.claim(run_started, run_started, 10)
            tx.storage_changes.record_failure(claimed.id, f"AccessDenied #{attempt}", run_started)
            tx.commit()
        with uow() as tx:
            assert tx.storage_changes.claim(run_started, run_started, 10) == []
    with uow() as tx:
        [claimed] = tx.storage_changes.claim(NOW + timedelta(minutes=3), NOW + timedelta(minutes=3), 10)
    assert (claimed.attempts, claimed.last_error, claimed.attempted_at) == (
        2,
        "AccessDenied #2",
        NOW + timedelta(minutes=2),
    )


def test_concurrent_settlers_skip_each_others_storage_changes_and_removal_never_waits(uow: UnitOfWorkFactory) -> None:
    changes = _changes(*((f"tasks/c/{n}", StorageAction.DISCARD) for n in range(4)), created_at=NOW)
    with uow() as tx:
        tx.storage_changes.add(changes)
        tx.commit()
    with uow() as first, uow() as second:
        taken = first.storage_changes.claim(NOW, NOW, 2)
        # SKIP LOCKED: the second settler takes the other two instead of waiting for the first.
        rest = second.storage_changes.claim(NOW, NOW, 10)
        assert {change.id for change in taken} | {change.id for change in rest} == {change.id for change in changes}
        assert not {change.id for change in taken} & {change.id for change in rest}
        # A request removing its change while a settler holds it leaves it to the settler, without waiting.
        second.session.connection().exec_driver_sql("SET LOCAL lock_timeout = '1s'")
        second.storage_changes.remove([change.id for change in changes])
        second.commit()
        first.storage_changes.remove([change.id for change in taken])
        first.commit()
    with uow() as tx:
        assert tx.storage_changes.claim(NOW, NOW, 10) == []


def test_recorded_keys_are_the_keys_an_attachment_row_names(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    task = make_task(uow, ada, "With a file")
    attachment = Attachment(new_id(), task.id, "a.txt", "text/plain", 1, f"tasks/{task.id}/1", NOW)
    with uow() as tx:
        tx.attachments.add(attachment)
        tx.commit()
    with uow() as tx:
        assert tx.attachments.recorded_keys({attachment.storage_path, f"tasks/{task.id}/2"}) == {
            attachment.storage_path
        }
        assert tx.attachments.recorded_keys(set()) == set()


def test_a_row_found_recorded_cannot_be_deleted_until_the_settler_is_done(uow: UnitOfWorkFactory) -> None:
    ada = make_user(uow, "ada@example.com")
    task = make_task(uow, ada, "With a file")
    attachment = Attachment(new_id(), task.id, "a.txt", "text/plain", 1, f"tasks/{task.id}/1", NOW)
    with uow() as tx:
        tx.attachments.add(attachment)
        tx.commit()
    with uow() as settler:
        assert settler.attachments.recorded_keys([attachment.storage_path]) == {attachment.storage_path}
        # A delete of the row waits for the settler (here: gives up waiting after 200 ms).
        with pytest.raises(ServiceUnavailableError), uow() as request:
            request.session.connection().exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
            request.attachments.delete(attachment)
    with uow() as request:
        request.attachments.delete(attachment)
        request.commit()
