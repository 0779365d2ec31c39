"""Users, found by id or by email whatever its case."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, insert, select, update

from tasktracker.domain.entities import User, UserSession

from .base import SqlRepository
from .models import USERS, UserRow

# A signed-in read's lookup, built once: its statement and cache key are the same for every user, and the row is
# read straight into the domain's User, without the ORM's identity map.
_USER_BY_ID = select(USERS).where(USERS.c.id == bindparam("user_id"))
# The session check's read when the cache has no state for the user: built once, run on the unit's connection,
# so a read-only unit makes no ORM session for it.
_SESSION_BY_ID = select(USERS.c.is_active, USERS.c.session_epoch).where(USERS.c.id == bindparam("user_id"))


def _user(row: Any) -> User:
    return User(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        full_name=row.full_name,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        session_epoch=row.session_epoch,
    )


class SqlUserRepository(SqlRepository):
    def add(self, user: User) -> None:
        self.session.execute(
            insert(UserRow).values(
                id=user.id,
                email=user.email,
                password_hash=user.password_hash,
                full_name=user.full_name,
                is_active=user.is_active,
                created_at=user.created_at,
                updated_at=user.updated_at,
                session_epoch=user.session_epoch,
            )
        )

    def get(self, user_id: UUID) -> User | None:
        row = self.connection().execute(_USER_BY_ID, {"user_id": user_id}).one_or_none()
        return _user(row) if row else None

    def get_for_update(self, user_id: UUID) -> User | None:
        row = self.session.scalars(select(UserRow).where(UserRow.id == user_id).with_for_update()).first()
        return _user(row) if row else None

    def get_session(self, user_id: UUID) -> UserSession | None:
        row = self.connection().execute(_SESSION_BY_ID, {"user_id": user_id}).one_or_none()
        return UserSession(is_active=row.is_active, session_epoch=row.session_epoch) if row else None

    def get_by_email(self, email: str) -> User | None:
        row = self.session.scalars(select(UserRow).where(func.lower(UserRow.email) == email.lower())).first()
        return _user(row) if row else None

    def save(self, user: User) -> None:
        self.session.execute(
            update(UserRow)
            .where(UserRow.id == user.id)
            .values(
                email=user.email,
                password_hash=user.password_hash,
                full_name=user.full_name,
                is_active=user.is_active,
                updated_at=user.updated_at,
                session_epoch=user.session_epoch,
            )
        )
