"""Refresh tokens, stored by hash, revoked one by one, by family or for a whole user."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import ColumnElement, insert, select, update

from tasktracker.domain.entities import RefreshToken

from .base import SqlRepository
from .models import RefreshTokenRow


class SqlRefreshTokenRepository(SqlRepository):
    def add(self, token: RefreshToken) -> None:
        self.session.execute(
            insert(RefreshTokenRow).values(
                id=token.id,
                user_id=token.user_id,
                family_id=token.family_id,
                token_hash=token.token_hash,
                expires_at=token.expires_at,
                revoked=token.revoked,
                created_at=token.created_at,
            )
        )

    def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        # Locked so that two refreshes racing with one token cannot both rotate it.
        row = self.session.execute(
            select(RefreshTokenRow).where(RefreshTokenRow.token_hash == token_hash).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            return None
        return RefreshToken(
            id=row.id,
            user_id=row.user_id,
            family_id=row.family_id,
            token_hash=row.token_hash,
            expires_at=row.expires_at,
            revoked=row.revoked,
            created_at=row.created_at,
        )

    def revoke(self, token_id: UUID) -> None:
        self.session.execute(update(RefreshTokenRow).where(RefreshTokenRow.id == token_id).values(revoked=True))

    def revoke_family(self, family_id: UUID) -> int:
        return self._revoke_where(RefreshTokenRow.family_id == family_id)

    def revoke_all_for_user(self, user_id: UUID) -> int:
        return self._revoke_where(RefreshTokenRow.user_id == user_id)

    def _revoke_where(self, condition: ColumnElement[bool]) -> int:
        result = self.session.execute(
            update(RefreshTokenRow).where(condition, RefreshTokenRow.revoked.is_(False)).values(revoked=True)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
