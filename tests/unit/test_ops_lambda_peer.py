"""Ops reaching a function on Lambda by its deployed name (FUNCTION_NAMES): LambdaPeer, through the real
LambdaInvoker and its boto3 client, to the Lambda Invoke API.

The Invoke API is moto's, in this process (mock_aws: botocore sends the real request, moto's Lambda service
parses it, finds the function by name and answers as Lambda does). Moto runs a function's code only in
Docker; without it, its Lambda answers canned payloads. Here its invoke runs the deployed function's own
Lambda handler in this process instead, the way Lambda would run it: an answer comes back as the payload,
an exception as Lambda's function error (the X-Amz-Function-Error header and an error payload).
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from functions.audit.app import create_app
from functions.ops.peers import LambdaPeer, PeerAnswer, call_concurrently, peer_answer, peers_from_environment
from tasktracker.adapters.aws_lambda.invoke import FunctionError, LambdaInvoker
from tasktracker.config import Settings
from tasktracker.platform.app_factory import lambda_handler

REGION = "us-east-1"
DEPLOYED = "tasktracker-AuditFunction-1A2B3C"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _audit_handler() -> Handler:
    """The audit function's Lambda handler; nothing it is asked here needs its database."""
    settings = Settings(
        environment="test",
        database_url="postgresql://nobody@127.0.0.1:1/nothing",
        jwt_secret_key="lambda-peer-test-secret-of-32-characters",
        rate_limit_enabled=False,
        log_level="WARNING",
    )
    return lambda_handler(create_app(settings))


def _failing_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the function broke")


class DeployedFunctions:
    """The handlers moto's Lambda runs, by deployed name, and the events each received."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []

    def deploy(self, name: str, handler: Handler) -> None:
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName=f"{name}-role", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "def handler(event, context):\n    return event\n")
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler", Code={"ZipFile": code.getvalue()}
        )
        self.handlers[name] = handler

    def invoke(self, backend: Any, name: str, qualifier: str | None, body: Any, response_headers: Any) -> bytes:
        function = backend.get_function(name, qualifier)  # Lambda's ResourceNotFoundException for a wrong name
        event = json.loads(body)
        self.events.append((function.function_name, event))
        try:
            return json.dumps(self.handlers[function.function_name](event, None)).encode()
        except Exception as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": str(error), "errorType": type(error).__name__}).encode()


@pytest.fixture
def lambda_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[DeployedFunctions]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    deployed = DeployedFunctions()

    def run_the_handler(
        backend: Any, name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        return deployed.invoke(backend, name, qualifier, body, response_headers)

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", run_the_handler)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield deployed


@pytest.fixture
def audit(lambda_service: DeployedFunctions) -> LambdaPeer:
    lambda_service.deploy(DEPLOYED, _audit_handler())
    return LambdaPeer("audit", DEPLOYED, LambdaInvoker(REGION, timeout_seconds=2.0))


def test_the_peer_invokes_the_function_by_its_deployed_name_with_an_http_api_event(
    audit: LambdaPeer, lambda_service: DeployedFunctions
) -> None:
    answer = audit.get("/health/live", timeout=2.0)

    assert answer.status == 200
    assert json.loads(answer.body) == {"status": "ok", "function": "audit"}
    [(name, event)] = lambda_service.events
    assert name == DEPLOYED
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/health/live"
    assert event["requestContext"]["http"]["method"] == "GET"


def test_the_peer_reads_the_functions_openapi_document_as_the_merged_document_does(audit: LambdaPeer) -> None:
    answer = audit.get("/api/v1/audit/openapi.json", timeout=2.0)

    assert answer.status == 200
    document = json.loads(answer.body)
    assert document["info"]["title"] == "Task Tracker · audit"
    assert "/api/v1/audit-events" in document["paths"]


def test_a_binary_answer_arrives_as_the_bytes_the_function_sent(audit: LambdaPeer) -> None:
    answer = audit.get("/api/v1/audit/docs/assets/favicon-32x32.png", timeout=2.0)

    assert answer.status == 200
    assert answer.body.startswith(b"\x89PNG\r\n\x1a\n")


def test_an_answer_that_is_not_http_is_an_error(lambda_service: DeployedFunctions) -> None:
    lambda_service.deploy("not-http", lambda event, context: {"hello": "world"})
    peer = LambdaPeer("audit", "not-http", LambdaInvoker(REGION, timeout_seconds=2.0))

    with pytest.raises(RuntimeError, match="answered no HTTP response"):
        peer.get("/health/live", timeout=2.0)


def test_a_function_that_fails_is_lambdas_function_error(lambda_service: DeployedFunctions) -> None:
    lambda_service.deploy("broken", _failing_handler)
    peer = LambdaPeer("audit", "broken", LambdaInvoker(REGION, timeout_seconds=2.0))

    with pytest.raises(FunctionError, match="the function broke"):
        peer.get("/health/live", timeout=2.0)


def test_a_name_lambda_does_not_know_fails_the_call(lambda_service: DeployedFunctions) -> None:
    peer = LambdaPeer("audit", "no-such-function", LambdaInvoker(REGION, timeout_seconds=2.0))

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        peer.get("/health/live", timeout=2.0)


def test_a_failing_peer_is_reported_as_no_answer_by_the_fan_out(
    audit: LambdaPeer, lambda_service: DeployedFunctions
) -> None:
    lambda_service.deploy("broken", _failing_handler)
    broken = LambdaPeer("tasks", "broken", LambdaInvoker(REGION, timeout_seconds=2.0))

    def status(peer: LambdaPeer) -> Callable[[], PeerAnswer]:
        return lambda: peer.get("/health/live", timeout=2.0)

    results = call_concurrently({"audit": status(audit), "tasks": status(broken)}, timeout=10.0, kind="lambda-test")

    live = results["audit"]
    assert live is not None and live.status == 200
    assert results["tasks"] is None


def test_function_names_make_lambda_peers_for_every_function_but_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUNCTION_NAMES", f"audit={DEPLOYED},tasks=tasktracker-TasksFunction-9Z,ops=ops-itself")
    monkeypatch.delenv("FUNCTION_INVOKE_URLS", raising=False)
    invoker = LambdaInvoker(REGION, timeout_seconds=2.0)

    peers = peers_from_environment("ops", lambda: invoker)

    assert peers == [
        LambdaPeer("audit", DEPLOYED, invoker),
        LambdaPeer("tasks", "tasktracker-TasksFunction-9Z", invoker),
    ]


def test_the_body_of_a_base64_answer_is_decoded() -> None:
    payload = json.dumps({"statusCode": 503, "body": base64.b64encode(b"\x00down").decode(), "isBase64Encoded": True})

    assert peer_answer("audit", payload.encode()) == PeerAnswer(503, b"\x00down")
