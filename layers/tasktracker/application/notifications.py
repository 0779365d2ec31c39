"""A user's in-app notifications: read, marked read one at a time or all at once. Only their own user sees them."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tasktracker.domain.entities import Notification, NotificationSettings
from tasktracker.domain.errors import NotFoundError

from .ports import Clock, NotificationPage, NotificationQuery, UnitOfWork, UnitOfWorkFactory


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

    def settings(self, user_id: UUID) -> NotificationSettings:
        with self.uow(read_only=True) as uow:
            return self._settings(uow, user_id)

    def change_settings(self, user_id: UUID, *, email: bool) -> NotificationSettings:
        with self.uow() as uow:
            uow.notification_settings.set_email(user_id, email, self.clock.now())
            changed = self._settings(uow, user_id)
            uow.commit()
        return changed

    @staticmethod
    def _settings(uow: UnitOfWork, user_id: UUID) -> NotificationSettings:
        user = uow.users.get(user_id)
        if user is None:
            raise NotFoundError("User not found", code="USER_NOT_FOUND")
        return NotificationSettings(email=uow.notification_settings.email_enabled(user_id), email_address=user.email)

    def mark_all_read(self, user_id: UUID) -> AllMarkedRead:
        with self.uow() as uow:
            marked = uow.notifications.mark_all_read(user_id, self.clock.now())
            # Usually 0; a notification a reminder pass committed since the update began is still unread.
            unread = uow.notifications.count_unread(user_id)
            uow.commit()
        return AllMarkedRead(marked=marked, unread=unread)
