from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from .ports import UnitOfWorkFactory


@dataclass
class ActiveUsers:
    """Asked on every authenticated request: a deleted or deactivated user's live token stops working at once."""

    uow: UnitOfWorkFactory

    def __call__(self, user_id: UUID) -> bool:
        with self.uow(read_only=True) as uow:
            user = uow.users.get(user_id)
        return user is not None and user.is_active
