"""A user's notifications: their own only, newest first, the unread filter and count, marking read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasktracker.application.notifications import NotificationUseCases
from tasktracker.application.ports import NotificationQuery
from tasktracker.domain.entities import Notification, User, new_id
from tasktracker.domain.enums import NotificationType
from tasktracker.domain.errors import NotFoundError

from .fakes import NOW, FakeClock, FakeUnitOfWork


@pytest.fixture
def notifications(uow: FakeUnitOfWork, clock: FakeClock) -> NotificationUseCases:
    return NotificationUseCases(uow, clock)


def notify(uow: FakeUnitOfWork, user: User, title: str, minutes: int = 0, *, read: bool = False) -> Notification:
    created_at = NOW - timedelta(minutes=minutes)
    notification = Notification(
        id=new_id(),
        user_id=user.id,
        type=NotificationType.DUE_SOON,
        task_id=new_id(),
        title=title,
        message="This task is due within 24 hours.",
        created_at=created_at,
        read_at=created_at if read else None,
    )
    uow.seed(notification)
    return notification


def test_a_user_sees_only_their_own_newest_first_with_the_unread_count(
    notifications: NotificationUseCases, uow: FakeUnitOfWork, alice: User, bob: User
) -> None:
    older = notify(uow, alice, "older", minutes=10, read=True)
    newer = notify(uow, alice, "newer", minutes=1)
    notify(uow, bob, "bob's")

    page = notifications.list(NotificationQuery(user_id=alice.id))

    assert [item.id for item in page.items] == [newer.id, older.id]
    assert (page.total, page.unread, page.page, page.page_size) == (2, 1, 1, 20)


def test_the_unread_filter_leaves_out_what_was_read_and_still_counts_every_unread(
    notifications: NotificationUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    notify(uow, alice, "read", minutes=3, read=True)
    unread = [notify(uow, alice, f"unread {n}", minutes=n) for n in range(3)]

    first = notifications.list(NotificationQuery(user_id=alice.id, unread_only=True, page_size=2))
    second = notifications.list(NotificationQuery(user_id=alice.id, unread_only=True, page=2, page_size=2))

    assert [item.id for item in first.items + second.items] == [item.id for item in unread]
    assert (first.total, first.unread, second.total) == (3, 3, 3)


def test_marking_one_read_keeps_the_first_moment(
    notifications: NotificationUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User
) -> None:
    notification = notify(uow, alice, "due soon")

    marked = notifications.mark_read(alice.id, notification.id)
    clock.advance(minutes=5)
    again = notifications.mark_read(alice.id, notification.id)

    assert (marked.id, marked.read_at, again.read_at) == (notification.id, NOW, NOW)
    assert notifications.list(NotificationQuery(user_id=alice.id)).unread == 0


def test_another_users_notification_is_not_found_and_stays_unread(
    notifications: NotificationUseCases, uow: FakeUnitOfWork, alice: User, bob: User
) -> None:
    adas = notify(uow, alice, "ada's")

    with pytest.raises(NotFoundError) as refused:
        notifications.mark_read(bob.id, adas.id)
    with pytest.raises(NotFoundError):
        notifications.mark_read(alice.id, new_id())

    assert refused.value.code == "NOTIFICATION_NOT_FOUND"
    assert uow.committed_state.notifications[adas.id].read_at is None


def test_marking_all_read_marks_only_the_users_own_unread(
    notifications: NotificationUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User, bob: User
) -> None:
    earlier = notify(uow, alice, "read earlier", read=True)
    unread = [notify(uow, alice, f"unread {n}", minutes=n) for n in range(2)]
    bobs = notify(uow, bob, "bob's")
    clock.advance(minutes=1)

    done = notifications.mark_all_read(alice.id)

    assert (done.marked, done.unread) == (2, 0)
    state = uow.committed_state.notifications
    assert {state[item.id].read_at for item in unread} == {NOW + timedelta(minutes=1)}
    assert state[earlier.id].read_at == earlier.read_at
    assert state[bobs.id].read_at is None
    assert notifications.mark_all_read(alice.id).marked == 0
