from __future__ import annotations

from tasktracker.application.attachments import AttachmentUseCases
from tasktracker.application.clock import SystemClock
from tasktracker.config import Settings

from . import unit_of_work_factory
from .storage import DeferredFileStorage


def attachment_use_cases(settings: Settings) -> AttachmentUseCases:
    return AttachmentUseCases(
        uow=unit_of_work_factory(settings),
        storage=DeferredFileStorage(settings),
        clock=SystemClock(),
        max_upload_bytes=settings.max_upload_bytes,
        presigned_upload_ttl_seconds=settings.presigned_upload_ttl_seconds,
    )
