"""Use cases of the attachments function. A file is kept only once its row is committed, and goes once its row does.

Every object is written pending and storage expires pending objects by itself, so an upload nobody records
(a presigned form posted but never confirmed, a process that died mid-upload) goes away on its own. A presigned
form writes an upload key of its own, never the attachment's: confirming copies the upload to the attachment's
key, so a form posted again after its confirmation cannot reach the confirmed file. The
transaction that writes a row also writes what storage must then do (storage_changes.py): mark the object
kept, or delete it. Storage does it after the commit, and the settler does what a request could not.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID

from tasktracker.domain import rules
from tasktracker.domain.entities import Attachment, Task, new_id
from tasktracker.domain.enums import AuditEventType, WebhookEventType
from tasktracker.domain.errors import ConflictError, NotFoundError, ValidationError

from . import audit_trail, outbox, storage_changes
from .ports import (
    Clock,
    FileStorage,
    PresignedUpload,
    StorageAction,
    StorageChange,
    StoredObject,
    UnitOfWork,
    UnitOfWorkFactory,
)
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


def upload_key(task_id: UUID, attachment_id: UUID) -> str:
    """Where a presigned form writes. A form can be posted as often as it is valid, so it never writes a file
    that a row records: confirming copies the upload to storage_key()."""
    return f"uploads/{task_id}/{attachment_id}"


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
        now = self.clock.now()
        with self.uow() as uow:
            attachment = uow.attachments.get(attachment_id)
            if attachment is None:
                raise attachment_not_found()
            self._owned_task(uow, user_id, attachment.task_id)
            uow.attachments.delete(attachment)
            audit_trail.record(
                uow,
                AuditEventType.ATTACHMENT_REMOVED,
                now=now,
                user_id=user_id,
                task_id=attachment.task_id,
                attachment_id=attachment.id,
                details={"filename": attachment.filename, "size_bytes": attachment.size_bytes},
            )
            outbox.announce_attachment(uow, WebhookEventType.ATTACHMENT_REMOVED, user_id, attachment, now)
            change = storage_changes.new_change(attachment.storage_path, StorageAction.DISCARD, now)
            uow.storage_changes.add([change])
            uow.commit()
        # The row is gone whatever storage says now: a file it refuses to delete is left to the settler.
        storage_changes.discard_now(self.uow, lambda: self.storage, [change])

    def request_upload(self, user_id: UUID, task_id: UUID, *, content_type: str | None) -> UploadTicket:
        """The serverless path for large files: the client posts straight to S3 with a presigned form."""
        with self.uow() as uow:
            self._owned_task(uow, user_id, task_id)
        attachment_id = new_id()
        upload = self.storage.presigned_post(
            upload_key(task_id, attachment_id),
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
        source = upload_key(task_id, attachment_id)
        stored = self.storage.head(source)
        if stored is None:
            raise upload_not_found()
        self._check_uploaded_size(stored, source)
        return self._record(
            user_id,
            task_id,
            attachment_id,
            rules.sanitize_filename(filename),
            clean_content_type(stored.content_type),
            stored.size_bytes,
            storage_key(task_id, attachment_id),
            # The upload itself stays pending while unrecorded: a retry can still confirm it until it expires.
            discard_unrecorded=False,
            copied_from=source,
        )

    def _check_uploaded_size(self, stored: StoredObject, *keys: str) -> None:
        if stored.size_bytes > self.max_upload_bytes or stored.size_bytes == 0:
            for key in keys:
                self.storage.delete(key)
            raise ValidationError.for_field("file", "The uploaded file is empty or larger than allowed.")

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
        copied_from: str | None = None,
    ) -> Attachment:
        """Writes the row, its audit event and its outbox changes in one transaction, then carries the changes
        out. With `copied_from` (a presigned upload) the upload is first copied to `key`, under the task's lock,
        so that two confirmations of one upload copy it once; after the commit the copy is kept and the upload
        deleted."""
        now = self.clock.now()
        keep = storage_changes.new_change(key, StorageAction.KEEP, now)
        discards = [] if copied_from is None else [storage_changes.new_change(copied_from, StorageAction.DISCARD, now)]
        committing = False
        try:
            with self.uow() as uow:
                # Checked again: the task may have been deleted or given away while the bytes travelled.
                self._owned_task(uow, user_id, task_id, lock=True)
                if copied_from is not None:
                    if uow.attachments.get(attachment_id) is not None:
                        raise ValidationError.for_field("attachment_id", "This upload was already confirmed.")
                    copied = self.storage.copy_pending(copied_from, key)
                    if copied is None:
                        raise upload_not_found()
                    # What was copied is what is recorded: the form may have been posted again since its check.
                    self._check_uploaded_size(copied, copied_from, key)
                    content_type, size = clean_content_type(copied.content_type), copied.size_bytes
                attachment = Attachment(
                    id=attachment_id,
                    task_id=task_id,
                    filename=filename,
                    content_type=content_type,
                    size_bytes=size,
                    storage_path=key,
                    created_at=now,
                )
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
                outbox.announce_attachment(uow, WebhookEventType.ATTACHMENT_ADDED, user_id, attachment, now)
                # With the row: once it is committed, the object must be kept, by this request or the settler.
                uow.storage_changes.add([keep, *discards])
                committing = True
                uow.commit()
        except ConflictError:
            # Another confirmation of the same upload won the race: the object is its file now, and its own
            # 'keep' marks it kept.
            raise ValidationError.for_field("attachment_id", "This upload was already confirmed.") from None
        except BaseException:
            if committing:
                # A copy nobody records goes too: the upload it came from stays for a retry.
                discard = discard_unrecorded or copied_from is not None
                self._settle_after_failed_commit(user_id, attachment, keep, discards, discard=discard)
            elif discard_unrecorded:
                self._discard(key)
            raise
        self._keep(user_id, attachment, keep, discards)
        return attachment

    def _keep(self, user_id: UUID, attachment: Attachment, keep: StorageChange, discards: list[StorageChange]) -> None:
        """The row is committed: the object stops expiring. If storage refuses now, the settler does it later."""
        try:
            kept = self.storage.mark_kept(attachment.storage_path)
        except Exception:
            logger.warning(
                "a recorded upload is left for the settler to keep",
                exc_info=True,
                extra={"storage_key": attachment.storage_path},
            )
            # The row and its copy are there whatever storage says now: the upload is of no use any more.
            storage_changes.discard_now(self.uow, lambda: self.storage, discards)
            return
        if not kept:
            # The object vanished between its check and now (it expired, or was removed by hand): a row
            # without its file would answer every download with an error.
            self._forget_vanished(user_id, attachment, [keep, *discards])
            raise upload_not_found()
        storage_changes.forget(self.uow, [keep])
        # Kept: the upload it was copied from is of no use any more.
        storage_changes.discard_now(self.uow, lambda: self.storage, discards)

    def _forget_vanished(self, user_id: UUID, attachment: Attachment, changes: list[StorageChange]) -> None:
        with self.uow() as uow:
            uow.tasks.get_for_update(attachment.task_id)
            if uow.attachments.get(attachment.id) is not None:
                uow.attachments.delete(attachment)
                now = self.clock.now()
                audit_trail.record(
                    uow,
                    AuditEventType.ATTACHMENT_REMOVED,
                    now=now,
                    user_id=user_id,
                    task_id=attachment.task_id,
                    attachment_id=attachment.id,
                    details={
                        "filename": attachment.filename,
                        "size_bytes": attachment.size_bytes,
                        "file_missing": True,
                    },
                )
                # Its addition was announced when it committed; its end is announced too.
                outbox.announce_attachment(uow, WebhookEventType.ATTACHMENT_REMOVED, user_id, attachment, now)
            # The upload, if any, stays pending: a retry may confirm it again until storage expires it.
            uow.storage_changes.remove([change.id for change in changes])
            uow.commit()

    def _settle_after_failed_commit(
        self,
        user_id: UUID,
        attachment: Attachment,
        keep: StorageChange,
        discards: list[StorageChange],
        *,
        discard: bool,
    ) -> None:
        """The commit failed, or only seemed to: the row decides what the object becomes.

        Under the task's lock, as every recording takes it: the transaction that tried to commit holds that lock
        until it has committed or rolled back, so this look sees its outcome. Until then the object is still
        pending, so whatever fails here leaves it safe: if the row was written, its 'keep' was too and the
        settler keeps the object; if not, storage expires it.
        """
        try:
            with self.uow() as uow:
                uow.tasks.get_for_update(attachment.task_id)
                recorded = uow.attachments.get(attachment.id) is not None
                if not recorded and discard:
                    # Nothing is worth keeping: the client cannot send an API upload again without the whole
                    # body, and a presigned upload's copy is made again by a retry. Under the lock, so that no
                    # other confirmation's copy is deleted.
                    self.storage.delete(attachment.storage_path)
        except Exception:
            logger.warning(
                "an upload whose commit failed is left pending: the settler keeps it if its row was written, "
                "storage expires it otherwise",
                exc_info=True,
                extra={"storage_key": attachment.storage_path},
            )
            return
        if recorded:
            # Committed after all: finish what the request started; a retried confirmation finds it recorded.
            try:
                self._keep(user_id, attachment, keep, discards)
            except Exception:
                logger.warning("a recorded upload is left for the settler", exc_info=True)

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
