"""A thin HTTP client for tests that talk to the stack through the router, as users do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import requests

DEFAULT_PASSWORD = "correct horse battery"


class Api:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@dataclass
class SignedInUser:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str


def unique_email(name: str = "user") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


def sign_up(
    api: Api, name: str = "user", password: str = DEFAULT_PASSWORD, full_name: str | None = None
) -> SignedInUser:
    email = unique_email(name)
    registered = api.post("/api/v1/auth/register", json={"email": email, "password": password, "full_name": full_name})
    assert registered.status_code == 201, registered.text
    tokens = api.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return SignedInUser(registered.json()["id"], email, password, body["access_token"], body["refresh_token"])


def sign_in_again(api: Api, user: SignedInUser) -> SignedInUser:
    """The user with new tokens: a password change or a deactivation ends every earlier token."""
    tokens = api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return SignedInUser(user.id, user.email, user.password, body["access_token"], body["refresh_token"])


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The spec's error format, with the correlation id the router echoed."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details", "correlation_id"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert error["correlation_id"], error
    assert error["correlation_id"] == response.headers.get("X-Correlation-ID")
    if code is not None:
        assert error["code"] == code, error
    return error


# A public address as a literal, which the test stack's target policy accepts without resolving anything. Webhooks
# aimed at it are made to test the API, never to be delivered: `forget_public_webhooks` drops them (and their queued
# deliveries) after each test, so no later delivery run calls that address.
PUBLIC_WEBHOOK_TARGET = "http://93.184.216.34/hooks/tasks"


def forget_public_webhooks(db: Any) -> None:
    db.execute("DELETE FROM webhooks WHERE url LIKE %s", ("http://93.184.216.34/%",))


@pytest.fixture(autouse=True)
def no_webhook_left_for_delivery(database_url: str) -> Iterator[None]:
    """Webhooks a test aimed at a public address go with the test, before a delivery run could call it. Autouse
    where a conftest imports it: the suites whose tests make such webhooks."""
    yield
    with psycopg.connect(database_url, autocommit=True) as connection:
        forget_public_webhooks(connection)
