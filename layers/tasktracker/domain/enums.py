from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    BLOCKED = "BLOCKED"


class TaskPriority(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {TaskPriority.LOW: 1, TaskPriority.MEDIUM: 2, TaskPriority.HIGH: 3, TaskPriority.CRITICAL: 4}


class AuditEventType(StrEnum):
    TASK_CREATED = "TASK_CREATED"
    TASK_UPDATED = "TASK_UPDATED"
    TASK_DELETED = "TASK_DELETED"
    ATTACHMENT_ADDED = "ATTACHMENT_ADDED"
    ATTACHMENT_REMOVED = "ATTACHMENT_REMOVED"
    REMINDER_SENT = "REMINDER_SENT"
    LOGIN = "LOGIN"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    LOGOUT = "LOGOUT"
    WEBHOOK_CREATED = "WEBHOOK_CREATED"
    WEBHOOK_DELETED = "WEBHOOK_DELETED"


# Sign-ins, sign-outs and password changes are personal: only the user they concern may read them.
# A webhook's address is its owner's business too.
PRIVATE_AUDIT_EVENT_TYPES = frozenset(
    {
        AuditEventType.LOGIN,
        AuditEventType.LOGOUT,
        AuditEventType.PASSWORD_CHANGED,
        AuditEventType.WEBHOOK_CREATED,
        AuditEventType.WEBHOOK_DELETED,
    }
)


class TokenRevocation(StrEnum):
    """Why a refresh token stopped working; each reason is answered with its own error code."""

    # Traded for its successor. Coming back within the grace it is answered with that same successor;
    # later, it means a copy exists and the whole sign-in ends.
    ROTATED = "ROTATED"
    # Its sign-in ended because a rotated token of the same family came back after the grace.
    REUSE_DETECTED = "REUSE_DETECTED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"
    # Its sign-in was ended on purpose by its user (POST /auth/logout with a token of the family).
    LOGGED_OUT = "LOGGED_OUT"


class ReminderType(StrEnum):
    DUE_SOON = "DUE_SOON"


class NotificationType(StrEnum):
    """What a notification tells its user. DUE_SOON: one of their tasks is due within the reminder window."""

    DUE_SOON = "DUE_SOON"


class WebhookEventType(StrEnum):
    """What a webhook may subscribe to: changes of the subscriber's own tasks, their files, their reminders."""

    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_DELETED = "task.deleted"
    ATTACHMENT_ADDED = "attachment.added"
    ATTACHMENT_REMOVED = "attachment.removed"
    REMINDER_SENT = "reminder.sent"


class DeliveryChannel(StrEnum):
    """How an outbox message leaves: an e-mail over SMTP, or a signed POST to a webhook."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    # Waiting for its first attempt, or for its next one after a failure (with backoff).
    PENDING = "pending"
    DELIVERED = "delivered"
    # Given up on: refused for good, or every attempt used.
    FAILED = "failed"
