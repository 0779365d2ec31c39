from __future__ import annotations

from functools import cache

from tasktracker.adapters.s3.storage import S3FileStorage
from tasktracker.config import Settings


@cache
def file_storage(settings: Settings) -> S3FileStorage:
    return S3FileStorage.from_settings(settings)
