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
        from tasktracker.adapters.boto_clients import quick_client

        return quick_client("lambda", self.region, self.endpoint_url, self.timeout_seconds)

    def invoke(self, function_name: str, payload: bytes) -> bytes:
        answer = self._client.invoke(FunctionName=function_name, InvocationType="RequestResponse", Payload=payload)
        body: bytes = answer["Payload"].read()
        if answer.get("FunctionError"):
            raise FunctionError(f"{function_name} failed ({answer['FunctionError']}): {body[:500]!r}")
        return body
