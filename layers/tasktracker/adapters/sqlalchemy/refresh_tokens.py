"""Refresh tokens, stored by hash; rotated one by one, revoked by family or for a whole user."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, insert, select, update

from tasktracker.domain.entities import RefreshToken
from tasktracker.domain.enums import TokenRevocation

from .base import SqlRepository
from .models import RefreshTokenRow


def _token(row: RefreshTokenRow) -> RefreshToken:
    return RefreshToken(
        id=row.id,
        user_id=row.user_id,
        family_id=row.family_id,
        token_hash=row.token_hash,
        expires_at=row.expires_at,
        revoked=row.revoked,
        created_at=row.created_at,
        session_epoch=row.session_epoch,
        revoked_at=row.revoked_at,
        revoked_reason=TokenRevocation(row.revoked_reason) if row.revoked_reason else None,
        successor_id=row.successor_id,
        successor_sealed=row.successor_sealed,
    )


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
                session_epoch=token.session_epoch,
            )
        )

    def get(self, token_id: UUID) -> RefreshToken | None:
        row = self.session.get(RefreshTokenRow, token_id)
        return _token(row) if row else None

    def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        # Locked so that two refreshes racing with one token queue: the second sees the first's rotation.
        row = self.session.execute(
            select(RefreshTokenRow).where(RefreshTokenRow.token_hash == token_hash).with_for_update()
        ).scalar_one_or_none()
        return _token(row) if row else None

    def rotate(self, token: RefreshToken, successor_id: UUID, successor_sealed: str, at: datetime) -> None:
        # Only the newest rotation can still be answered within the grace: older sealed successors go.
        self._forget_sealed_successors(RefreshTokenRow.family_id == token.family_id)
        self.session.execute(
            update(RefreshTokenRow)
            .where(RefreshTokenRow.id == token.id)
            .values(
                revoked=True,
                revoked_at=at,
                revoked_reason=TokenRevocation.ROTATED.value,
                successor_id=successor_id,
                successor_sealed=successor_sealed,
            )
        )

    def revoke_family(self, family_id: UUID, reason: TokenRevocation, at: datetime) -> int:
        return self._revoke_where(RefreshTokenRow.family_id == family_id, reason, at)

    def revoke_all_for_user(self, user_id: UUID, reason: TokenRevocation, at: datetime) -> int:
        return self._revoke_where(RefreshTokenRow.user_id == user_id, reason, at)

    def _revoke_where(self, condition: ColumnElement[bool], reason: TokenRevocation, at: datetime) -> int:
        # With no live successor left, the sealed ones can never be answered again.
        self._forget_sealed_successors(condition)
        # Live tokens only: a token keeps the first reason it stopped for.
        result = self.session.execute(
            update(RefreshTokenRow)
            .where(condition, RefreshTokenRow.revoked.is_(False))
            .values(revoked=True, revoked_at=at, revoked_reason=reason.value)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _forget_sealed_successors(self, condition: ColumnElement[bool]) -> None:
        # A row locked by a refresh in flight is skipped rather than waited for (that refresh may be waiting
        # for a row this transaction holds); its sealed successor goes with a later rotation or revocation.
        sealed = (
            select(RefreshTokenRow.id)
            .where(condition, RefreshTokenRow.successor_sealed.is_not(None))
            .with_for_update(skip_locked=True)
        )
        self.session.execute(
            update(RefreshTokenRow).where(RefreshTokenRow.id.in_(sealed)).values(successor_sealed=None)
        )
