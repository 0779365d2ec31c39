"""The Lambda entry point answers a recorded API Gateway v2 event as the WSGI app behind the router does."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api, sign_up

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "aws-events"


@pytest.fixture
def lambda_environment(stack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in (
        "APP_ENV",
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET_KEY",
        "S3_ENDPOINT_URL",
        "S3_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.setenv(name, stack_env[name])
    from tasktracker.config import settings

    settings.cache_clear()
    yield
    settings.cache_clear()


def _body(result: dict[str, Any]) -> Any:
    raw = result["body"]
    if result.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return json.loads(raw)


def test_login_event_matches_the_wsgi_answer(api: Api, lambda_environment: None) -> None:
    from functions.auth.app import handler

    user = sign_up(api, "lambda")
    event = json.loads((EVENTS / "apigw-http-v2.json").read_text())
    event["body"] = json.dumps({"email": user.email, "password": user.password})
    event["headers"]["content-length"] = str(len(event["body"]))

    result = handler(event, None)
    through_router = api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})

    assert result["statusCode"] == through_router.status_code == 200
    assert set(_body(result)) == set(through_router.json())
    assert _body(result)["token_type"] == "bearer"
    me = api.get("/api/v1/auth/me", token=_body(result)["access_token"])
    assert me.json()["email"] == user.email

    event["body"] = json.dumps({"email": user.email, "password": "wrong password!"})
    refused = handler(event, None)
    wsgi_refused = api.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong password!"})
    assert refused["statusCode"] == wsgi_refused.status_code == 401
    assert _body(refused)["error"]["code"] == wsgi_refused.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert _body(refused)["error"]["correlation_id"] == refused["headers"]["x-correlation-id"]


def _get_event(path: str, query: str = "", token: str | None = None) -> dict[str, Any]:
    event = json.loads((EVENTS / "apigw-http-v2.json").read_text())
    event.update(routeKey=f"GET {path}", rawPath=path, rawQueryString=query, body=None)
    event["requestContext"]["http"].update(method="GET", path=path)
    event["requestContext"]["routeKey"] = f"GET {path}"
    event["headers"] = {key: value for key, value in event["headers"].items() if key != "content-length"}
    if token:
        event["headers"]["authorization"] = f"Bearer {token}"
    return event


@pytest.mark.parametrize(
    ("function", "path", "query"),
    [
        ("tasks", "/api/v1/tasks", "page_size=5&sort=created_at:desc"),
        ("attachments", "/api/v1/tasks/{task_id}/attachments", ""),
        ("audit", "/api/v1/audit-events", "page_size=5"),
        ("reminders", "/api/v1/reminders", ""),
        ("ops", "/api/v1/health/live", ""),
    ],
)
def test_every_functions_handler_answers_like_its_wsgi_app(
    api: Api, lambda_environment: None, function: str, path: str, query: str
) -> None:
    import importlib

    user = sign_up(api, f"lambda-{function}")
    task = api.post("/api/v1/tasks", token=user.access_token, json={"title": "Seen through Lambda"}).json()
    path = path.format(task_id=task["id"])
    handler = importlib.import_module(f"functions.{function}.app").handler

    result = handler(_get_event(path, query, user.access_token), None)
    through_router = api.get(f"{path}?{query}" if query else path, token=user.access_token)

    assert result["statusCode"] == through_router.status_code == 200
    body = _body(result)
    assert set(body) == set(through_router.json())
    if "items" in body:
        assert body["total"] == through_router.json()["total"]
    assert result["headers"]["x-correlation-id"]

    unauthenticated = handler(_get_event(path, query), None)
    expected = 200 if function == "ops" else 401
    assert unauthenticated["statusCode"] == expected
