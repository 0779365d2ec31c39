"""In-memory fakes of the ports in tasktracker.application.ports, in the style of cosmicpython.

The unit of work is transactional like the SQLAlchemy one: each `with uow:` block works on a private copy
of the committed state, commit() makes that copy the committed state, and leaving the block throws away
whatever was not committed. Repositories hand out copies, so only add()/save()/delete() change anything,
as with the SQL repositories, which map rows to entities explicitly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, BinaryIO, Self, TypeVar
from uuid import UUID

from tasktracker.application.audit_trail import json_safe
from tasktracker.application.ports import (
    AuditQuery,
    DeliveryOutcome,
    DuePosition,
    DueTask,
    NotificationPage,
    NotificationQuery,
    OutboxMessage,
    Page,
    PresignedUpload,
    ReminderAudit,
    ReminderBatch,
    ReminderNotice,
    StorageChange,
    StoredObject,
    TaskQuery,
    WebhookEvent,
)
from tasktracker.domain.entities import (
    Attachment,
    AuditEvent,
    Notification,
    RefreshToken,
    ReminderLog,
    Task,
    TaskView,
    User,
    UserSession,
    Webhook,
    WebhookDelivery,
    new_id,
)
from tasktracker.domain.enums import (
    PRIVATE_AUDIT_EVENT_TYPES,
    AuditEventType,
    ReminderType,
    TaskPriority,
    TaskStatus,
    TokenRevocation,
)
from tasktracker.domain.errors import ConflictError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError

T = TypeVar("T")

# A fixed "now" and a valid password shared by the fixtures and the tests.
NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"

# The signatures of the factory fixtures in conftest.py.
AddUser = Callable[..., User]
AddTask = Callable[..., Task]
AddAttachment = Callable[..., Attachment]


def _copy(value: T) -> T:
    return copy.deepcopy(value)


@dataclass
class FakeState:
    """Every table the ports touch. Dataclass equality lets a test compare whole snapshots."""

    users: dict[UUID, User] = field(default_factory=dict)
    refresh_tokens: dict[UUID, RefreshToken] = field(default_factory=dict)
    tasks: dict[UUID, Task] = field(default_factory=dict)
    attachments: dict[UUID, Attachment] = field(default_factory=dict)
    audit_events: list[AuditEvent] = field(default_factory=list)
    reminder_logs: dict[tuple[UUID, ReminderType], ReminderLog] = field(default_factory=dict)
    storage_changes: dict[UUID, StorageChange] = field(default_factory=dict)
    notifications: dict[UUID, Notification] = field(default_factory=dict)
    # Users who turned e-mail off (the settings' only choice): absent means on.
    email_off: set[UUID] = field(default_factory=set)
    webhooks: dict[UUID, Webhook] = field(default_factory=dict)
    # Queued deliveries: (owner, webhook, event), in order.
    announced: list[tuple[UUID, UUID, WebhookEvent]] = field(default_factory=list)
    emails_queued: list[DueTask] = field(default_factory=list)


StateProvider = Callable[[], FakeState]


class FakeUserRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, user: User) -> None:
        users = self._state().users
        # The primary key and uq_users_email_lower refuse these; the SQL unit of work maps that to ConflictError.
        if user.id in users or self.get_by_email(user.email) is not None:
            raise ConflictError("An account with this email already exists", code="EMAIL_TAKEN")
        users[user.id] = _copy(user)

    def get(self, user_id: UUID) -> User | None:
        return _copy(self._state().users.get(user_id))

    def get_for_update(self, user_id: UUID) -> User | None:
        return self.get(user_id)

    def get_session(self, user_id: UUID) -> UserSession | None:
        user = self._state().users.get(user_id)
        return UserSession(user.is_active, user.session_epoch) if user else None

    def get_by_email(self, email: str) -> User | None:
        wanted = email.lower()
        return _copy(next((user for user in self._state().users.values() if user.email.lower() == wanted), None))

    def save(self, user: User) -> None:
        users = self._state().users
        if user.id in users:
            users[user.id] = _copy(user)


class FakeRefreshTokenRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, token: RefreshToken) -> None:
        tokens = self._state().refresh_tokens
        if token.id in tokens or any(other.token_hash == token.token_hash for other in tokens.values()):
            raise ConflictError("duplicate refresh token")
        tokens[token.id] = _copy(token)

    def get(self, token_id: UUID) -> RefreshToken | None:
        return _copy(self._state().refresh_tokens.get(token_id))

    def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        tokens = self._state().refresh_tokens.values()
        return _copy(next((token for token in tokens if token.token_hash == token_hash), None))

    def rotate(self, token: RefreshToken, successor_id: UUID, successor_sealed: str, at: datetime) -> None:
        tokens = self._state().refresh_tokens
        self._forget_sealed_successors(lambda other: other.family_id == token.family_id)
        rotated = tokens[token.id].revoked_copy(TokenRevocation.ROTATED, at)
        tokens[token.id] = replace(rotated, successor_id=successor_id, successor_sealed=successor_sealed)

    def revoke_family(self, family_id: UUID, reason: TokenRevocation, at: datetime) -> int:
        return self._revoke_where(lambda token: token.family_id == family_id, reason, at)

    def revoke_all_for_user(self, user_id: UUID, reason: TokenRevocation, at: datetime) -> int:
        return self._revoke_where(lambda token: token.user_id == user_id, reason, at)

    def _revoke_where(self, condition: Callable[[RefreshToken], bool], reason: TokenRevocation, at: datetime) -> int:
        tokens = self._state().refresh_tokens
        self._forget_sealed_successors(condition)
        # Like `UPDATE ... WHERE ... AND NOT revoked`: the count is of tokens this call revoked.
        targets = [token for token in tokens.values() if condition(token) and not token.revoked]
        for token in targets:
            tokens[token.id] = token.revoked_copy(reason, at)
        return len(targets)

    def _forget_sealed_successors(self, condition: Callable[[RefreshToken], bool]) -> None:
        tokens = self._state().refresh_tokens
        for token in list(tokens.values()):
            if condition(token) and token.successor_sealed is not None:
                tokens[token.id] = replace(token, successor_sealed=None)


_TASK_SORT_VALUES: dict[str, Callable[[Task], Any]] = {
    "title": lambda task: task.title.lower(),
    "status": lambda task: list(TaskStatus).index(task.status),
    "priority": lambda task: TaskPriority(task.priority).rank,
    "due_date": lambda task: task.due_date,
    "created_at": lambda task: task.created_at,
    "updated_at": lambda task: task.updated_at,
}


def _sorted_nulls_last(tasks: list[Task], value: Callable[[Task], Any], descending: bool) -> list[Task]:
    present = [task for task in tasks if value(task) is not None]
    missing = [task for task in tasks if value(task) is None]
    # sorted() is stable even with reverse=True, so earlier sort passes survive as tie-breakers.
    return sorted(present, key=value, reverse=descending) + missing


def _task_matches(task: Task, query: TaskQuery) -> bool:
    term = (query.search or "").strip().lower()
    text = f"{task.title}\n{task.description or ''}".lower()
    return (
        (not term or term in text)
        and (not query.statuses or task.status in query.statuses)
        and (not query.priorities or task.priority in query.priorities)
        and (not query.tags or any(tag in query.tags for tag in task.tags))
        and (query.due_from is None or (task.due_date is not None and task.due_date >= query.due_from))
        and (query.due_to is None or (task.due_date is not None and task.due_date <= query.due_to))
        and (query.owner_id is None or task.owner_id == query.owner_id)
    )


class FakeTaskRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, task: Task) -> None:
        state = self._state()
        if task.id in state.tasks or task.owner_id not in state.users:
            raise ConflictError("The change conflicts with existing data")
        state.tasks[task.id] = _copy(task)

    def get(self, task_id: UUID) -> Task | None:
        return _copy(self._state().tasks.get(task_id))

    def get_for_update(self, task_id: UUID) -> Task | None:
        return self.get(task_id)

    def get_view(self, task_id: UUID) -> TaskView | None:
        task = self._state().tasks.get(task_id)
        return self._view(task) if task is not None else None

    def save(self, task: Task) -> None:
        tasks = self._state().tasks
        stored = tasks.get(task.id)
        # As the SQL adapter: written only over the version the task was changed from.
        if stored is None or stored.version != task.version - 1:
            raise ConflictError("The task was changed by another request; load it again", code="TASK_CHANGED")
        tasks[task.id] = _copy(task)

    def delete(self, task: Task) -> None:
        state = self._state()
        state.tasks.pop(task.id, None)
        # ON DELETE CASCADE of attachments.task_id and reminder_logs.task_id.
        state.attachments = {key: row for key, row in state.attachments.items() if row.task_id != task.id}
        state.reminder_logs = {key: log for key, log in state.reminder_logs.items() if log.task_id != task.id}
        # ON DELETE CASCADE of notifications.task_id.
        state.notifications = {key: row for key, row in state.notifications.items() if row.task_id != task.id}

    def search(self, query: TaskQuery) -> Page[TaskView]:
        matching = [task for task in self._state().tasks.values() if _task_matches(task, query)]
        matching.sort(key=lambda task: (task.created_at, task.id), reverse=True)
        # Applied last key first, so that the first sort key wins and earlier passes break its ties.
        for key in reversed(query.sort):
            matching = _sorted_nulls_last(matching, _TASK_SORT_VALUES[key.field], key.descending)
        start = (query.page - 1) * query.page_size
        items = [self._view(task) for task in matching[start : start + query.page_size]]
        return Page(items=items, page=query.page, page_size=query.page_size, total=len(matching))

    def _view(self, task: Task) -> TaskView:
        owner = self._state().users.get(task.owner_id)
        return TaskView(task=_copy(task), owner_email=owner.email if owner else None)


class FakeAttachmentRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, attachment: Attachment) -> None:
        state = self._state()
        # The primary key, the unique storage_path and the foreign key to tasks.
        if (
            attachment.id in state.attachments
            or any(row.storage_path == attachment.storage_path for row in state.attachments.values())
            or attachment.task_id not in state.tasks
        ):
            raise ConflictError("The change conflicts with existing data")
        state.attachments[attachment.id] = _copy(attachment)

    def get(self, attachment_id: UUID) -> Attachment | None:
        return _copy(self._state().attachments.get(attachment_id))

    def list_for_task(self, task_id: UUID) -> list[Attachment]:
        rows = [row for row in self._state().attachments.values() if row.task_id == task_id]
        return _copy(sorted(rows, key=lambda row: (row.created_at, row.id)))

    def delete(self, attachment: Attachment) -> None:
        self._state().attachments.pop(attachment.id, None)

    def recorded_keys(self, keys: Collection[str]) -> set[str]:
        return {row.storage_path for row in self._state().attachments.values()} & set(keys)


class FakeStorageChangeRepository:
    """The outbox in a dict. One unit of work runs at a time here, so no change is ever locked by another."""

    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, changes: Collection[StorageChange]) -> None:
        stored = self._state().storage_changes
        for change in changes:
            if change.id in stored:
                raise ConflictError("The change conflicts with existing data")
            stored[change.id] = _copy(change)

    def claim(self, created_before: datetime, attempted_before: datetime, limit: int) -> list[StorageChange]:
        waiting = [
            change
            for change in self._state().storage_changes.values()
            if change.created_at <= created_before
            and (change.attempted_at is None or change.attempted_at < attempted_before)
        ]
        waiting.sort(key=lambda change: (change.created_at, change.id))
        return _copy(waiting[: max(limit, 0)])

    def remove(self, change_ids: Collection[UUID]) -> None:
        stored = self._state().storage_changes
        for change_id in change_ids:
            stored.pop(change_id, None)

    def record_failure(self, change_id: UUID, error: str, attempted_at: datetime) -> None:
        stored = self._state().storage_changes
        change = stored.get(change_id)
        if change is not None:
            stored[change_id] = replace(
                change, attempts=change.attempts + 1, last_error=error, attempted_at=attempted_at
            )


class FakeAuditLog:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, event: AuditEvent) -> None:
        self._state().audit_events.append(_copy(event))

    def search(self, query: AuditQuery) -> Page[AuditEvent]:
        def visible(event: AuditEvent) -> bool:
            return (
                (event.event_type not in PRIVATE_AUDIT_EVENT_TYPES or event.user_id == query.viewer_id)
                and (query.user_id is None or event.user_id == query.user_id)
                and (query.task_id is None or event.task_id == query.task_id)
                and (not query.event_types or event.event_type in query.event_types)
                and (query.created_from is None or event.created_at >= query.created_from)
                and (query.created_to is None or event.created_at <= query.created_to)
            )

        matching = sorted(
            (event for event in self._state().audit_events if visible(event)),
            key=lambda event: (event.created_at, event.id),
            reverse=True,
        )
        start = (query.page - 1) * query.page_size
        items = _copy(matching[start : start + query.page_size])
        return Page(items=items, page=query.page, page_size=query.page_size, total=len(matching))


class FakeReminderRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state
        # Tasks a write holds at the moment, as a row lock would: examined by a claim, never claimed by it.
        self.held: set[UUID] = set()

    def claim_due_soon(
        self,
        window_start: datetime,
        window_end: datetime,
        sent_at: datetime,
        limit: int,
        audit: ReminderAudit,
        notice: ReminderNotice,
        after: DuePosition | None = None,
    ) -> ReminderBatch:
        state = self._state()
        due = [
            DueTask(task_id=task.id, owner_id=task.owner_id, title=task.title, due_date=task.due_date)
            for task in state.tasks.values()
            if task.status != TaskStatus.DONE
            and task.due_date is not None
            and window_start <= task.due_date <= window_end
            and (after is None or (task.due_date, task.id) > (after.due_date, after.task_id))
            and (task.id, ReminderType.DUE_SOON) not in state.reminder_logs
        ]
        due.sort(key=lambda item: (item.due_date, item.task_id))
        examined = due[: max(limit, 0)]
        claimed = [item for item in examined if item.task_id not in self.held]
        for item in claimed:
            self._insert_log(ReminderLog(new_id(), item.task_id, ReminderType.DUE_SOON, sent_at))
            fields = {name: getattr(item, name) for name in audit.task_fields}
            state.audit_events.append(
                AuditEvent.record(
                    AuditEventType.REMINDER_SENT,
                    now=audit.created_at,
                    task_id=item.task_id,
                    details=json_safe({**audit.details, **fields}),
                )
            )
            notification = Notification(
                id=new_id(),
                user_id=item.owner_id,
                type=notice.type,
                task_id=item.task_id,
                title=item.title,
                message=notice.message,
                created_at=notice.created_at,
            )
            state.notifications[notification.id] = notification
            if notice.email and item.owner_id not in state.email_off:
                state.emails_queued.append(item)
        last = DuePosition(examined[-1].due_date, examined[-1].task_id) if examined else None
        emailed = sum(1 for item in claimed if notice.email and item.owner_id not in state.email_off)
        return ReminderBatch(claimed=claimed, examined=len(examined), last=last, notified=len(claimed), emailed=emailed)

    def forget(self, task_id: UUID) -> None:
        self._state().reminder_logs.pop((task_id, ReminderType.DUE_SOON), None)

    def _insert_log(self, log: ReminderLog) -> None:
        logs = self._state().reminder_logs
        key = (log.task_id, log.reminder_type)
        # The unique constraint on (task_id, reminder_type): the one thing that makes reminders idempotent.
        if key in logs:
            raise ConflictError(f"a {log.reminder_type} reminder was already logged for task {log.task_id}")
        logs[key] = log


class FakeNotificationRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, notification: Notification) -> None:
        self._state().notifications[notification.id] = _copy(notification)

    def list_for_user(self, query: NotificationQuery) -> NotificationPage:
        own = [row for row in self._state().notifications.values() if row.user_id == query.user_id]
        matching = sorted(
            (row for row in own if not query.unread_only or row.read_at is None),
            key=lambda row: (row.created_at, row.id),
            reverse=True,
        )
        start = (query.page - 1) * query.page_size
        return NotificationPage(
            items=_copy(matching[start : start + query.page_size]),
            page=query.page,
            page_size=query.page_size,
            total=len(matching),
            unread=sum(1 for row in own if row.read_at is None),
        )

    def mark_read(self, user_id: UUID, notification_id: UUID, at: datetime) -> Notification | None:
        notifications = self._state().notifications
        found = notifications.get(notification_id)
        if found is None or found.user_id != user_id:
            return None
        notifications[notification_id] = found.marked_read(at)
        return _copy(notifications[notification_id])

    def mark_all_read(self, user_id: UUID, at: datetime) -> int:
        notifications = self._state().notifications
        unread = [row for row in notifications.values() if row.user_id == user_id and row.read_at is None]
        for row in unread:
            notifications[row.id] = row.marked_read(at)
        return len(unread)

    def count_unread(self, user_id: UUID) -> int:
        return sum(1 for row in self._state().notifications.values() if row.user_id == user_id and row.read_at is None)


class FakeNotificationSettingsRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def email_enabled(self, user_id: UUID) -> bool:
        return user_id not in self._state().email_off

    def set_email(self, user_id: UUID, enabled: bool, at: datetime) -> None:
        if enabled:
            self._state().email_off.discard(user_id)
        else:
            self._state().email_off.add(user_id)


class FakeWebhookRepository:
    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def add(self, webhook: Webhook) -> None:
        self._state().webhooks[webhook.id] = webhook

    def count_for_user(self, user_id: UUID) -> int:
        return sum(1 for webhook in self._state().webhooks.values() if webhook.user_id == user_id)

    def list_for_user(self, user_id: UUID, page: int, page_size: int) -> Page[Webhook]:
        own = sorted(
            (webhook for webhook in self._state().webhooks.values() if webhook.user_id == user_id),
            key=lambda webhook: (webhook.created_at, webhook.id),
            reverse=True,
        )
        start = (page - 1) * page_size
        return Page(items=own[start : start + page_size], page=page, page_size=page_size, total=len(own))

    def get_for_user(self, user_id: UUID, webhook_id: UUID) -> Webhook | None:
        found = self._state().webhooks.get(webhook_id)
        return found if found is not None and found.user_id == user_id else None

    def delete(self, webhook_id: UUID) -> None:
        state = self._state()
        state.webhooks.pop(webhook_id, None)
        state.announced = [entry for entry in state.announced if entry[1] != webhook_id]

    def deliveries(self, webhook_id: UUID, page: int, page_size: int) -> Page[WebhookDelivery]:
        raise NotImplementedError("deliveries are read from the database: tests/api and tests/integration")


class FakeOutboxRepository:
    """Queues what the use cases announce; sending is tested against PostgreSQL (tests/integration)."""

    def __init__(self, state: StateProvider) -> None:
        self._state = state

    def announce(self, owner_id: UUID, event: WebhookEvent) -> int:
        state = self._state()
        subscribed = [
            webhook for webhook in state.webhooks.values() if webhook.user_id == owner_id and webhook.wants(event.type)
        ]
        state.announced.extend((owner_id, webhook.id, event) for webhook in subscribed)
        return len(subscribed)

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        raise NotImplementedError("delivery runs are tested against PostgreSQL (tests/integration)")

    def record(self, outcomes: Sequence[DeliveryOutcome], at: datetime) -> None:
        raise NotImplementedError("delivery runs are tested against PostgreSQL (tests/integration)")


Seedable = User | RefreshToken | Task | Attachment | AuditEvent | ReminderLog | StorageChange | Notification | Webhook


class FakeUnitOfWork:
    """A transactional in-memory unit of work, and its own factory.

    `committed` turns true at the first commit(); `commits` counts them. Set `commit_error` to make every
    commit() fail with it, as a database that goes away mid-request would.
    """

    def __init__(self) -> None:
        self.committed_state = FakeState()
        self.committed = False
        self.commits = 0
        self.transactions = 0
        self.commit_error: BaseException | None = None
        self.read_only = False
        self._working: FakeState | None = None
        self.users = FakeUserRepository(self._working_state)
        self.refresh_tokens = FakeRefreshTokenRepository(self._working_state)
        self.tasks = FakeTaskRepository(self._working_state)
        self.attachments = FakeAttachmentRepository(self._working_state)
        self.audit = FakeAuditLog(self._working_state)
        self.reminders = FakeReminderRepository(self._working_state)
        self.storage_changes = FakeStorageChangeRepository(self._working_state)
        self.notifications = FakeNotificationRepository(self._working_state)
        self.notification_settings = FakeNotificationSettingsRepository(self._working_state)
        self.webhooks = FakeWebhookRepository(self._working_state)
        self.outbox = FakeOutboxRepository(self._working_state)

    def __call__(self, *, read_only: bool = False) -> Self:
        # Use cases take a factory; handing out this one object lets tests see every transaction's outcome.
        self.read_only = read_only
        return self

    def __enter__(self) -> Self:
        if self._working is not None:
            raise RuntimeError("FakeUnitOfWork does not nest transactions")
        self._working = _copy(self.committed_state)
        self.transactions += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Whatever was not committed is dropped, like the session rollback of the SQL unit of work.
        self._working = None

    def commit(self) -> None:
        working = self._working_state()
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        if self.commit_error is not None:
            raise self.commit_error
        self.committed_state = _copy(working)
        self.committed = True
        self.commits += 1

    def rollback(self) -> None:
        if self._working is not None:
            self._working = _copy(self.committed_state)

    def seed(self, *entities: Seedable) -> None:
        """Arrange data straight into the committed state: arranging a test is not a commit to assert on."""
        if self._working is not None:
            raise RuntimeError("seed outside of a transaction")
        state = self.committed_state
        for entity in _copy(entities):
            match entity:
                case User():
                    state.users[entity.id] = entity
                case RefreshToken():
                    state.refresh_tokens[entity.id] = entity
                case Task():
                    state.tasks[entity.id] = entity
                case Attachment():
                    state.attachments[entity.id] = entity
                case AuditEvent():
                    state.audit_events.append(entity)
                case ReminderLog():
                    state.reminder_logs[(entity.task_id, entity.reminder_type)] = entity
                case StorageChange():
                    state.storage_changes[entity.id] = entity
                case Notification():
                    state.notifications[entity.id] = entity
                case Webhook():
                    state.webhooks[entity.id] = entity

    def storage_outbox(self) -> dict[str, set[str]]:
        """Committed storage changes: the keys waiting for each action."""
        waiting: dict[str, set[str]] = {}
        for change in self.committed_state.storage_changes.values():
            waiting.setdefault(str(change.action), set()).add(change.storage_key)
        return waiting

    def events(self, event_type: AuditEventType | None = None) -> list[AuditEvent]:
        """Committed audit events, of one type when given."""
        return [
            event for event in self.committed_state.audit_events if event_type is None or event.event_type == event_type
        ]

    def _working_state(self) -> FakeState:
        if self._working is None:
            raise RuntimeError("repositories are only usable inside `with uow:`")
        return self._working


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


class FakePasswordHasher:
    """Readable hashes, "fake$<version>$<password>"; a hash of an older version needs rehashing."""

    current_version = "v2"

    def __init__(self) -> None:
        self.verify_calls = 0

    def hash(self, password: str) -> str:
        return f"fake${self.current_version}${password}"

    def legacy_hash(self, password: str) -> str:
        return f"fake$v1${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verify_calls += 1
        scheme, _, rest = password_hash.partition("$")
        _version, _, hashed = rest.partition("$")
        return scheme == "fake" and hashed == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(f"fake${self.current_version}$")


class FakeAccessTokenIssuer:
    def __init__(self, ttl_seconds: int = 900) -> None:
        self.ttl_seconds = ttl_seconds
        self.issued_to: list[UUID] = []
        # The session epoch each token carries, as the JWT's claim does.
        self.session_epochs: list[int] = []

    def issue(self, user: User) -> str:
        self.issued_to.append(user.id)
        self.session_epochs.append(user.session_epoch)
        return f"access-{len(self.issued_to)}-{user.id}"


@dataclass(frozen=True)
class Blob:
    data: bytes
    content_type: str


STORAGE_OPERATIONS = frozenset(
    {"put", "open", "delete", "delete_many", "head", "copy", "presigned_post", "mark_kept", "mark_pending"}
)


class FakeFileStorage:
    """A bucket in a dict. fail() makes operations raise ServiceUnavailableError, as an unreachable S3 would;
    refuse_to_delete() makes a batch delete refuse single keys, as S3 answers in its Errors.

    `pending` holds the keys storage would expire: every object starts there until it is marked kept.
    """

    chunk_size = 4

    def __init__(self) -> None:
        self.objects: dict[str, Blob] = {}
        self.pending: set[str] = set()
        self.presigned: list[tuple[str, str, int]] = []
        self._failing: frozenset[str] = frozenset()
        self._interleaved: dict[str, Callable[[], object]] = {}
        self.undeletable: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def fail(self, *operations: str) -> None:
        """Make the named operations fail from now on; all of them when none is named."""
        unknown = set(operations) - STORAGE_OPERATIONS
        if unknown:
            raise ValueError(f"not storage operations: {sorted(unknown)}")
        self._failing = frozenset(operations) or STORAGE_OPERATIONS

    def recover(self) -> None:
        self._failing = frozenset()
        self.undeletable = set()

    def refuse_to_delete(self, *keys: str) -> None:
        """Deleting these keys is refused (AccessDenied) from now on, the rest of a batch is deleted."""
        self.undeletable.update(keys)

    def interleave(self, operation: str, action: Callable[[], object]) -> None:
        """Run `action` once, just before the next `operation`: how a test stages a concurrent request."""
        self._interleaved[operation] = action

    def receive_upload(self, key: str, data: bytes, content_type: str) -> None:
        """What a client posting a presigned form does: the object appears without the application's help."""
        self.objects[key] = Blob(data, content_type)
        self.pending.add(key)

    def put(self, key: str, stream: BinaryIO, content_type: str, max_bytes: int) -> int:
        self._begin("put", key)
        received = bytearray()
        # Read in small chunks and stop at the first byte too many, as a streaming upload must.
        while chunk := stream.read(self.chunk_size):
            received.extend(chunk)
            if len(received) > max_bytes:
                raise PayloadTooLargeError(details={"max_bytes": max_bytes})
        self.objects[key] = Blob(bytes(received), content_type)
        self.pending.add(key)
        return len(received)

    def mark_kept(self, key: str) -> bool:
        self._begin("mark_kept", key)
        self.pending.discard(key)
        return key in self.objects

    def mark_pending(self, key: str) -> None:
        self._begin("mark_pending", key)
        if key in self.objects:
            self.pending.add(key)

    def open(self, key: str) -> StoredObject:
        self._begin("open", key)
        blob = self.objects.get(key)
        if blob is None:
            raise NotFoundError("The stored file is missing", code="OBJECT_NOT_FOUND")
        data = blob.data
        chunks = (data[index : index + self.chunk_size] for index in range(0, len(data), self.chunk_size))
        return StoredObject(size_bytes=len(data), content_type=blob.content_type, chunks=chunks)

    def delete(self, key: str) -> None:
        self._begin("delete", key)
        if key in self.undeletable:
            raise ServiceUnavailableError("Access Denied", code="STORAGE_REFUSED")
        # Like S3: deleting a missing key succeeds.
        self.objects.pop(key, None)
        self.pending.discard(key)

    def delete_many(self, keys: Sequence[str]) -> dict[str, str]:
        self._begin("delete_many", ",".join(keys))
        refused = {}
        for key in keys:
            if key in self.undeletable:
                refused[key] = "AccessDenied: Access Denied"
                continue
            self.objects.pop(key, None)
            self.pending.discard(key)
        return refused

    def head(self, key: str) -> StoredObject | None:
        self._begin("head", key)
        blob = self.objects.get(key)
        if blob is None:
            return None
        return StoredObject(size_bytes=len(blob.data), content_type=blob.content_type, chunks=iter(()))

    def copy_pending(self, source: str, target: str) -> StoredObject | None:
        self._begin("copy", f"{source}->{target}")
        blob = self.objects.get(source)
        if blob is None:
            return None
        self.objects[target] = blob
        self.pending.add(target)
        return StoredObject(size_bytes=len(blob.data), content_type=blob.content_type, chunks=iter(()))

    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedUpload:
        self._begin("presigned_post", key)
        self.presigned.append((key, content_type, max_bytes))
        return PresignedUpload(
            url="https://bucket.invalid/", fields={"key": key, "Content-Type": content_type}, expires_in=expires_in
        )

    def _begin(self, operation: str, key: str = "") -> None:
        self.calls.append((operation, key))
        action = self._interleaved.pop(operation, None)
        if action is not None:
            action()
        if operation in self._failing:
            raise ServiceUnavailableError("File storage is unavailable", code="STORAGE_UNAVAILABLE")


