"""boto3 clients for quick calls that must fail fast: one attempt, connect and read both bounded.

Imported only where a client is first made, so building an adapter never loads boto3."""

from __future__ import annotations

from typing import Any


def quick_client(service: str, region: str, endpoint_url: str | None, timeout_seconds: float, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    settings = Config(
        connect_timeout=timeout_seconds, read_timeout=timeout_seconds, retries={"max_attempts": 1}, **config
    )
    session: Any = boto3.session.Session(region_name=region)
    return session.client(service, endpoint_url=endpoint_url, config=settings)
