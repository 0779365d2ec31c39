"""The API's own limit hook (platform/rate_limits.ApiRateLimit) on the functions' own apps, with the real Redis:
what it never counts, how it sits beside a route's own flask-limiter limit, and what it does while the storage
is down. The window's headers and key, equal to flask-limiter's, are held by test_request_round_trips."""

from __future__ import annotations

import logging
import socket
import uuid
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from local.services import LocalServices
from tasktracker.config import Settings
from tasktracker.platform import rate_limits


def _settings(database_url: str, redis_url: str, **limits: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret_key="api-rate-limit-secret-that-is-long-enough",
        **limits,
    )


def _client(app: Flask) -> FlaskClient:
    """A client from an address of its own: signed-out windows are per address, and no other test shares it."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    return client


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _auth_app(settings: Settings) -> Flask:
    from functions.auth.app import create_app

    return create_app(settings)


def test_health_metrics_documents_and_unknown_paths_are_never_counted(
    database_url: str, services: LocalServices
) -> None:
    client = _client(_auth_app(_settings(database_url, services.redis_url, rate_limit_default="2/minute")))
    for path in ("/health/live", "/metrics", "/api/v1/auth/docs/assets/swagger-ui.css", "/no/such/path"):
        for _ in range(4):
            answer = client.get(path)
            assert answer.status_code in (200, 404), (path, answer.status_code)
            assert answer.status_code != 404 or path == "/no/such/path"
            assert "X-RateLimit-Limit" not in answer.headers, path
    # None of the 16 spent the address's window: the API's first answer still has one request left after it.
    first = client.get("/api/v1/auth/me")
    assert first.status_code == 401
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")


def test_a_routes_own_limit_names_itself_and_the_api_limit_still_counts_the_request(
    database_url: str, services: LocalServices
) -> None:
    settings = _settings(database_url, services.redis_url, rate_limit_default="3/minute", rate_limit_login="10/minute")
    client = _client(_auth_app(settings))
    wrong = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": "not the password"}
    for sent in range(1, 4):
        answer = client.post("/api/v1/auth/login", json=wrong)
        assert answer.status_code == 401
        # flask-limiter's own limit names itself in the headers, as it did when it checked both.
        assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]) == ("10", str(10 - sent))
        assert "Retry-After" not in answer.headers
    # The API's window of this address is full: the fourth sign-in is refused before the route's own limit.
    refused = client.post("/api/v1/auth/login", json=wrong)
    assert refused.status_code == 429
    assert refused.json is not None and refused.json["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert (refused.headers["X-RateLimit-Limit"], refused.headers["X-RateLimit-Remaining"]) == ("3", "0")
    assert 0 < int(refused.headers["Retry-After"]) <= 61


def test_with_the_storage_down_the_window_is_kept_in_memory_and_the_failure_said_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    down = f"redis://127.0.0.1:{_closed_port()}/0"
    client = _client(_auth_app(_settings(database_url, down, rate_limit_default="2/minute")))
    with caplog.at_level(logging.INFO, logger="tasktracker.rate_limits"):
        answers = [client.get("/api/v1/auth/me") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401, 401, 429]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["1", "0", "0"]
    assert answers[2].json is not None and answers[2].json["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    unreachable = [record for record in caplog.records if "unreachable" in record.getMessage()]
    assert len(unreachable) == 1


def test_after_a_storage_failure_the_storage_is_tried_again_once_the_pause_is_over(
    database_url: str, services: LocalServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _auth_app(_settings(database_url, services.redis_url, rate_limit_default="50/minute"))
    client = _client(app)
    address = client.environ_base["REMOTE_ADDR"]
    store = redis.Redis.from_url(services.redis_url)
    window_key = f"LIMITS:LIMITER/tasktracker/ip:{address}:rate/global/50/1/minute"

    assert client.get("/api/v1/auth/me").status_code == 401
    assert store.llen(window_key) == 1

    # One failed hit (the connection dropped): the request is still counted, in memory, and answered.
    from limits.strategies import MovingWindowRateLimiter

    hit = MovingWindowRateLimiter.hit
    failures = iter([True])

    def failing_once(self: MovingWindowRateLimiter, *args: Any, **kwargs: Any) -> bool:
        if next(failures, False):
            raise redis.ConnectionError("connection dropped")
        return hit(self, *args, **kwargs)

    monkeypatch.setattr(MovingWindowRateLimiter, "hit", failing_once)
    assert client.get("/api/v1/auth/me").headers["X-RateLimit-Remaining"] == "49"
    # Within the pause the storage is not asked: the window in memory counts on.
    assert client.get("/api/v1/auth/me").headers["X-RateLimit-Remaining"] == "48"
    assert store.llen(window_key) == 1

    # Past the pause, the storage's window again, where the request before the failure is.
    clock = rate_limits.time.monotonic
    monkeypatch.setattr(rate_limits.time, "monotonic", lambda: clock() + rate_limits.ApiRateLimit.LONGEST_RETRY_SECONDS)
    assert client.get("/api/v1/auth/me").headers["X-RateLimit-Remaining"] == "48"
    assert store.llen(window_key) == 2
