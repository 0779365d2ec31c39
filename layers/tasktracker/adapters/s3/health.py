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
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=self.timeout_seconds,
            read_timeout=self.timeout_seconds,
            retries={"max_attempts": 1},
            s3={"addressing_style": "path"},
        )
        session = boto3.session.Session(region_name=self.region)
        return session.client("s3", endpoint_url=self.endpoint_url, config=config)

    def check(self) -> HealthState:
        self._client.head_bucket(Bucket=self.bucket)
        return "up"
