"""The ports the use cases are written against. Adapters implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, BinaryIO, Generic, Literal, Protocol, Self, TypeVar
from uuid import UUID

from tasktracker.domain.entities import (
    Attachment,
    AuditEvent,
    Notification,
    RefreshToken,
    Task,
    TaskView,
    User,
    UserSession,
    Webhook,
    WebhookDelivery,
)
from tasktracker.domain.enums import (
    AuditEventType,
    DeliveryChannel,
    NotificationType,
    ReminderType,
    TaskPriority,
    TaskStatus,
    TokenRevocation,
    WebhookEventType,
)

from .queries import DEFAULT_PAGE_SIZE

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


@dataclass(frozen=True)
class TaskQuery:
    """What the task list is asked for, already typed: the edge parsed it, the use case applies the rules."""

    search: str | None = None
    statuses: tuple[TaskStatus, ...] = ()
    priorities: tuple[TaskPriority, ...] = ()
    tags: tuple[str, ...] = ()
    due_from: datetime | None = None
    due_to: datetime | None = None
    owner_id: UUID | None = None
    sort: tuple[SortKey, ...] = ()
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class AuditQuery:
    viewer_id: UUID
    user_id: UUID | None = None
    task_id: UUID | None = None
    event_types: tuple[AuditEventType, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class DueTask:
    """A task the reminder pass claimed: its DUE_SOON log row was inserted by this pass."""

    task_id: UUID
    owner_id: UUID
    title: str
    due_date: datetime


@dataclass(frozen=True)
class DuePosition:
    """A place in the order the reminder pass reads due tasks: by due date, then by id."""

    due_date: datetime
    task_id: UUID


@dataclass(frozen=True)
class ReminderBatch:
    """What one claim of the reminder pass did.

    `claimed` are the tasks it reminded, with the values they had while the claim held them. `examined` counts
    the due tasks it looked at, in order, up to `last`, where the next batch starts. A task examined is not
    always claimed: one moved out of the window, done or deleted meanwhile, being written at that moment, or
    claimed by another pass is left out.
    """

    claimed: list[DueTask]
    examined: int
    last: DuePosition | None
    # Notifications the claim wrote: one per claimed task, for its owner, in the claim's transaction.
    notified: int = 0
    # E-mails it queued in the outbox (one per claimed task whose owner has e-mail on), and webhook deliveries
    # (one per claimed task and webhook of its owner subscribed to reminder.sent).
    emailed: int = 0
    announced: int = 0


@dataclass(frozen=True)
class SentReminder:
    """A reminder that went out, with the task it was about."""

    task_id: UUID
    reminder_type: ReminderType
    sent_at: datetime
    title: str
    due_date: datetime | None


class UserRepository(Protocol):
    def add(self, user: User) -> None: ...
    def get(self, user_id: UUID) -> User | None: ...
    def get_for_update(self, user_id: UUID) -> User | None:
        """Locked until the transaction ends: concurrent password changes queue rather than both winning."""
        ...

    def get_session(self, user_id: UUID) -> UserSession | None:
        """Only what every authenticated request checks, by primary key."""
        ...

    def get_by_email(self, email: str) -> User | None: ...
    def save(self, user: User) -> None: ...


class SessionCache(Protocol):
    """Each user's session state (active, epoch) kept where every process and function sees it (Redis), so that
    the check every signed-in request makes needs no database round trip. Never a copy inside one process: it
    could not see a change another process made. The database stays the truth; `identity.ActiveUsers` reads it
    whenever this has nothing to say."""

    def expect(self, user_id: UUID | None) -> None:
        """This request will ask for this user's state: an implementation may fetch it along with a round trip
        it makes anyway (the rate limit's). None, at the start of every request, forgets an earlier request's."""
        ...

    def get(self, user_id: UUID) -> UserSession | None:
        """The stored state; None when there is none, a change is under way, or the cache cannot answer."""
        ...

    def fill(self, user_id: UUID, session: UserSession) -> None:
        """After a database read: kept only where nothing is stored, so a change under way or a newer state is
        never overwritten by what a slower reader saw. Never raises."""
        ...

    def hold(self, user_id: UUID) -> None:
        """Before a change of the state commits: until `publish` replaces it (or it expires), `get` answers None
        and `fill` keeps nothing, so every check reads the database. Raises ServiceUnavailableError if it cannot
        be written: the change must not commit while a stale state may still be served."""
        ...

    def publish(self, user_id: UUID, session: UserSession) -> None:
        """After the change committed: the new state, unless one with a higher epoch is already stored. Never
        raises (if it fails, the hold expires and the next check reads the database)."""
        ...


class RefreshTokenRepository(Protocol):
    def add(self, token: RefreshToken) -> None: ...
    def get(self, token_id: UUID) -> RefreshToken | None: ...
    def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None: ...
    def rotate(self, token: RefreshToken, successor_id: UUID, successor_sealed: str, at: datetime) -> None:
        """Revokes `token` as rotated, recording its successor. The family keeps one sealed successor only:
        the ones sealed on earlier tokens of the family are erased."""
        ...

    def revoke_family(self, family_id: UUID, reason: TokenRevocation, at: datetime) -> int: ...
    def revoke_all_for_user(self, user_id: UUID, reason: TokenRevocation, at: datetime) -> int: ...


class TaskRepository(Protocol):
    def add(self, task: Task) -> None: ...
    def get(self, task_id: UUID) -> Task | None: ...
    def get_for_update(self, task_id: UUID) -> Task | None: ...
    def get_view(self, task_id: UUID) -> TaskView | None: ...
    def save(self, task: Task) -> None:
        """Store a task read with get_for_update and changed once since (Task.apply_changes counted its version
        up by one). If the stored version is no longer the one it was read at, nothing is written and
        ConflictError is raised."""
        ...

    def delete(self, task: Task) -> None: ...
    def search(self, query: TaskQuery) -> Page[TaskView]: ...


class AttachmentRepository(Protocol):
    def add(self, attachment: Attachment) -> None: ...
    def get(self, attachment_id: UUID) -> Attachment | None: ...
    def list_for_task(self, task_id: UUID) -> list[Attachment]: ...
    def delete(self, attachment: Attachment) -> None: ...
    def recorded_keys(self, keys: Collection[str]) -> set[str]:
        """Which of these storage keys an attachment row names; those rows cannot be deleted until the
        transaction ends."""
        ...


class StorageAction(StrEnum):
    # The file's row is committed: the object must lose its pending tag, or storage expires it.
    KEEP = "keep"
    # The file's row is deleted: the object must go.
    DISCARD = "discard"


@dataclass(frozen=True)
class StorageChange:
    """What storage must still do about one object, written in the transaction that changed its row (an outbox).

    The request that committed it carries it out right after the commit and removes it; one it could not carry
    out (a crash, a refusal) stays for the settler.
    """

    id: UUID
    storage_key: str
    action: StorageAction
    created_at: datetime
    attempts: int = 0
    last_error: str | None = None
    attempted_at: datetime | None = None


class StorageChangeRepository(Protocol):
    def add(self, changes: Collection[StorageChange]) -> None: ...

    def claim(self, created_before: datetime, attempted_before: datetime, limit: int) -> list[StorageChange]:
        """Up to `limit` changes created at or before `created_before` and not attempted since
        `attempted_before`, oldest first, locked until the transaction ends. Changes another transaction holds
        are skipped, so concurrent settlers never take the same change."""
        ...

    def remove(self, change_ids: Collection[UUID]) -> None:
        """Deletes the changes; one that another transaction holds is left to that transaction."""
        ...

    def record_failure(self, change_id: UUID, error: str, attempted_at: datetime) -> None:
        """One more failed attempt, and why."""
        ...


class AuditLog(Protocol):
    def add(self, event: AuditEvent) -> None: ...
    def search(self, query: AuditQuery) -> Page[AuditEvent]: ...


@dataclass(frozen=True)
class ReminderAudit:
    """The REMINDER_SENT event recorded for each claimed task: `details` (the same for the whole batch,
    JSON-safe) plus the task's fields named in `task_fields` (of DueTask), at `created_at`, by no user.
    """

    details: dict[str, Any]
    task_fields: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class ReminderNotice:
    """The notification written for the owner of each claimed task: of `type`, titled with the task's title as
    claimed, saying `message`, at `created_at`, unread. With `email`, an e-mail is queued in the outbox too, for
    each owner who has not turned e-mail off; and a `reminder.sent` event for each of the owner's webhooks that
    subscribed to it."""

    type: NotificationType
    message: str
    created_at: datetime
    email: bool = False


class ReminderRepository(Protocol):
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
        """Examine up to `limit` open tasks due in the window with no DUE_SOON log, in order, after `after`;
        insert a DUE_SOON log for each that is still open and due when the claim holds it, record `audit`'s
        event and `notice`'s notification (for the task's owner) for each, and say what was claimed and how far
        the batch got.

        The database's unique constraint decides who claims a task, so concurrent passes never double up: the
        event and the notification are written only for the logs this claim inserted. Claims, their events and
        their notifications are written together, set-based: a batch is thousands of tasks.
        """
        ...

    def forget(self, task_id: UUID) -> None: ...

    def list_sent(self, page: int, page_size: int) -> Page[SentReminder]:
        """Reminders sent, newest first."""
        ...


@dataclass(frozen=True)
class NotificationQuery:
    """One user's notifications, newest first; `unread_only` leaves out those already read."""

    user_id: UUID
    unread_only: bool = False
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True)
class NotificationPage(Page[Notification]):
    """A page of a user's notifications, and how many of all theirs are unread (whatever the filter)."""

    unread: int = 0


