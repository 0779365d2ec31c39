"""JSON request bodies through the router, on every operation that takes one: nested too deep or larger than
any valid body, they are refused in the error format (400 and 413) with the correlation id, signed in or not,
and never reach the point where they would cost a server error; the largest valid body still fits."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.support.api import Api, SignedInUser, assert_error, sign_up
from tests.support.snapshots import Operation, documented_operations

JSON = {"Content-Type": "application/json"}
KiB = 1024
MiB = 1024 * KiB

NESTED_BODIES = {
    "100,000 open brackets": b"[" * 100_000,
    "objects 5,000 deep": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    # Parsed by the JSON decoder, but deep enough to exhaust the stack of whatever walks it next.
    "a field 450 deep": b'{"title":' + b"[" * 450 + b"]" * 450 + b"}",
}


def json_operations(api: Api) -> list[Operation]:
    operations = [
        operation
        for operation in documented_operations(api)
        if "application/json" in operation.document.get("requestBody", {}).get("content", {})
    ]
    assert {operation.function for operation in operations} >= {"auth", "tasks", "attachments"}
    return operations


def send(api: Api, operation: Operation, user: SignedInUser, body: bytes | Iterator[bytes]) -> requests.Response:
    """As the operation's caller would: signed in where it needs it, signed out where it does not."""
    token = user.access_token if operation.signed_in else None
    return api.request(operation.method.upper(), operation.concrete_path(), token=token, data=body, headers=JSON)


@pytest.mark.parametrize("body", list(NESTED_BODIES.values()), ids=list(NESTED_BODIES))
def test_deeply_nested_json_is_refused_on_every_operation(api: Api, body: bytes) -> None:
    user = sign_up(api, "nesting")
    for operation in json_operations(api):
        error = assert_error(send(api, operation, user, body), 400, "VALIDATION_ERROR")
        assert "json" in error["details"]["fields"], (operation.name, error)


def largest_valid_task() -> bytes:
    """A task with every text at its limit, each character spelt in the most bytes JSON allows: one outside
    the Basic Multilingual Plane, escaped as a surrogate pair (12 bytes for one character)."""
    task = {
        "title": "\U0001f600" * 200,
        "description": "\U0001f600" * 10_000,
        "tags": [chr(0x1F600 + number) * 50 for number in range(20)],
        "status": "IN_PROGRESS",
        "priority": "CRITICAL",
        "due_date": "2030-12-31T23:59:59.999999+14:00",
    }
    return json.dumps(task, ensure_ascii=True, indent=4).encode()


def test_a_body_larger_than_any_valid_one_is_refused_with_413_and_the_largest_valid_one_fits(api: Api) -> None:
    user = sign_up(api, "bodies")
    # Under the router's limit (which is there for uploads), far over any valid JSON body.
    megabyte = b'{"email": "' + b"a" * MiB + b'@example.com", "password": "correct horse battery"}'
    # Refused before it is read, the body leaves the connection unusable, and the router may close it as the answer
    # goes out: the client is told not to use it again, as a client sending more than a server takes should.
    refused = assert_error(
        api.post("/api/v1/auth/login", data=megabyte, headers={**JSON, "Connection": "close"}), 413, "PAYLOAD_TOO_LARGE"
    )
    cap = refused["details"]["max_bytes"]

    largest = largest_valid_task()
    assert len(largest) <= cap <= 256 * KiB, (len(largest), cap)
    created = api.post("/api/v1/tasks", token=user.access_token, data=largest, headers=JSON)
    assert created.status_code == 201, created.text[:500]
    assert len(created.json()["description"]) == 10_000

    # The same cap on every operation that takes JSON, announced or sent in chunks without a length.
    just_over = b"{" + b" " * (cap - 1) + b"}"
    for operation in json_operations(api):
        too_large = send(api, operation, user, just_over)
        assert assert_error(too_large, 413, "PAYLOAD_TOO_LARGE")["details"] == {"max_bytes": cap}, operation.name
        chunks = iter([just_over[: cap // 2], just_over[cap // 2 :]])
        assert_error(send(api, operation, user, chunks), 413, "PAYLOAD_TOO_LARGE")
    # A body of exactly the cap is read (and answered on its merits).
    padded = largest + b" " * (cap - len(largest))
    assert api.post("/api/v1/tasks", token=user.access_token, data=padded, headers=JSON).status_code == 201


def test_every_operation_that_takes_json_documents_the_413(api: Api) -> None:
    for operation in json_operations(api):
        assert "413" in operation.document["responses"], operation.name
