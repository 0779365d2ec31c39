"""Attachments' rows; their files are the storage adapter's."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, insert, select

from tasktracker.domain.entities import Attachment

from .base import SqlRepository
from .models import ATTACHMENTS, AttachmentRow

# Read with every task shown whole: built once, rows straight into the domain's Attachment (no ORM identity map).
_ATTACHMENTS_OF_TASK = (
    select(ATTACHMENTS)
    .where(ATTACHMENTS.c.task_id == bindparam("task_id"))
    .order_by(ATTACHMENTS.c.created_at, ATTACHMENTS.c.id)
)


def _attachment(row: Any) -> Attachment:
    return Attachment(
        id=row.id,
        task_id=row.task_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        storage_path=row.storage_path,
        created_at=row.created_at,
    )


class SqlAttachmentRepository(SqlRepository):
    def add(self, attachment: Attachment) -> None:
        self.session.execute(
            insert(AttachmentRow).values(
                id=attachment.id,
                task_id=attachment.task_id,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size_bytes=attachment.size_bytes,
                storage_path=attachment.storage_path,
                created_at=attachment.created_at,
            )
        )

    def get(self, attachment_id: UUID) -> Attachment | None:
        row = self.session.get(AttachmentRow, attachment_id)
        return _attachment(row) if row else None

    def list_for_task(self, task_id: UUID) -> list[Attachment]:
        rows = self.connection().execute(_ATTACHMENTS_OF_TASK, {"task_id": task_id})
        return [_attachment(row) for row in rows]

    def delete(self, attachment: Attachment) -> None:
        self.session.execute(delete(AttachmentRow).where(AttachmentRow.id == attachment.id))

    def recorded_keys(self, keys: Collection[str]) -> set[str]:
        if not keys:
            return set()
        found = self.session.scalars(
            select(AttachmentRow.storage_path)
            .where(AttachmentRow.storage_path.in_(list(keys)))
            # FOR SHARE: a delete of these rows waits until this transaction ends, so a file kept now has its row.
            .with_for_update(read=True)
        )
        return set(found)