class NotificationRepository(Protocol):
    def add(self, notification: Notification) -> None: ...

    def list_for_user(self, query: NotificationQuery) -> NotificationPage:
        """The user's own only, newest first (created_at, then id), with the total under the filter and the
        user's unread count."""
        ...

    def mark_read(self, user_id: UUID, notification_id: UUID, at: datetime) -> Notification | None:
        """Marks the user's notification read at `at` unless it already was (the first moment stays), and returns
        it; None when the user has no such notification (another user's included)."""
        ...

    def mark_all_read(self, user_id: UUID, at: datetime) -> int:
        """Marks every unread notification of the user read at `at`; how many it marked."""
        ...

    def count_unread(self, user_id: UUID) -> int: ...


@dataclass(frozen=True)
class OutgoingEmail:
    """One e-mail of the outbox. `message_id` is derived from its outbox row (`<row-id@domain>`), so a resend
    after a crash between the SMTP answer and the commit carries the same Message-ID and can be recognised."""

    message_id: str
    sender: str
    to: str
    subject: str
    text: str


class DeliveryFailed(Exception):
    """A delivery attempt did not succeed. `permanent`: another attempt cannot help (an address the server
    refused for good, a webhook target that is not allowed); otherwise it is tried again after a backoff.
    `status`: the receiver's answer, when there was one (SMTP reply code or HTTP status)."""

    def __init__(self, reason: str, *, permanent: bool = False, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.status = status


class EmailSender(Protocol):
    def send(self, email: OutgoingEmail) -> int:
        """Hands the e-mail to the SMTP server; returns once the server accepted it, with the code of its reply to
        the message. Raises DeliveryFailed."""
        ...


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


class WebhookSender(Protocol):
    def post(self, request: WebhookRequest) -> int:
        """POSTs the body to the URL with a short timeout, never following a redirect, and only to an address
        the target policy allows (checked again at each delivery, against the address connected to); returns
        the HTTP status. Raises DeliveryFailed when there was no answer or the target is not allowed."""
        ...


class WebhookTargetPolicy(Protocol):
    def check(self, url: str) -> None:
        """Raises ValidationError (400) when the URL is not an http(s) URL this service may call: a host that
        resolves to a loopback, private, link-local, cloud-metadata or otherwise reserved address, unless the
        deployment allows private targets."""
        ...


@dataclass(frozen=True)
class WebhookEvent:
    """Something that happened to a user's own task, as each of their webhooks subscribed to its type receives
    it: the same `id` for every webhook and every attempt."""

    id: UUID
    type: WebhookEventType
    occurred_at: datetime
    # JSON-safe: the task, or the attachment with its task's id.
    data: dict[str, Any]
    task_id: UUID | None = None


class WebhookRepository(Protocol):
    def add(self, webhook: Webhook) -> None: ...
    def count_for_user(self, user_id: UUID) -> int: ...
    def list_for_user(self, user_id: UUID, page: int, page_size: int) -> Page[Webhook]:
        """The user's own, newest first."""
        ...

    def get_for_user(self, user_id: UUID, webhook_id: UUID) -> Webhook | None:
        """None when the user has no such webhook, another user's included."""
        ...

    def delete(self, webhook_id: UUID) -> None:
        """The webhook and its deliveries, sent or not."""
        ...

    def deliveries(self, webhook_id: UUID, page: int, page_size: int) -> Page[WebhookDelivery]:
        """The webhook's deliveries, newest first."""
        ...


@dataclass(frozen=True)
class OutboxMessage:
    """A message the outbox holds, as a delivery run claimed it: `attempts` counts this one. A webhook's
    message names its URL and secret as they are now; an e-mail's payload holds its address and what to say."""

    id: UUID
    channel: DeliveryChannel
    event_type: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    webhook_url: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt came to. Delivered; or failed, and then tried again at `retry_at`, or (None) given up."""

    message_id: UUID
    delivered: bool
    response_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None


class OutboxRepository(Protocol):
    def announce(self, owner_id: UUID, event: WebhookEvent) -> int:
        """Queues the event for each webhook of `owner_id` subscribed to its type, in the caller's transaction
        (so an event is queued exactly when its change commits); how many it queued."""
        ...

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        """Up to `limit` pending messages due by `now`, oldest due first, each with one more attempt counted and
        not due again before `lease_until`: a run that dies after sending leaves its messages to be sent again
        once the lease is over, never sooner. Rows another run holds are skipped."""
        ...

    def record(self, outcomes: Sequence[DeliveryOutcome], at: datetime) -> None: ...


class NotificationSettingsRepository(Protocol):
    def email_enabled(self, user_id: UUID) -> bool:
        """On unless the user turned it off."""
        ...

    def set_email(self, user_id: UUID, enabled: bool, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() rolls everything back."""

    # Read-only in the protocol, so an adapter may expose its own repository types.
    @property
    def users(self) -> UserRepository: ...
    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...
    @property
    def tasks(self) -> TaskRepository: ...
    @property
    def attachments(self) -> AttachmentRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def reminders(self) -> ReminderRepository: ...
    @property
    def storage_changes(self) -> StorageChangeRepository: ...
    @property
    def notifications(self) -> NotificationRepository: ...
    @property
    def notification_settings(self) -> NotificationSettingsRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """`read_only`: the block only reads, each statement seeing what is committed when it runs, and
        commit() is refused. An adapter may then skip the transaction's own round trips (BEGIN, ROLLBACK),
        which on the reads every request makes are a large share of their cost."""
        ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def needs_rehash(self, password_hash: str) -> bool: ...


class AccessTokenIssuer(Protocol):
    ttl_seconds: int

    def issue(self, user: User) -> str: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class StoredObject:
    size_bytes: int
    content_type: str
    chunks: Iterator[bytes]


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    fields: dict[str, str]
    expires_in: int


class FileStorage(Protocol):
    """Objects are written pending: storage expires a pending object by itself (after a day) unless it is
    marked kept. put() and presigned uploads both write pending objects. Deleting a missing object succeeds."""

    def put(self, key: str, stream: BinaryIO, content_type: str, max_bytes: int) -> int:
        """Stream to storage; return the size. Over max_bytes: nothing is kept and PayloadTooLargeError is raised."""
        ...

    def mark_kept(self, key: str) -> bool:
        """The object no longer expires; False when there is no such object."""
        ...

    def mark_pending(self, key: str) -> None:
        """The object expires again, as if it had just been uploaded; nothing happens to a missing one."""
        ...

    def open(self, key: str) -> StoredObject: ...
    def delete(self, key: str) -> None: ...
    def delete_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Deletes the objects and returns the keys storage refused, each with its reason; every other key is
        gone. Raises when storage answered for none of them."""
        ...

    def head(self, key: str) -> StoredObject | None: ...
    def copy_pending(self, source: str, target: str) -> StoredObject | None:
        """Copies the object, its content type with it, to `target`, written pending like any new object; the
        copy's size and content type, or None when there is no such source object."""
        ...

    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedUpload:
        """A form a client posts the file with, straight to storage; the object it creates is pending."""
        ...


HealthState = Literal["up", "down", "unknown"]


class HealthProbe(Protocol):
    """Asks one backing service whether it answers: the database, Redis, storage, the reminder worker."""

    def check(self) -> HealthState:
        """Blocks until the service answers or a socket timeout of the adapter's passes: a caller that must
        answer in time waits with a timeout of its own. "unknown": there is nothing to tell from (a worker
        never seen). Raising means the service did not answer: a caller reads it as down."""
        ...


class FunctionInvoker(Protocol):
    """Calls another function of the API synchronously by its deployed name (Lambda's Invoke API on AWS)."""

    def invoke(self, function_name: str, payload: bytes) -> bytes:
        """The function's answer. Raises when the call fails or the function itself failed."""
        ...
