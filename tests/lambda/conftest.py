"""The built Lambda artifacts (`sam build`) under the AWS Lambda Runtime Interface Emulator, on the template's
Python, with the real PostgreSQL, Redis and (moto) S3 of the rest of the suite.

`make lambda-test` builds and runs this. One emulator per function for the session (ops watching the others
through their Lambda Invoke API), and `api` replaced by requests through API Gateway's routes as events.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local.lambda_runtime import (
    BUILD_DIR,
    Emulator,
    EmulatorError,
    function_emulator,
    function_folders,
    http_event,
    lambda_environment,
    template_python_version,
)
from local.services import LocalServices
from tests.support.lambda_api import LambdaApi

# These tests run on the template's Python (`make lambda-test`); the containers' Python runs the rest.
ON_LAMBDA_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}" == template_python_version()
collect_ignore_glob = [] if ON_LAMBDA_PYTHON else ["test_*.py"]


@pytest.fixture(scope="session")
def built_functions() -> dict[str, Path]:
    folders = function_folders(BUILD_DIR)
    if not folders:
        raise EmulatorError(f"no built functions in {BUILD_DIR}: `make lambda-test` builds them (sam build)")
    return folders


@pytest.fixture(scope="session")
def lambda_values(stack_env: dict[str, str]) -> dict[str, str]:
    """The test services as the template's variables name them. The webhook receivers of the delivery tests
    listen on loopback, a target the template rightly refuses on AWS: here webhooks may aim at it."""
    return {**stack_env, "LOG_LEVEL": "WARNING", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}


@pytest.fixture(scope="session")
def attachments_bucket(services: LocalServices, stack_env: dict[str, str]) -> str:
    """On AWS the template creates the bucket; here it is made once, in moto."""
    s3 = boto3.client(
        "s3",
        endpoint_url=services.s3_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if stack_env["S3_BUCKET"] not in existing:
        s3.create_bucket(Bucket=stack_env["S3_BUCKET"])
    return stack_env["S3_BUCKET"]


@pytest.fixture(scope="session")
def emulators(
    built_functions: dict[str, Path],
    lambda_values: dict[str, str],
    attachments_bucket: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Emulator]]:
    """One running emulator per built function; ops reaches the others through their Invoke API."""
    logs = tmp_path_factory.mktemp("lambda-logs")
    running: dict[str, Emulator] = {
        name: function_emulator(name, lambda_environment(name, lambda_values), logs)
        for name in built_functions
        if name != "ops"
    }
    invoke_urls = ",".join(f"{name}={emulator.invoke_url}" for name, emulator in running.items())
    running["ops"] = function_emulator(
        "ops", lambda_environment("ops", lambda_values, FUNCTION_INVOKE_URLS=invoke_urls), logs
    )
    try:
        for emulator in running.values():
            emulator.start()
        # As the router's stack waits for each function's /health/live: every environment starts warm.
        for emulator in running.values():
            answer = emulator.invoke(http_event("GET", "/health/live")).result
            if answer.get("statusCode") != 200:
                raise EmulatorError(f"{emulator.name} answered {answer}:\n{emulator.logs()[-3000:]}")
        # Ops's probes load their clients (boto3 for S3) on their first check: once here, not inside a test's.
        running["ops"].invoke(http_event("GET", "/api/v1/health/ready"))
        yield running
    finally:
        for emulator in running.values():
            emulator.stop()


@pytest.fixture
def api(emulators: dict[str, Emulator], fresh_rate_limits: None) -> LambdaApi:
    return LambdaApi(emulators)
