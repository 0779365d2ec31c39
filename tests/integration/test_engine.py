"""Pooled connections lost while idle (a database restart at night) are replaced without failing a request."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from tasktracker.adapters.sqlalchemy import engine as engine_module
from tasktracker.adapters.sqlalchemy.engine import engine_for


def backend_pid(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(database_url: str, pid: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_killed_while_idle_is_replaced_before_use(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_for(database_url, pool_size=1)
    first = backend_pid(engine)
    terminate(database_url, first)
    monkeypatch.setattr(engine_module, "IDLE_SECONDS_BEFORE_PING", 0.0)

    second = backend_pid(engine)

    assert second != first
    engine.dispose()


def test_only_a_connection_left_idle_is_pinged(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_for(database_url, pool_size=2)
    pings: list[object] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda connection: pings.append(connection) or real_ping(connection))

    backend_pid(engine)
    backend_pid(engine)
    assert pings == [], "a connection in steady use costs no extra round trip"

    monkeypatch.setattr(engine_module, "IDLE_SECONDS_BEFORE_PING", 0.0)
    backend_pid(engine)
    assert len(pings) == 1
    engine.dispose()
