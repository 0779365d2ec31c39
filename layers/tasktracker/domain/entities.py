"""Entities of the spec as plain dataclasses; persistence maps them, it does not define them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from . import rules
from .enums import AuditEventType, ReminderType, TaskPriority, TaskStatus
from .errors import AuthenticationError, AuthorizationError


def new_id() -> UUID:
    return uuid.uuid4()


@dataclass
class User:
    id: UUID
    email: str
    password_hash: str
    full_name: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime

    def ensure_active(self) -> None:
        if not self.is_active:
            raise AuthenticationError("This account is deactivated", code="ACCOUNT_DISABLED")


@dataclass(frozen=True)
class Tag:
    id: UUID
    name: str


# The fields a task's owner may write, in the order a full replace sets them.
TASK_WRITABLE_FIELDS = ("title", "description", "status", "priority", "due_date", "tags")


@dataclass
class Task:
    id: UUID
    owner_id: UUID
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_date: datetime | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    # Counts the task's states: 1 when created, one more with every change that changes something. Two
    # changes can share an updated_at (its precision is finite, clocks step back); they never share a version.
    version: int = 1

    @classmethod
    def create(
        cls,
        *,
        owner_id: UUID,
        title: str,
        now: datetime,
        description: str | None = None,
        status: TaskStatus = TaskStatus.TODO,
        priority: TaskPriority = TaskPriority.MEDIUM,
        due_date: datetime | None = None,
        tags: list[str] | None = None,
    ) -> Task:
        return cls(
            id=new_id(),
            owner_id=owner_id,
            title=rules.normalize_title(title),
            description=rules.normalize_description(description),
            status=rules.parse_status(status),
            priority=rules.parse_priority(priority),
            due_date=rules.validate_due_date(due_date),
            tags=rules.normalize_tags(tags),
            created_at=now,
            updated_at=now,
        )

    def is_owned_by(self, user_id: UUID) -> bool:
        return self.owner_id == user_id

    def ensure_owned_by(self, user_id: UUID) -> None:
        """Everyone may read a task; only its owner may change it or its attachments."""
        if not self.is_owned_by(user_id):
            raise AuthorizationError("Only the task's owner may change it", code="NOT_TASK_OWNER")

    def apply_changes(self, changes: dict[str, Any], now: datetime) -> dict[str, dict[str, Any]]:
        """Apply validated changes; return {field: {"old": ..., "new": ...}} for the fields that really changed."""
        normalized: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "title":
                normalized[name] = rules.normalize_title(value)
            elif name == "description":
                normalized[name] = rules.normalize_description(value)
            elif name == "status":
                normalized[name] = rules.parse_status(value)
            elif name == "priority":
                normalized[name] = rules.parse_priority(value)
            elif name == "due_date":
                normalized[name] = rules.validate_due_date(value)
            elif name == "tags":
                normalized[name] = rules.normalize_tags(value)
            else:
                raise ValueError(f"{name} is not a writable task field")
        diff: dict[str, dict[str, Any]] = {}
        for name, value in normalized.items():
            old = getattr(self, name)
            if old != value:
                diff[name] = {"old": old, "new": value}
                setattr(self, name, value)
        if diff:
            self.updated_at = now
            self.version += 1
        return diff

    def full_replacement(self, values: dict[str, Any]) -> dict[str, Any]:
        """A PUT replaces every writable field: what it omits goes back to its default."""
        defaults: dict[str, Any] = {
            "description": None,
            "status": TaskStatus.TODO,
            "priority": TaskPriority.MEDIUM,
            "due_date": None,
            "tags": [],
        }
        # An explicit null means "the default" for fields that cannot be empty.
        return {
            name: values[name] if values.get(name) is not None else defaults.get(name) for name in TASK_WRITABLE_FIELDS
        }


@dataclass
class Attachment:
    id: UUID
    task_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    storage_path: str
    created_at: datetime


@dataclass
class AuditEvent:
    id: UUID
    event_type: AuditEventType
    user_id: UUID | None
    task_id: UUID | None
    attachment_id: UUID | None
    details: dict[str, Any]
    created_at: datetime

    @classmethod
    def record(
        cls,
        event_type: AuditEventType,
        *,
        now: datetime,
        user_id: UUID | None = None,
        task_id: UUID | None = None,
        attachment_id: UUID | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        return cls(
            id=new_id(),
            event_type=event_type,
            user_id=user_id,
            task_id=task_id,
            attachment_id=attachment_id,
            details=details or {},
            created_at=now,
        )


@dataclass(frozen=True)
class ReminderLog:
    id: UUID
    task_id: UUID
    reminder_type: ReminderType
    sent_at: datetime


@dataclass
class RefreshToken:
    """A server-side record of an opaque refresh token; only the token's hash is kept.

    Tokens rotate on every use. All tokens descending from one login share a family, so that
    a reused (already rotated) token can revoke the whole family: the sign of a stolen token.
    """

    id: UUID
    user_id: UUID
    family_id: UUID
    token_hash: str
    expires_at: datetime
    revoked: bool
    created_at: datetime

    def is_usable(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at

    def revoked_copy(self) -> RefreshToken:
        return replace(self, revoked=True)


@dataclass
class TaskView:
    """A task as lists show it: with its owner's email, fetched in the same query."""

    task: Task
    owner_email: str | None = None
