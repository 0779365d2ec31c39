from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tasktracker.domain.errors import AuthenticationError

from .ports import UnitOfWorkFactory


@dataclass
class ActiveUsers:
    """Asked on every authenticated request, with one primary-key read of the user row: a deleted or
    deactivated user's live token stops working at once, and so does any token issued before the user's
    sessions last ended (a password change or a deactivation bumps the row's session epoch)."""

    uow: UnitOfWorkFactory

    def __call__(self, user_id: UUID, session_epoch: int | None) -> None:
        """Returns if the token's user is active and its session epoch is the current one; otherwise raises
        AuthenticationError (ACCOUNT_DISABLED or TOKEN_REVOKED). `session_epoch` is None when the token has none."""
        with self.uow(read_only=True) as uow:
            session = uow.users.get_session(user_id)
        if session is None:
            raise AuthenticationError("This account no longer exists or is deactivated", code="ACCOUNT_DISABLED")
        session.admit(session_epoch)
