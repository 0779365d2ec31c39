"""What a signed-in request costs in round trips, counted on the functions' own apps with the real Redis and
PostgreSQL: one Redis round trip (the rate limit's hit, the headers' window stats and the user's session state
in one script) and no database read for the session check; the headers exact; the database's word taken when
Redis has none or is down."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import redis
from flask.testing import FlaskClient
from limits import parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.connection import Connection
from sqlalchemy import event

from local.services import LocalServices
from tasktracker.adapters.redis.sessions import RedisSessionCache, session_key
from tasktracker.config import Settings
from tasktracker.domain.entities import UserSession

PASSWORD = "a long enough passphrase"
# The session check's own read (UserRepository.get_session); /auth/me still reads the whole row for its answer.
SESSION_QUERY = "SELECT users.is_active, users.session_epoch"


@dataclass
class Counts:
    redis: int = 0
    statements: list[str] = field(default_factory=list)


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Counts]:
    from tasktracker.adapters.sqlalchemy.engine import engine_for

    seen = Counts()
    send = Connection.send_packed_command

    def counting(self: Connection, command: Any, check_health: bool = True) -> None:
        # One call per round trip: a command, a pipeline or a script each send once and read once.
        seen.redis += 1
        send(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)

    def statement(conn: Any, cursor: Any, text: str, *args: Any) -> None:
        seen.statements.append(text)

    engine = engine_for(database_url, 5)
    event.listen(engine, "before_cursor_execute", statement)
    yield seen
    event.remove(engine, "before_cursor_execute", statement)


def _settings(database_url: str, redis_url: str, limit: str = "1000/minute") -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        jwt_secret_key="round-trips-secret-that-is-long-enough",
        rate_limit_default=limit,
    )


@dataclass
class Apps:
    auth: FlaskClient
    tasks: FlaskClient
    redis: redis.Redis


def _apps(settings: Settings) -> Apps:
    from functions.auth.app import create_app as auth_app
    from functions.tasks.app import create_app as tasks_app

    return Apps(
        auth_app(settings).test_client(), tasks_app(settings).test_client(), redis.Redis.from_url(settings.redis_url)
    )


@pytest.fixture
def apps(database_url: str, services: LocalServices) -> Apps:
    made = _apps(_settings(database_url, services.redis_url))
    for key in made.redis.scan_iter("LIMITS*"):
        made.redis.delete(key)
    return made


def _sign_up(apps: Apps) -> tuple[str, str, dict[str, str]]:
    email = f"trips-{uuid.uuid4().hex[:12]}@example.com"
    registered = apps.auth.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    tokens = apps.auth.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    return registered.json["id"], email, {"Authorization": f"Bearer {tokens.json['access_token']}"}


def test_a_signed_in_request_is_one_redis_round_trip_and_reads_no_user_row(apps: Apps, counts: Counts) -> None:
    user_id, _, headers = _sign_up(apps)
    task_id = apps.tasks.post("/api/v1/tasks", json={"title": "counted"}, headers=headers).json["id"]
    requests = [
        (apps.tasks, "get", "/api/v1/tasks", {}),
        (apps.tasks, "get", "/api/v1/tasks?owner=me", {}),
        (apps.tasks, "get", f"/api/v1/tasks/{task_id}", {}),
        (apps.tasks, "post", "/api/v1/tasks", {"json": {"title": "counted too"}}),
        (apps.auth, "get", "/api/v1/auth/me", {}),
    ]
    for client, method, path, kwargs in requests:
        for _ in range(3):
            counts.redis, counts.statements = 0, []
            response = getattr(client, method)(path, headers=headers, **kwargs)
            assert response.status_code in (200, 201), (path, response.text)
            assert counts.redis == 1, (path, counts.redis)
            assert not [text for text in counts.statements if SESSION_QUERY in text], path
            assert "X-RateLimit-Remaining" in response.headers
    assert apps.redis.get(session_key(uuid.UUID(user_id))) == b"0:1"


def test_a_page_of_tasks_and_its_total_are_one_statement(apps: Apps, counts: Counts) -> None:
    _, _, headers = _sign_up(apps)
    assert apps.tasks.post("/api/v1/tasks", json={"title": "one statement"}, headers=headers).status_code == 201
    lists = ["", "?owner=me", "?status=TODO", "?search=one%20statement", "?owner=me&page=1000"]
    apps.tasks.get("/api/v1/tasks", headers=headers)
    for query in lists:
        counts.statements = []
        response = apps.tasks.get(f"/api/v1/tasks{query}", headers=headers)
        assert response.status_code == 200 and response.json["total"] >= 1, (query, response.text)
        # A page past the end has no row to carry its total: that one is asked on its own.
        assert len(counts.statements) == (2 if "page=1000" in query else 1), (query, counts.statements)


def test_the_headers_say_what_the_window_holds_and_the_429_is_the_specs(
    database_url: str, services: LocalServices
) -> None:
    apps = _apps(_settings(database_url, services.redis_url, limit="5/minute"))
    user_id, _, headers = _sign_up(apps)
    limits = MovingWindowRateLimiter(RedisStorage(services.redis_url))
    item = parse("5/minute")
    for sent in range(1, 6):
        response = apps.tasks.get("/api/v1/tasks", headers=headers)
        assert response.status_code == 200
        reset, remaining = limits.get_window_stats(item, "tasktracker", f"user:{user_id}:rate", "global")
        assert response.headers["X-RateLimit-Limit"] == "5"
        assert response.headers["X-RateLimit-Remaining"] == str(5 - sent) == str(remaining)
        assert response.headers["X-RateLimit-Reset"] == str(int(reset + 1))
        assert "Retry-After" not in response.headers
    limited = apps.tasks.get("/api/v1/tasks", headers={**headers, "X-Correlation-ID": "limited-1"})
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert limited.json["error"]["correlation_id"] == "limited-1"
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    # The window is the user's across functions: the auth function is limited too.
    assert apps.auth.get("/api/v1/auth/me", headers=headers).status_code == 429


def test_a_password_change_made_by_another_app_is_refused_at_once_with_the_cache_warm(
    apps: Apps, database_url: str, services: LocalServices
) -> None:
    user_id, _, headers = _sign_up(apps)
    for _ in range(3):
        assert apps.tasks.get("/api/v1/tasks", headers=headers).status_code == 200
    assert apps.redis.get(session_key(uuid.UUID(user_id))) == b"0:1"
    other = _apps(_settings(database_url, services.redis_url))
    changed = other.auth.post(
        "/api/v1/auth/change-password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
    )
    assert changed.status_code == 204, changed.text
    revoked = apps.tasks.get("/api/v1/tasks", headers=headers)
    assert revoked.status_code == 401
    assert revoked.json["error"]["code"] == "TOKEN_REVOKED"


def test_a_deactivation_made_with_sql_is_seen_once_nothing_is_cached(
    apps: Apps, database_url: str, counts: Counts
) -> None:
    user_id, _, headers = _sign_up(apps)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("UPDATE users SET is_active = false WHERE id = %s", (user_id,))
    apps.redis.delete(session_key(uuid.UUID(user_id)))
    counts.statements = []
    refused = apps.tasks.get("/api/v1/tasks", headers=headers)
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "ACCOUNT_DISABLED"
    assert [text for text in counts.statements if SESSION_QUERY in text]
    assert apps.redis.get(session_key(uuid.UUID(user_id))) == b"1:0"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_with_redis_down_every_check_reads_the_database_and_a_password_change_is_refused(
    apps: Apps, database_url: str, services: LocalServices, counts: Counts
) -> None:
    user_id, _, headers = _sign_up(apps)
    assert apps.tasks.get("/api/v1/tasks", headers=headers).status_code == 200
    down = _apps(_settings(database_url, f"redis://127.0.0.1:{_closed_port()}/0"))
    try:
        counts.statements = []
        assert down.tasks.get("/api/v1/tasks", headers=headers).status_code == 200
        assert [text for text in counts.statements if SESSION_QUERY in text]
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("UPDATE users SET is_active = false WHERE id = %s", (user_id,))
        refused = down.tasks.get("/api/v1/tasks", headers=headers)
        assert refused.status_code == 401
        assert refused.json["error"]["code"] == "ACCOUNT_DISABLED"
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("UPDATE users SET is_active = true WHERE id = %s", (user_id,))
        _, _, fresh = _sign_up(down)
        changed = down.auth.post(
            "/api/v1/auth/change-password",
            headers=fresh,
            json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        )
        assert changed.status_code == 503, changed.text
    finally:
        # The limiter is one per process: give the next test its Redis back.
        _apps(_settings(database_url, services.redis_url))


def test_the_cache_never_lets_a_slower_write_replace_a_newer_state(services: LocalServices) -> None:
    client = redis.Redis.from_url(services.redis_url)
    cache = RedisSessionCache(lambda: client, ttl_seconds=60)
    user_id = uuid.uuid4()
    # A reader that read the database before a change cannot fill over the change's hold or its new state.
    cache.hold(user_id)
    cache.fill(user_id, UserSession(is_active=True, session_epoch=0))
    assert cache.get(user_id) is None
    cache.publish(user_id, UserSession(is_active=True, session_epoch=1))
    cache.fill(user_id, UserSession(is_active=True, session_epoch=0))
    assert cache.get(user_id) == UserSession(is_active=True, session_epoch=1)
    # Two changes whose publishes cross: the higher epoch stays.
    cache.publish(user_id, UserSession(is_active=False, session_epoch=3))
    cache.publish(user_id, UserSession(is_active=True, session_epoch=2))
    assert cache.get(user_id) == UserSession(is_active=False, session_epoch=3)
    assert 0 < int(client.ttl(session_key(user_id))) <= 60
    client.delete(session_key(user_id))


def test_creating_a_task_deletes_no_tag_rows(apps: Apps, counts: Counts) -> None:
    """A new task has no tags to replace: its POST is the INSERTs, the audit event and the answer's read."""
    _, _, headers = _sign_up(apps)
    counts.statements = []
    created = apps.tasks.post("/api/v1/tasks", json={"title": "tagged", "tags": ["a", "b"]}, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json["tags"] == ["a", "b"]
    assert not [text for text in counts.statements if text.startswith("DELETE")]
    # The tags' ids are read by the statement that links them, not fetched first.
    assert not [text for text in counts.statements if text.startswith("SELECT tags.")]
