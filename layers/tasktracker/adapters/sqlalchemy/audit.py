"""The audit trail: events appended, and searched with private events shown only to their own user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select

from tasktracker.application.ports import AuditQuery, Page
from tasktracker.domain.entities import AuditEvent
from tasktracker.domain.enums import PRIVATE_AUDIT_EVENT_TYPES, AuditEventType

from .base import SqlRepository, page_of
from .models import AUDIT_EVENTS, AuditEventRow


def _audit_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "user_id": event.user_id,
        "event_type": event.event_type.value,
        "task_id": event.task_id,
        "attachment_id": event.attachment_id,
        "details": event.details,
        "created_at": event.created_at,
    }


# Made once: an INSERT's statement and cache key are the larger part of appending one event.
_APPEND = insert(AUDIT_EVENTS)


class SqlAuditLog(SqlRepository):
    def add(self, event: AuditEvent) -> None:
        self.connection().execute(_APPEND, _audit_values(event))

    def search(self, query: AuditQuery) -> Page[AuditEvent]:
        private = [event_type.value for event_type in PRIVATE_AUDIT_EVENT_TYPES]
        conditions: list[ColumnElement[bool]] = [
            or_(AuditEventRow.event_type.not_in(private), AuditEventRow.user_id == query.viewer_id)
        ]
        if query.user_id is not None:
            conditions.append(AuditEventRow.user_id == query.user_id)
        if query.task_id is not None:
            conditions.append(AuditEventRow.task_id == query.task_id)
        if query.event_types:
            conditions.append(AuditEventRow.event_type.in_([event_type.value for event_type in query.event_types]))
        if query.created_from is not None:
            conditions.append(AuditEventRow.created_at >= query.created_from)
        if query.created_to is not None:
            conditions.append(AuditEventRow.created_at <= query.created_to)
        rows = self.session.scalars(
            page_of(
                select(AuditEventRow)
                .where(and_(*conditions))
                .order_by(AuditEventRow.created_at.desc(), AuditEventRow.id.desc()),
                query.page,
                query.page_size,
            )
        ).all()
        total = self.session.execute(select(func.count()).select_from(AuditEventRow).where(*conditions)).scalar_one()
        items = [
            AuditEvent(
                id=row.id,
                event_type=AuditEventType(row.event_type),
                user_id=row.user_id,
                task_id=row.task_id,
                attachment_id=row.attachment_id,
                details=row.details,
                created_at=row.created_at,
            )
            for row in rows
        ]
        return Page(items=items, page=query.page, page_size=query.page_size, total=int(total))
