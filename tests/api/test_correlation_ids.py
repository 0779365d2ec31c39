"""Correlation ids: a caller's X-Correlation-ID is kept when it is a short token and replaced otherwise, by the
router and by a function called directly alike, so that every answer, the router's own JSON errors included,
stays valid JSON with the same id in its body and its header, and the router logs the id the functions see."""

from __future__ import annotations

import re
import time

import pytest
import requests

from local.stack import request_body_limit
from tests.support.api import Api, assert_error
from tests.support.stack import RunningStack

TOKEN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

NOT_TOKENS = {
    "a double quote": 'trace"me',
    "a json breakout": '", "code": "OK", "x": "',
    "a backslash": "trace\\me",
    "spaces and braces": "not a {token} at all",
    "a colon": "urn:trace:1",
    "300 characters": "a" * 300,
    "129 characters": "b" * 129,
}


def same_id_in_body_and_header(response: requests.Response, sent: str) -> str:
    """The body parses as JSON (assert_error), carries the header's id, and that id is a fresh token."""
    error = assert_error(response, response.status_code)
    assert error["correlation_id"] != sent
    assert TOKEN.match(error["correlation_id"]), error["correlation_id"]
    return str(error["correlation_id"])


def router_logged(stack: RunningStack, correlation_id: str) -> bool:
    """Whether the router's access log has a line with this id (written just after the answer is sent)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if f"correlation_id={correlation_id}\n" in stack.logs("router-access"):
            return True
        time.sleep(0.05)
    return False


def announced_too_large(api: Api, correlation_id: str) -> requests.Response:
    prepared = requests.Request(
        "POST", f"{api.base_url}/api/v1/attachments/x", data=b"{}", headers={"X-Correlation-ID": correlation_id}
    ).prepare()
    prepared.headers["Content-Length"] = str(request_body_limit({}) + 1)
    return api.session.send(prepared, timeout=30)


@pytest.mark.parametrize("sent", list(NOT_TOKENS.values()), ids=list(NOT_TOKENS))
def test_an_id_that_is_not_a_short_token_is_replaced_everywhere(api: Api, stack: RunningStack, sent: str) -> None:
    header = {"X-Correlation-ID": sent}
    # The router's own answers: no function serves the path, and a body over the router's limit.
    no_function = api.get("/api/v1/no-such-function", headers=header)
    assert no_function.status_code == 404
    same_id_in_body_and_header(no_function, sent)
    too_large = announced_too_large(api, sent)
    assert too_large.status_code == 413
    same_id_in_body_and_header(too_large, sent)

    # A function's answer through the router: the id the router chose is the one the function used and logged.
    routed = api.get("/api/v1/auth/me", headers=header)
    assert routed.status_code == 401
    chosen = same_id_in_body_and_header(routed, sent)
    assert router_logged(stack, chosen)

    # A function called directly (under Lambda there is no router) applies the same rule.
    direct = Api(stack.function_urls["auth"]).get("/api/v1/auth/me", headers=header)
    assert direct.status_code == 401
    same_id_in_body_and_header(direct, sent)


@pytest.mark.parametrize("sent", ["trace-me-123", "A.b_c-9", "x" * 128])
def test_a_short_token_is_kept_by_the_router_and_the_functions(api: Api, stack: RunningStack, sent: str) -> None:
    header = {"X-Correlation-ID": sent}
    for response in (
        api.get("/api/v1/no-such-function", headers=header),
        api.get("/api/v1/auth/me", headers=header),
        Api(stack.function_urls["auth"]).get("/api/v1/auth/me", headers=header),
    ):
        assert assert_error(response, response.status_code)["correlation_id"] == sent
    assert router_logged(stack, sent)
