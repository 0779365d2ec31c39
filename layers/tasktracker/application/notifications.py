"""A user's in-app notifications: read, marked read one at a time or all at once. Only their own user sees them."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tasktracker.domain.entities import Notification
from tasktracker.domain.errors import NotFoundError

from .ports import Clock, NotificationPage, NotificationQuery, UnitOfWorkFactory


@dataclass(frozen=True)
class AllMarkedRead:
    """What marking every notification read did: how many it marked, and how many are unread now."""

    marked: int
    unread: int


@dataclass
class NotificationUseCases:
    uow: UnitOfWorkFactory
    clock: Clock

    def list(self, query: NotificationQuery) -> NotificationPage:
        with self.uow(read_only=True) as uow:
            return uow.notifications.list_for_user(query)

    def mark_read(self, user_id: UUID, notification_id: UUID) -> Notification:
        """Another user's notification is not found, as a missing one is: its existence is not theirs to learn."""
        with self.uow() as uow:
            notification = uow.notifications.mark_read(user_id, notification_id, self.clock.now())
            if notification is None:
                raise NotFoundError("Notification not found", code="NOTIFICATION_NOT_FOUND")
            uow.commit()
        return notification

    def mark_all_read(self, user_id: UUID) -> AllMarkedRead:
        with self.uow() as uow:
            marked = uow.notifications.mark_all_read(user_id, self.clock.now())
            # Usually 0; a notification a reminder pass committed since the update began is still unread.
            unread = uow.notifications.count_unread(user_id)
            uow.commit()
        return AllMarkedRead(marked=marked, unread=unread)
