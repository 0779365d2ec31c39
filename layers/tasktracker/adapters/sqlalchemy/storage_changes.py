"""The storage outbox's rows: written with the attachment rows they follow, taken by settlers without waiting."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, insert, or_, select, update

from tasktracker.application.ports import StorageAction, StorageChange

from .base import SqlRepository
from .models import StorageChangeRow


def _change(row: StorageChangeRow) -> StorageChange:
    return StorageChange(
        id=row.id,
        storage_key=row.storage_key,
        action=StorageAction(row.action),
        created_at=row.created_at,
        attempts=row.attempts,
        last_error=row.last_error,
        attempted_at=row.attempted_at,
    )


class SqlStorageChangeRepository(SqlRepository):
    def add(self, changes: Collection[StorageChange]) -> None:
        if not changes:
            return
        self.session.execute(
            insert(StorageChangeRow),
            [
                {
                    "id": change.id,
                    "storage_key": change.storage_key,
                    "action": change.action.value,
                    "created_at": change.created_at,
                    "attempts": change.attempts,
                    "last_error": change.last_error,
                    "attempted_at": change.attempted_at,
                }
                for change in changes
            ],
        )

    def claim(self, created_before: datetime, attempted_before: datetime, limit: int) -> list[StorageChange]:
        rows = self.session.scalars(
            select(StorageChangeRow)
            .where(
                StorageChangeRow.created_at <= created_before,
                or_(StorageChangeRow.attempted_at.is_(None), StorageChangeRow.attempted_at < attempted_before),
            )
            .order_by(StorageChangeRow.created_at, StorageChangeRow.id)
            .limit(limit)
            # SKIP LOCKED: a change a concurrent settler (or the request that wrote it) holds is not waited for.
            .with_for_update(skip_locked=True)
        )
        return [_change(row) for row in rows]

    def remove(self, change_ids: Collection[UUID]) -> None:
        if not change_ids:
            return
        # Rows this transaction locked itself are never skipped; a settler holding one removes it itself.
        free = (
            select(StorageChangeRow.id)
            .where(StorageChangeRow.id.in_(list(change_ids)))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        self.session.execute(delete(StorageChangeRow).where(StorageChangeRow.id.in_(free)))

    def record_failure(self, change_id: UUID, error: str, attempted_at: datetime) -> None:
        self.session.execute(
            update(StorageChangeRow)
            .where(StorageChangeRow.id == change_id)
            .values(attempts=StorageChangeRow.attempts + 1, last_error=error, attempted_at=attempted_at)
        )
