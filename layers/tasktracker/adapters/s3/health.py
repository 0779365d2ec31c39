"""Does the attachments bucket exist and answer? What uploads need. boto3 loads at the first check."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from tasktracker.application.ports import HealthState


class BucketProbe:
    def __init__(self, bucket: str, region: str, endpoint_url: str | None, timeout_seconds: float):
        self.bucket = bucket
        self.region = region
        self.endpoint_url = endpoint_url
        self.timeout_seconds = timeout_seconds

    @cached_property
    def _client(self) -> Any:
        # Imported here: building the probe, as a function starts, does not load boto3.
        from tasktracker.adapters.boto_clients import quick_client

        return quick_client("s3", self.region, self.endpoint_url, self.timeout_seconds, s3={"addressing_style": "path"})

    def check(self) -> HealthState:
        self._client.head_bucket(Bucket=self.bucket)
        return "up"
