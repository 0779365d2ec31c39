from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tasktracker.domain.entities import (
    TASK_WRITABLE_FIELDS,
    Notification,
    RefreshToken,
    Task,
    User,
    UserSession,
    new_id,
)
from tasktracker.domain.enums import NotificationType, TaskPriority, TaskStatus, TokenRevocation
from tasktracker.domain.errors import AuthenticationError, AuthorizationError, ValidationError

from .fakes import NOW

LATER = NOW + timedelta(minutes=5)
DUE = datetime(2025, 6, 10, 17, 0, tzinfo=UTC)


def a_task(**fields: Any) -> Task:
    values: dict[str, Any] = {"title": "Write the report", "due_date": DUE, "tags": ["work"], **fields}
    return Task.create(owner_id=new_id(), now=NOW, **values)


def test_create_normalises_title_description_and_tags() -> None:
    task = a_task(title="  Write the report ", description="   ", tags=[" Work", "work", "URGENT"])
    assert (task.title, task.description, task.tags) == ("Write the report", None, ["work", "urgent"])


def test_create_defaults_to_todo_and_medium_and_stamps_both_times() -> None:
    task = a_task()
    assert (task.status, task.priority) == (TaskStatus.TODO, TaskPriority.MEDIUM)
    assert task.created_at == task.updated_at == NOW


def test_create_rejects_a_naive_due_date() -> None:
    with pytest.raises(ValidationError):
        a_task(due_date=datetime(2025, 6, 10, 17, 0))


def test_apply_changes_reports_only_fields_that_really_changed_with_old_and_new_values() -> None:
    task = a_task()
    diff = task.apply_changes(
        {"title": "  Write the report  ", "status": "IN_PROGRESS", "priority": TaskPriority.MEDIUM, "tags": ["Work"]},
        LATER,
    )
    assert diff == {"status": {"old": TaskStatus.TODO, "new": TaskStatus.IN_PROGRESS}}
    assert task.status is TaskStatus.IN_PROGRESS


def test_apply_changes_reports_every_changed_field() -> None:
    task = a_task()
    new_due = DUE + timedelta(days=1)
    diff = task.apply_changes(
        {"title": "Ship it", "description": "soon", "priority": "HIGH", "due_date": new_due, "tags": ["a", "b"]},
        LATER,
    )
    assert diff == {
        "title": {"old": "Write the report", "new": "Ship it"},
        "description": {"old": None, "new": "soon"},
        "priority": {"old": TaskPriority.MEDIUM, "new": TaskPriority.HIGH},
        "due_date": {"old": DUE, "new": new_due},
        "tags": {"old": ["work"], "new": ["a", "b"]},
    }


def test_apply_changes_bumps_updated_at_when_something_changed() -> None:
    task = a_task()
    task.apply_changes({"title": "Another title"}, LATER)
    assert task.updated_at == LATER
    assert task.created_at == NOW


def test_apply_changes_leaves_updated_at_alone_when_nothing_changed() -> None:
    task = a_task()
    assert task.apply_changes({"title": "Write the report", "status": TaskStatus.TODO}, LATER) == {}
    assert task.updated_at == NOW


def test_a_new_task_is_version_1_and_every_real_change_counts_one_more() -> None:
    task = a_task()
    assert task.version == 1
    task.apply_changes({"title": "Another title"}, LATER)
    assert task.version == 2
    # Even within one instant: versions tell apart what timestamps cannot.
    task.apply_changes({"status": "DONE"}, LATER)
    assert (task.version, task.updated_at) == (3, LATER)
    assert task.apply_changes({"status": "DONE"}, LATER) == {}
    assert task.version == 3


def test_the_same_instant_in_another_timezone_is_not_a_change() -> None:
    task = a_task()
    same_instant = DUE.astimezone(timezone(timedelta(hours=-5)))
    assert task.apply_changes({"due_date": same_instant}, LATER) == {}


def test_apply_changes_validates_everything_before_changing_anything() -> None:
    task = a_task()
    before = replace(task)
    with pytest.raises(ValidationError):
        task.apply_changes({"status": "DONE", "title": "   "}, LATER)
    assert task == before


def test_apply_changes_refuses_a_field_that_is_not_writable() -> None:
    with pytest.raises(ValueError, match="owner_id"):
        a_task().apply_changes({"owner_id": new_id()}, LATER)


