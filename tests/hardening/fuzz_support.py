"""Fuzzing each function's OpenAPI document with schemathesis, through the router, as a real user or nobody.

Every generated request goes to the stack; every answer is checked by schemathesis (no server error, a
documented status code, content type, headers and body schema) and by the project's own rules: the status
code is documented explicitly (the catch-all `default` answer does not count), and every error is in the
spec's format with the correlation id the router echoed. Failures are collected, not raised on the first,
so that one run reports every distinct kind of failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api import Api

# schemathesis' own verdicts on each answer. Not negative_data_rejection: it counts unknown query parameters
# (ignored, as HTTP APIs commonly do) and numbers in string parameters (strings again on the wire) as
# invalid requests, so its failures would be about the query string, not about the API.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ERROR_KEYS = {"code", "message", "details", "correlation_id"}
# Access tokens last 15 minutes; sign in again well before.
TOKEN_MAX_AGE_SECONDS = 10 * 60


@dataclass
class Identity:
    """A real user signed up through the API; its access token is renewed before it expires."""

    api: Api
    email: str
    password: str
    user_id: str = ""
    _token: str = ""
    _signed_in_at: float | None = None

    @classmethod
    def sign_up(cls, api: Api, email: str, password: str) -> Identity:
        registered = api.post("/api/v1/auth/register", json={"email": email, "password": password})
        assert registered.status_code == 201, registered.text
        return cls(api, email, password, registered.json()["id"])

    def token(self) -> str:
        if self._signed_in_at is None or time.monotonic() - self._signed_in_at > TOKEN_MAX_AGE_SECONDS:
            answer = self.api.post("/api/v1/auth/login", json={"email": self.email, "password": self.password})
            assert answer.status_code == 200, answer.text
            self._token = answer.json()["access_token"]
            self._signed_in_at = time.monotonic()
        return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


@dataclass
class Tally:
    """What one function's fuzzing did: cases sent, answers by status, and each distinct failure once."""

    operations: set[str] = field(default_factory=set)
    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def record(self, status: int) -> None:
        self.cases += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def fail(self, kind: str, example: str) -> None:
        self.failures.setdefault(kind, example)

    def figure(self, name: str) -> str:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"fuzz {name}: {len(self.operations)} operations, {self.cases} cases, "
            f"{len(self.failures)} distinct failures; statuses {{{statuses}}}"
        )

    def report(self) -> str:
        return "\n\n".join(f"{kind}\n{example}" for kind, example in sorted(self.failures.items()))


def load_document(base_url: str, function: str) -> Any:
    """The function's own document, fetched through the router like any client would."""
    return schemathesis.openapi.from_url(f"{base_url}/api/v1/{function}/openapi.json")


def explicitly_documented(operation: Any, status: int) -> bool:
    responses = operation.definition.raw.get("responses", {})
    return str(status) in responses or f"{str(status)[0]}XX" in responses


def header(response: schemathesis.Response, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[0] if values else None


def spec_error_format_problems(response: schemathesis.Response) -> list[str]:
    """The spec's error format (section 5.2), with the correlation id echoed in X-Correlation-ID."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return [f"an error body that is not JSON: {response.content[:200]!r}"]
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return [f"an error body not in the spec's format: {json.dumps(body)[:300]}"]
    error = body["error"]
    problems = []
    if set(error) != ERROR_KEYS:
        problems.append(f"error fields {sorted(error)} instead of {sorted(ERROR_KEYS)}")
    if not error.get("correlation_id") or error.get("correlation_id") != header(response, "X-Correlation-ID"):
        problems.append("an error without the correlation id echoed in X-Correlation-ID")
    if not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str) or not error["message"]:
        problems.append("an error without a string code and a message")
    return problems


def _describe(case: Any, response: schemathesis.Response) -> str:
    return f"    {case.as_curl_command()}\n    -> {response.status_code} {response.content[:300]!r}"


def check_answer(case: Any, response: schemathesis.Response, tally: Tally, mode: str, who: str) -> None:
    operation = case.operation
    tally.record(response.status_code)
    where = f"{operation.label} ({who}, {mode})"
    try:
        case.validate_response(response, checks=CHECKS)
    except FailureGroup as group:
        for failure in group.exceptions:
            tally.fail(
                f"{failure.title}: {operation.label} -> {response.status_code}", f"{where}\n{_describe(case, response)}"
            )
    except AssertionError as error:
        tally.fail(f"{type(error).__name__}: {operation.label} -> {response.status_code}", f"{where}: {error}")
    if not explicitly_documented(operation, response.status_code):
        tally.fail(
            f"Status not documented explicitly: {operation.label} -> {response.status_code}",
            f"{where}\n{_describe(case, response)}",
        )
    if response.status_code >= 400:
        for problem in spec_error_format_problems(response):
            tally.fail(
                f"Error format: {operation.label} -> {response.status_code}: {problem}", _describe(case, response)
            )


def case_strategies(operation: Any, mode: schemathesis.GenerationMode, path_values: dict[str, list[str]]) -> Any:
    """Generated cases, and as many again that aim at real objects: the seeded ids for the path parameters."""
    generated = operation.as_strategy(generation_mode=mode)
    names = [parameter.name for parameter in operation.path_parameters]
    if not names or not all(path_values.get(name) for name in names):
        return generated
    if mode == schemathesis.GenerationMode.NEGATIVE and not (operation.query or operation.body):
        # With the path fixed there would be nothing left to make invalid.
        return generated
    seeded = st.fixed_dictionaries({name: st.sampled_from(path_values[name]) for name in names}).flatmap(
        lambda values: operation.as_strategy(generation_mode=mode, path_parameters=values)
    )
    return st.one_of(generated, seeded)


def _has_inputs(operation: Any) -> bool:
    """Something that can be made invalid: an operation without parameters or a body has no negative cases."""
    return bool(len(operation.path_parameters) or len(operation.query) or len(operation.headers) or operation.body)


def fuzz_operation(
    operation: Any,
    *,
    base_url: str,
    session: requests.Session,
    headers: Callable[[], dict[str, str]],
    who: str,
    examples: int,
    path_values: dict[str, list[str]],
    tally: Tally,
    before_each: Callable[[], None] = lambda: None,
    modes: Iterable[schemathesis.GenerationMode] = (
        schemathesis.GenerationMode.POSITIVE,
        schemathesis.GenerationMode.NEGATIVE,
    ),
) -> None:
    tally.operations.add(operation.label)
    for mode in modes:
        if mode == schemathesis.GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue
        label = mode.value

        def send_and_check(case: Any, label: str = label) -> None:
            before_each()
            response = case.call(base_url=base_url, session=session, headers=headers(), timeout=30)
            check_answer(case, response, tally, label, who)

        run = hypothesis.settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )(hypothesis.given(case=case_strategies(operation, mode, path_values))(lambda case: send_and_check(case)))
        run()
