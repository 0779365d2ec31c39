"""Entities of the spec as plain dataclasses; persistence maps them, it does not define them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from . import rules
from .enums import (
    AuditEventType,
    DeliveryStatus,
    NotificationType,
    ReminderType,
    TaskPriority,
    TaskStatus,
    TokenRevocation,
    WebhookEventType,
)
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
    # Every token carries the epoch it was issued in; bumping it ends every session issued before at once.
    session_epoch: int = 0

    def ensure_active(self) -> None:
        if not self.is_active:
            raise AuthenticationError("This account is deactivated", code="ACCOUNT_DISABLED")

    def end_sessions(self) -> None:
        """Every access and refresh token issued so far stops working (the database does the same on
        deactivation)."""
        self.session_epoch += 1

    def deactivate(self) -> None:
        """Shut out at once: every live token stops, and no sign-in or refresh is accepted."""
        self.is_active = False
        self.end_sessions()

    def reactivate(self) -> None:
        """Back in with a new sign-in only. The epoch moves on here too (no token of this epoch can exist, a
        deactivated user signs in nowhere), so that every change of a user's session state has an epoch of its own
        and the newest state is always the one with the highest epoch."""
        self.is_active = True
        self.end_sessions()

    @property
    def session(self) -> UserSession:
        return UserSession(is_active=self.is_active, session_epoch=self.session_epoch)


@dataclass(frozen=True)
class UserSession:
    """What each authenticated request checks about its user: read with one primary-key lookup."""

    is_active: bool
    session_epoch: int

    def admit(self, token_session_epoch: int | None) -> None:
        """Refuses an access token of a deactivated user, or one issued before the user's sessions ended."""
        if not self.is_active:
            raise AuthenticationError("This account no longer exists or is deactivated", code="ACCOUNT_DISABLED")
        if token_session_epoch != self.session_epoch:
            raise AuthenticationError(
                "This session has ended: the password was changed or the account deactivated; sign in again",
                code="TOKEN_REVOKED",
            )


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
class Notification:
    """Something that happened which one user should see in the app: only that user may read or mark it.

    `title` and `message` are written when it is created (a task's title as it was then); `read_at` is when its
    user first marked it read, None while it is unread.
    """

    id: UUID
    user_id: UUID
    type: NotificationType
    task_id: UUID | None
    title: str
    message: str
    created_at: datetime
    read_at: datetime | None = None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    def marked_read(self, now: datetime) -> Notification:
        """Read from now on; marking it again keeps the moment it was first read."""
        return self if self.read_at is not None else replace(self, read_at=now)


@dataclass(frozen=True)
class Webhook:
    """Where a user wants the events of their own tasks POSTed, signed with `secret` (HMAC-SHA256 of the body).
    The secret is shown to its user once, when the webhook is made; afterwards only the deliveries use it."""

    id: UUID
    user_id: UUID
    url: str
    events: tuple[WebhookEventType, ...]
    secret: str
    created_at: datetime

    def wants(self, event_type: WebhookEventType) -> bool:
        return event_type in self.events


@dataclass(frozen=True)
class WebhookDelivery:
    """One event on its way to one webhook, as its owner sees it: the same id on every attempt."""

    id: UUID
    event: WebhookEventType
    status: DeliveryStatus
    attempts: int
    last_response_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class NotificationSettings:
    """How a user wants reminders beyond the app: by e-mail (on unless they turned it off), to `email_address`."""

    email: bool
    email_address: str


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
    # The user's session epoch when the token was issued: a later password change or deactivation ends it.
    session_epoch: int = 0
    revoked_at: datetime | None = None
    revoked_reason: TokenRevocation | None = None
    # Set on rotation: the successor, and its raw value sealed under this token (see application.auth), so
    # that a concurrent use of this token within the grace is answered with the same successor.
    successor_id: UUID | None = None
    successor_sealed: str | None = None

    def is_usable(self, now: datetime) -> bool:
        return not self.revoked and now < self.expires_at

    def rotated_within(self, now: datetime, grace: timedelta) -> bool:
        """Rotated no longer than `grace` ago, with its successor sealed on it."""
        return (
            self.revoked_reason == TokenRevocation.ROTATED
            and self.successor_id is not None
            and self.successor_sealed is not None
            and self.revoked_at is not None
            and now - self.revoked_at <= grace
        )

    def revoked_copy(self, reason: TokenRevocation, at: datetime) -> RefreshToken:
        return replace(self, revoked=True, revoked_reason=reason, revoked_at=at)


@dataclass
class TaskView:
    """A task as lists show it: with its owner's email, fetched in the same query."""

    task: Task
    owner_email: str | None = None
