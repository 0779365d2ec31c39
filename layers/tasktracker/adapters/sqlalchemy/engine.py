"""Engine and session factory, one per process."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker


def sqlalchemy_url(database_url: str) -> str:
    """Accept the usual postgres:// and postgresql:// forms and always drive them with psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://...)")


@cache
def engine_for(database_url: str, pool_size: int = 5) -> Engine:
    return create_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        # After a database restart, stale pooled connections are replaced instead of failing one request each.
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "tasktracker"},
    )


@cache
def session_factory(database_url: str, pool_size: int = 5) -> sessionmaker[Session]:
    return sessionmaker(engine_for(database_url, pool_size), expire_on_commit=False, autoflush=False)
