from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from tasktracker.domain.entities import UserSession
from tasktracker.domain.errors import AuthenticationError

from .ports import SessionCache, UnitOfWorkFactory


class NoSessionCache:
    """Where there is no Redis: every check reads the database."""

    def expect(self, user_id: UUID | None) -> None:
        pass

    def get(self, user_id: UUID) -> UserSession | None:
        return None

    def fill(self, user_id: UUID, session: UserSession) -> None:
        pass

    def hold(self, user_id: UUID) -> None:
        pass

    def publish(self, user_id: UUID, session: UserSession) -> None:
        pass


@dataclass
class ActiveUsers:
    """Asked on every authenticated request: a deleted or deactivated user's live token stops working at once, and
    so does any token issued before the user's sessions last ended (a password change or a deactivation bumps the
    user's session epoch). The state comes from the session cache (in the rate limit's Redis round trip when the
    platform expects it), and from one primary-key read of the user row when the cache has none, which then
    fills it. The rule itself is the domain's (`UserSession.admit`)."""

    uow: UnitOfWorkFactory
    sessions: SessionCache = field(default_factory=NoSessionCache)

    def expect(self, user_id: UUID | None) -> None:
        """The platform names the request's user as soon as it knows it (None at the start of each request)."""
        self.sessions.expect(user_id)

    def __call__(self, user_id: UUID, session_epoch: int | None) -> None:
        """Returns if the token's user is active and its session epoch is the current one; otherwise raises
        AuthenticationError (ACCOUNT_DISABLED or TOKEN_REVOKED). `session_epoch` is None when the token has none."""
        session = self.sessions.get(user_id)
        if session is None:
            with self.uow(read_only=True) as uow:
                session = uow.users.get_session(user_id)
            if session is None:
                raise AuthenticationError("This account no longer exists or is deactivated", code="ACCOUNT_DISABLED")
            self.sessions.fill(user_id, session)
        session.admit(session_epoch)
