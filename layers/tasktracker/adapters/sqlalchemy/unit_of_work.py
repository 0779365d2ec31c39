from __future__ import annotations

from contextlib import suppress
from functools import cached_property
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
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
    """One database transaction; rolls back unless commit() was called.

    Read-only, it is one pooled connection in autocommit (psycopg sends no BEGIN, nothing is left to end), and an
    ORM session on that connection is made only if a repository asks for one: the reads every request makes are
    prebuilt Core statements, and a session's setup and close were a quarter of such a unit's cost. The repositories
    are made as they are first used."""

    def __init__(self, sessions: sessionmaker[Session], *, read_only: bool = False):
        self._sessions = sessions
        self._read_only = read_only
        self._session: Session | None = None
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        if not self._read_only:
            self._session = self._sessions()
        return self

    @property
    def session(self) -> Session:
        if self._session is None:
            # Read-only: the session joins the unit's connection, whose close ends it.
            self._session = self._sessions(bind=self.connection())
        return self._session

    def connection(self) -> Connection:
        if not self._read_only:
            # The session's, which begins its transaction on first use.
            return self.session.connection()
        if self._connection is None:
            engine: Engine = self._sessions.kw["bind"]
            self._connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    @cached_property
    def users(self) -> SqlUserRepository:
        return SqlUserRepository(self)

    @cached_property
    def refresh_tokens(self) -> SqlRefreshTokenRepository:
        return SqlRefreshTokenRepository(self)

    @cached_property
    def tasks(self) -> SqlTaskRepository:
        return SqlTaskRepository(self)

    @cached_property
    def attachments(self) -> SqlAttachmentRepository:
        return SqlAttachmentRepository(self)

    @cached_property
    def audit(self) -> SqlAuditLog:
        return SqlAuditLog(self)

    @cached_property
    def reminders(self) -> SqlReminderRepository:
        return SqlReminderRepository(self)

    @cached_property
    def storage_changes(self) -> SqlStorageChangeRepository:
        return SqlStorageChangeRepository(self)

    @cached_property
    def notifications(self) -> SqlNotificationRepository:
        return SqlNotificationRepository(self)

    @cached_property
    def notification_settings(self) -> SqlNotificationSettingsRepository:
        return SqlNotificationSettingsRepository(self)

    @cached_property
    def webhooks(self) -> SqlWebhookRepository:
        return SqlWebhookRepository(self)

    @cached_property
    def outbox(self) -> SqlOutboxRepository:
        return SqlOutboxRepository(self)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing ends the transaction, rolled back unless committed, and gives the connection back to the pool;
        # a rollback() first would undo the session's bookkeeping twice (a fifth of the ORM's cost of a read).
        # Errors are dropped: the connection is already gone, and the error being raised says more.
        if self._session is not None:
            with suppress(sa_exc.SQLAlchemyError):
                self._session.close()
        if self._connection is not None:
            with suppress(sa_exc.SQLAlchemyError):
                self._connection.close()
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
        if self._session is not None:
            self._session.rollback()
