from __future__ import annotations

from contextlib import suppress
from types import TracebackType
from typing import Self

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from tasktracker.domain.errors import ConflictError, ServiceUnavailableError

from .attachments import SqlAttachmentRepository
from .audit import SqlAuditLog
from .notifications import SqlNotificationRepository, SqlNotificationSettingsRepository
from .outbox import SqlOutboxRepository
from .refresh_tokens import SqlRefreshTokenRepository
from .reminders import SqlReminderRepository
from .storage_changes import SqlStorageChangeRepository
from .tasks import SqlTaskRepository
from .users import SqlUserRepository
from .webhooks import SqlWebhookRepository


class SqlAlchemyUnitOfWork:
    """One database transaction; rolls back unless commit() was called."""

    session: Session
    users: SqlUserRepository
    refresh_tokens: SqlRefreshTokenRepository
    tasks: SqlTaskRepository
    attachments: SqlAttachmentRepository
    audit: SqlAuditLog
    reminders: SqlReminderRepository
    storage_changes: SqlStorageChangeRepository
    notifications: SqlNotificationRepository
    notification_settings: SqlNotificationSettingsRepository
    webhooks: SqlWebhookRepository
    outbox: SqlOutboxRepository

    def __init__(self, sessions: sessionmaker[Session], *, read_only: bool = False):
        self._sessions = sessions
        self._read_only = read_only

    def __enter__(self) -> Self:
        self.session = self._sessions()
        if self._read_only:
            # Autocommit: psycopg sends no BEGIN, and the closing rollback has nothing to roll back.
            self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        self.users = SqlUserRepository(self.session)
        self.refresh_tokens = SqlRefreshTokenRepository(self.session)
        self.tasks = SqlTaskRepository(self.session)
        self.attachments = SqlAttachmentRepository(self.session)
        self.audit = SqlAuditLog(self.session)
        self.reminders = SqlReminderRepository(self.session)
        self.storage_changes = SqlStorageChangeRepository(self.session)
        self.notifications = SqlNotificationRepository(self.session)
        self.notification_settings = SqlNotificationSettingsRepository(self.session)
        self.webhooks = SqlWebhookRepository(self.session)
        self.outbox = SqlOutboxRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing ends the transaction, rolled back unless committed, and gives the connection back to the pool;
        # a rollback() first would undo the session's bookkeeping twice (a fifth of the ORM's cost of a read).
        with suppress(sa_exc.SQLAlchemyError):  # the connection is already gone; the error being raised says more
            self.session.close()
        if isinstance(exc, sa_exc.IntegrityError):
            constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
            if constraint == "uq_users_email_lower":
                raise ConflictError("An account with this email already exists", code="EMAIL_TAKEN") from exc
            raise ConflictError("The change conflicts with existing data") from exc
        if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or (
            isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
        ):
            raise ServiceUnavailableError(
                "The database is unavailable, please retry shortly", code="DB_UNAVAILABLE"
            ) from exc

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
