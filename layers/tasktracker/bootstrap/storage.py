from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from tasktracker.config import Settings

if TYPE_CHECKING:
    from tasktracker.adapters.s3.storage import S3FileStorage


@cache
def file_storage(settings: Settings) -> S3FileStorage:
    from tasktracker.adapters.s3.storage import S3FileStorage

    return S3FileStorage.from_settings(settings)


class DeferredFileStorage:
    """The function's file storage, made on the first call that needs it: boto3, its clients and the bucket
    check cost a cold start that lists, reads or deletes nothing stored (most requests) far more than the
    one request that first touches S3."""

    def __init__(self, settings: Settings):
        self._settings = settings

    def __getattr__(self, name: str) -> Any:
        return getattr(file_storage(self._settings), name)
