"""Notifications: each user's own, newest first. Every statement names the user, so no one reaches another's."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tasktracker.application.ports import NotificationPage, NotificationQuery
from tasktracker.domain.entities import Notification
from tasktracker.domain.enums import NotificationType

from .base import SqlRepository, page_of
from .models import NotificationRow, NotificationSettingsRow


def _entity(row: Any) -> Notification:
    return Notification(
        id=row.id,
        user_id=row.user_id,
        type=NotificationType(row.type),
        task_id=row.task_id,
        title=row.title,
        message=row.message,
        created_at=row.created_at,
        read_at=row.read_at,
    )


class SqlNotificationRepository(SqlRepository):
    def add(self, notification: Notification) -> None:
        self.session.execute(
            insert(NotificationRow).values(
                id=notification.id,
                user_id=notification.user_id,
                type=notification.type.value,
                task_id=notification.task_id,
                title=notification.title,
                message=notification.message,
                created_at=notification.created_at,
                read_at=notification.read_at,
            )
        )

    def list_for_user(self, query: NotificationQuery) -> NotificationPage:
        conditions: list[ColumnElement[bool]] = [NotificationRow.user_id == query.user_id]
        if query.unread_only:
            conditions.append(NotificationRow.read_at.is_(None))
        rows = self.session.scalars(
            page_of(
                select(NotificationRow)
                .where(*conditions)
                .order_by(NotificationRow.created_at.desc(), NotificationRow.id.desc()),
                query.page,
                query.page_size,
            )
        ).all()
        # The total under the filter and the unread count, in one statement (both read the user's index part).
        total, unread = self.session.execute(
            select(
                func.count().filter(*conditions),
                func.count().filter(NotificationRow.read_at.is_(None)),
            ).where(NotificationRow.user_id == query.user_id)
        ).one()
        return NotificationPage(
            items=[_entity(row) for row in rows],
            page=query.page,
            page_size=query.page_size,
            total=int(total),
            unread=int(unread),
        )

    def mark_read(self, user_id: UUID, notification_id: UUID, at: datetime) -> Notification | None:
        row = self.session.execute(
            update(NotificationRow)
            .where(NotificationRow.id == notification_id, NotificationRow.user_id == user_id)
            .values(read_at=func.coalesce(NotificationRow.read_at, at))
            .returning(*NotificationRow.__table__.columns)
        ).one_or_none()
        return None if row is None else _entity(row)

    def mark_all_read(self, user_id: UUID, at: datetime) -> int:
        result = self.session.execute(
            update(NotificationRow)
            .where(NotificationRow.user_id == user_id, NotificationRow.read_at.is_(None))
            .values(read_at=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def count_unread(self, user_id: UUID) -> int:
        count = self.session.execute(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.user_id == user_id, NotificationRow.read_at.is_(None))
        ).scalar_one()
        return int(count)


class SqlNotificationSettingsRepository(SqlRepository):
    def email_enabled(self, user_id: UUID) -> bool:
        enabled = self.session.execute(
            select(NotificationSettingsRow.email).where(NotificationSettingsRow.user_id == user_id)
        ).scalar_one_or_none()
        return True if enabled is None else bool(enabled)

    def set_email(self, user_id: UUID, enabled: bool, at: datetime) -> None:
        self.session.execute(
            pg_insert(NotificationSettingsRow)
            .values(user_id=user_id, email=enabled, updated_at=at)
            .on_conflict_do_update(index_elements=["user_id"], set_={"email": enabled, "updated_at": at})
        )
