"""Synchronous calls to other Lambda functions through the Lambda Invoke API. boto3 loads at the first call."""

from __future__ import annotations

from functools import cached_property
from typing import Any


class FunctionError(RuntimeError):
    """The invoked function failed (Lambda's FunctionError): its payload holds the error."""


class LambdaInvoker:
    def __init__(self, region: str, timeout_seconds: float, endpoint_url: str | None = None):
        self.region = region
        self.timeout_seconds = timeout_seconds
        self.endpoint_url = endpoint_url

    @cached_property
    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=self.timeout_seconds,
            read_timeout=self.timeout_seconds,
            retries={"max_attempts": 1},
        )
        return boto3.session.Session(region_name=self.region).client(
            "lambda", endpoint_url=self.endpoint_url, config=config
        )

    def invoke(self, function_name: str, payload: bytes) -> bytes:
        answer = self._client.invoke(FunctionName=function_name, InvocationType="RequestResponse", Payload=payload)
        body: bytes = answer["Payload"].read()
        if answer.get("FunctionError"):
            raise FunctionError(f"{function_name} failed ({answer['FunctionError']}): {body[:500]!r}")
        return body