def test_full_replacement_gives_omitted_fields_their_defaults() -> None:
    task = a_task(description="old", status="BLOCKED", priority="HIGH")
    assert task.full_replacement({"title": "New"}) == {
        "title": "New",
        "description": None,
        "status": TaskStatus.TODO,
        "priority": TaskPriority.MEDIUM,
        "due_date": None,
        "tags": [],
    }


def test_full_replacement_keeps_given_values_and_covers_every_writable_field() -> None:
    values = {"title": "t", "description": "d", "status": "DONE", "priority": "LOW", "due_date": DUE, "tags": ["x"]}
    replacement = a_task().full_replacement(values)
    assert replacement == values
    assert tuple(replacement) == TASK_WRITABLE_FIELDS


def test_full_replacement_without_a_title_fails_when_applied() -> None:
    task = a_task()
    with pytest.raises(ValidationError):
        task.apply_changes(task.full_replacement({"description": "only this"}), LATER)


def test_owner_passes_ensure_owned_by() -> None:
    task = a_task()
    task.ensure_owned_by(task.owner_id)
    assert task.is_owned_by(task.owner_id)


def test_someone_else_fails_ensure_owned_by() -> None:
    with pytest.raises(AuthorizationError) as error:
        a_task().ensure_owned_by(new_id())
    assert error.value.code == "NOT_TASK_OWNER"


def test_deactivated_user_fails_ensure_active() -> None:
    user = User(new_id(), "a@example.com", "hash", None, is_active=False, created_at=NOW, updated_at=NOW)
    with pytest.raises(AuthenticationError) as error:
        user.ensure_active()
    assert error.value.code == "ACCOUNT_DISABLED"


def test_refresh_token_is_usable_until_it_expires_or_is_revoked() -> None:
    token = RefreshToken(new_id(), new_id(), new_id(), "hash", expires_at=LATER, revoked=False, created_at=NOW)
    assert token.is_usable(NOW)
    assert not token.is_usable(LATER)
    revoked = token.revoked_copy(TokenRevocation.PASSWORD_CHANGED, NOW)
    assert not revoked.is_usable(NOW)
    assert (revoked.revoked_reason, revoked.revoked_at) == (TokenRevocation.PASSWORD_CHANGED, NOW)
    assert not token.revoked


def test_only_a_rotation_within_the_grace_counts_as_one() -> None:
    token = RefreshToken(new_id(), new_id(), new_id(), "hash", expires_at=LATER, revoked=False, created_at=NOW)
    rotated = replace(token.revoked_copy(TokenRevocation.ROTATED, NOW), successor_id=new_id(), successor_sealed="00")
    grace = timedelta(seconds=20)
    assert rotated.rotated_within(NOW + grace, grace)
    assert not rotated.rotated_within(NOW + grace + timedelta(microseconds=1), grace)
    assert not replace(rotated, revoked_reason=TokenRevocation.REUSE_DETECTED).rotated_within(NOW, grace)
    assert not replace(rotated, successor_sealed=None).rotated_within(NOW, grace)
    assert not token.rotated_within(NOW, grace)


def test_a_user_session_admits_only_the_current_epoch_of_an_active_user() -> None:
    UserSession(is_active=True, session_epoch=3).admit(3)
    for session, epoch, code in (
        (UserSession(is_active=True, session_epoch=3), 2, "TOKEN_REVOKED"),
        (UserSession(is_active=True, session_epoch=3), None, "TOKEN_REVOKED"),
        (UserSession(is_active=False, session_epoch=3), 3, "ACCOUNT_DISABLED"),
    ):
        with pytest.raises(AuthenticationError) as error:
            session.admit(epoch)
        assert error.value.code == code


def test_ending_a_users_sessions_moves_the_epoch_on() -> None:
    user = User(new_id(), "a@example.com", "hash", None, is_active=True, created_at=NOW, updated_at=NOW)
    user.end_sessions()
    user.end_sessions()
    assert user.session_epoch == 2


def test_a_notification_marked_read_keeps_the_moment_it_was_first_read() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    unread = Notification(new_id(), new_id(), NotificationType.DUE_SOON, None, "Title", "Message", created)

    read = unread.marked_read(created + timedelta(minutes=1))

    assert (unread.unread, read.unread) == (True, False)
    assert read.marked_read(created + timedelta(minutes=2)).read_at == created + timedelta(minutes=1)
