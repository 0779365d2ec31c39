"""Use cases of the attachments function. The file and its row are written together or not at all.

Every object is written pending and storage expires pending objects by itself, so an upload nobody records
(a presigned form posted but never confirmed, a process that died mid-upload) goes away on its own. An object
is marked kept only inside the transaction that writes its row, just before the commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID

from tasktracker.domain import rules
from tasktracker.domain.entities import Attachment, Task, new_id
from tasktracker.domain.enums import AuditEventType
from tasktracker.domain.errors import ConflictError, NotFoundError, ValidationError

from . import audit_trail
from .ports import Clock, FileStorage, PresignedUpload, StoredObject, UnitOfWork, UnitOfWorkFactory
from .tasks import task_not_found

logger = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Download:
    attachment: Attachment
    content: StoredObject


@dataclass(frozen=True)
class UploadTicket:
    attachment_id: UUID
    upload: PresignedUpload


def attachment_not_found() -> NotFoundError:
    return NotFoundError("Attachment not found", code="ATTACHMENT_NOT_FOUND")


def upload_not_found() -> ValidationError:
    return ValidationError.for_field("attachment_id", "No uploaded file was found for this id.")


def storage_key(task_id: UUID, attachment_id: UUID) -> str:
    # Never derived from the user's filename: no path tricks reach the bucket.
    return f"tasks/{task_id}/{attachment_id}"


# A media type as HTTP spells one (RFC 9110 8.3.1): two tokens of visible ASCII, no separators, around a slash.
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+/[a-z0-9!#$%&'*+.^_`|~-]+")


def clean_content_type(content_type: str | None) -> str:
    """The media type without its parameters, lower-cased; anything that is not one (control characters, NUL,
    spaces, non-ASCII, over 255 characters) is stored and served as application/octet-stream instead."""
    value = (content_type or "").split(";")[0].strip(" \t")
    # Lower-cased only once known to be ASCII: a few other letters lower-case into it (the Kelvin sign into k).
    if len(value) > 255 or not value.isascii() or not _MEDIA_TYPE.fullmatch(value.lower()):
        return DEFAULT_CONTENT_TYPE
    return value.lower()


@dataclass
class AttachmentUseCases:
    uow: UnitOfWorkFactory
    storage: FileStorage
    clock: Clock
    max_upload_bytes: int = 25 * 1024 * 1024
    presigned_upload_ttl_seconds: int = 900

    def upload(
        self, user_id: UUID, task_id: UUID, *, filename: str | None, content_type: str | None, stream: BinaryIO
    ) -> Attachment:
        with self.uow() as uow:
            self._owned_task(uow, user_id, task_id)
        attachment_id = new_id()
        key = storage_key(task_id, attachment_id)
        content_type = clean_content_type(content_type)
        size = self.storage.put(key, stream, content_type, self.max_upload_bytes)
        if size == 0:
            self.storage.delete(key)
            raise ValidationError.for_field("file", "The file is empty.")
        return self._record(
            user_id,
            task_id,
            attachment_id,
            rules.sanitize_filename(filename),
            content_type,
            size,
            key,
            # The client cannot send these bytes again without the whole body: nothing is worth keeping.
            discard_unrecorded=True,
        )

    def list_for_task(self, task_id: UUID) -> list[Attachment]:
        with self.uow() as uow:
            if uow.tasks.get(task_id) is None:
                raise task_not_found()
            return uow.attachments.list_for_task(task_id)

    def download(self, attachment_id: UUID) -> Download:
        with self.uow() as uow:
            attachment = uow.attachments.get(attachment_id)
        if attachment is None:
            raise attachment_not_found()
        return Download(attachment, self.storage.open(attachment.storage_path))

    def delete(self, user_id: UUID, attachment_id: UUID) -> None:
        with self.uow() as uow:
            attachment = uow.attachments.get(attachment_id)
            if attachment is None:
                raise attachment_not_found()
            self._owned_task(uow, user_id, attachment.task_id)
            uow.attachments.delete(attachment)
            audit_trail.record(
                uow,
                AuditEventType.ATTACHMENT_REMOVED,
                now=self.clock.now(),
                user_id=user_id,
                task_id=attachment.task_id,
                attachment_id=attachment.id,
                details={"filename": attachment.filename, "size_bytes": attachment.size_bytes},
            )
            # The row's removal is pending: if storage refuses, the transaction rolls back and both stay.
            self.storage.delete(attachment.storage_path)
            uow.commit()

    def request_upload(self, user_id: UUID, task_id: UUID, *, content_type: str | None) -> UploadTicket:
        """The serverless path for large files: the client posts straight to S3 with a presigned form."""
        with self.uow() as uow:
            self._owned_task(uow, user_id, task_id)
        attachment_id = new_id()
        upload = self.storage.presigned_post(
            storage_key(task_id, attachment_id),
            clean_content_type(content_type),
            self.max_upload_bytes,
            self.presigned_upload_ttl_seconds,
        )
        return UploadTicket(attachment_id, upload)

    def confirm_upload(self, user_id: UUID, task_id: UUID, *, attachment_id: UUID, filename: str | None) -> Attachment:
        with self.uow() as uow:
            self._owned_task(uow, user_id, task_id)
            if uow.attachments.get(attachment_id) is not None:
                raise ValidationError.for_field("attachment_id", "This upload was already confirmed.")
        key = storage_key(task_id, attachment_id)
        stored = self.storage.head(key)
        if stored is None:
            raise upload_not_found()
        if stored.size_bytes > self.max_upload_bytes or stored.size_bytes == 0:
            self.storage.delete(key)
            raise ValidationError.for_field("file", "The uploaded file is empty or larger than allowed.")
        return self._record(
            user_id,
            task_id,
            attachment_id,
            rules.sanitize_filename(filename),
            clean_content_type(stored.content_type),
            stored.size_bytes,
            key,
            # Left pending, the upload can still be confirmed by a retry until it expires.
            discard_unrecorded=False,
        )

    def _record(
        self,
        user_id: UUID,
        task_id: UUID,
        attachment_id: UUID,
        filename: str,
        content_type: str,
        size: int,
        key: str,
        *,
        discard_unrecorded: bool,
    ) -> Attachment:
        now = self.clock.now()
        attachment = Attachment(
            id=attachment_id,
            task_id=task_id,
            filename=filename,
            content_type=content_type,
            size_bytes=size,
            storage_path=key,
            created_at=now,
        )
        marked_kept = False
        try:
            with self.uow() as uow:
                # Checked again: the task may have been deleted or given away while the bytes travelled.
                self._owned_task(uow, user_id, task_id, lock=True)
                uow.attachments.add(attachment)
                audit_trail.record(
                    uow,
                    AuditEventType.ATTACHMENT_ADDED,
                    now=now,
                    user_id=user_id,
                    task_id=task_id,
                    attachment_id=attachment_id,
                    details={"filename": filename, "content_type": content_type, "size_bytes": size},
                )
                # Last before the commit: if storage refuses, no row is written and the object still expires.
                if not self.storage.mark_kept(key):
                    raise upload_not_found()
                marked_kept = True
                uow.commit()
        except ConflictError:
            # Another confirmation of the same upload won the race: the object is its file now, keep it.
            raise ValidationError.for_field("attachment_id", "This upload was already confirmed.") from None
        except BaseException:
            if marked_kept:
                self._settle_after_failed_commit(task_id, attachment_id, key, discard=discard_unrecorded)
            elif discard_unrecorded:
                self._discard(key)
            raise
        return attachment

    def _settle_after_failed_commit(self, task_id: UUID, attachment_id: UUID, key: str, *, discard: bool) -> None:
        """The object was marked kept but the commit failed, or only seemed to: the row decides what it becomes.

        Under the task's lock, as every recording takes it, so a concurrent confirmation of the same upload
        cannot mark the object kept between this look and the change.
        """
        try:
            with self.uow() as uow:
                uow.tasks.get_for_update(task_id)
                if uow.attachments.get(attachment_id) is not None:
                    return
                if discard:
                    self.storage.delete(key)
                else:
                    self.storage.mark_pending(key)
        except Exception:
            logger.exception(
                "an upload whose row was not written may stay in storage for good", extra={"storage_key": key}
            )

    def _discard(self, key: str) -> None:
        try:
            self.storage.delete(key)
        except Exception:
            logger.exception("could not remove stored object after a failed upload", extra={"storage_key": key})

    @staticmethod
    def _owned_task(uow: UnitOfWork, user_id: UUID, task_id: UUID, *, lock: bool = False) -> Task:
        task = uow.tasks.get_for_update(task_id) if lock else uow.tasks.get(task_id)
        if task is None:
            raise task_not_found()
        task.ensure_owned_by(user_id)
        return task
