"""How every use case writes its audit event: in its own transaction, stamped with the correlation id."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from tasktracker.domain.entities import AuditEvent
from tasktracker.domain.enums import AuditEventType

from .context import correlation_id
from .ports import UnitOfWork


def record(
    uow: UnitOfWork,
    event_type: AuditEventType,
    *,
    now: datetime,
    user_id: UUID | None,
    task_id: UUID | None = None,
    attachment_id: UUID | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent.record(
        event_type,
        now=now,
        user_id=user_id,
        task_id=task_id,
        attachment_id=attachment_id,
        details=json_safe(with_correlation_id(details or {})),
    )
    uow.audit.add(event)
    return event


def json_safe(value: Any) -> Any:
    """Audit details are stored as JSON: dates become ISO 8601, enums and UUIDs their string value."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID | Enum):
        return str(value.value if isinstance(value, Enum) else value)
    return value


def with_correlation_id(details: dict[str, Any]) -> dict[str, Any]:
    current = correlation_id()
    return {**details, "correlation_id": current} if current else dict(details)
