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


# Sign-ins, sign-outs and password changes are personal: only the user they concern may read them.
PRIVATE_AUDIT_EVENT_TYPES = frozenset({AuditEventType.LOGIN, AuditEventType.LOGOUT, AuditEventType.PASSWORD_CHANGED})


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