class FakeSessionCache:
    """A session cache with the real one's rules (hold, fill only where empty, publish never below a higher
    epoch) that records what it was asked, and what the unit of work had committed at each write."""

    HOLD = "hold"

    def __init__(self, uow: FakeUnitOfWork | None = None) -> None:
        self.entries: dict[UUID, UserSession | str] = {}
        self.calls: list[tuple[str, UUID | None, int]] = []
        self.uow = uow
        self.down = False

    def _record(self, name: str, user_id: UUID | None) -> None:
        self.calls.append((name, user_id, self.uow.commits if self.uow else 0))

    def expect(self, user_id: UUID | None) -> None:
        self._record("expect", user_id)

    def get(self, user_id: UUID) -> UserSession | None:
        self._record("get", user_id)
        entry = None if self.down else self.entries.get(user_id)
        return entry if isinstance(entry, UserSession) else None

    def fill(self, user_id: UUID, session: UserSession) -> None:
        self._record("fill", user_id)
        if not self.down:
            self.entries.setdefault(user_id, session)

    def hold(self, user_id: UUID) -> None:
        self._record("hold", user_id)
        if self.down:
            raise ServiceUnavailableError("the session store is down")
        self.entries[user_id] = self.HOLD

    def publish(self, user_id: UUID, session: UserSession) -> None:
        self._record("publish", user_id)
        current = self.entries.get(user_id)
        if self.down or (isinstance(current, UserSession) and current.session_epoch > session.session_epoch):
            return
        self.entries[user_id] = session
