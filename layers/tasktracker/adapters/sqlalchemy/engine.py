"""Engine and session factory, one per process."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

# A pooled connection idle for longer than this is checked before use.
IDLE_SECONDS_BEFORE_PING = 5.0


def sqlalchemy_url(database_url: str) -> str:
    """Accept the usual postgres:// and postgresql:// forms and always drive them with psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://...)")


@cache
def engine_for(database_url: str, pool_size: int = 5) -> Engine:
    engine = create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "tasktracker"},
    )
    _ping_connections_left_idle(engine)
    return engine


def _ping_connections_left_idle(engine: Engine) -> None:
    """A connection that sat idle is pinged before use, so one left over from before a database restart is
    replaced rather than failing a request. A busy connection is not: pinging every checkout (pool_pre_ping)
    was a round trip on each of a request's units of work, and if the database restarts under traffic the
    first statement on a dead connection fails, answers 503 and makes SQLAlchemy replace the whole pool.
    """

    @event.listens_for(engine, "checkin")
    def remember_when_left(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_left_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_SECONDS_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out a fresh one.
            raise DisconnectionError("a pooled connection went away while idle") from error


@cache
def session_factory(database_url: str, pool_size: int = 5) -> sessionmaker[Session]:
    return sessionmaker(engine_for(database_url, pool_size), expire_on_commit=False, autoflush=False)
