"""Wires adapters into use cases. One module per function, so each imports only what it needs and cold
starts stay small (the auth function never loads boto3; import-linter holds that line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasktracker.config import Settings

if TYPE_CHECKING:
    from tasktracker.application.identity import ActiveUsers
    from tasktracker.application.ports import SessionCache, UnitOfWork, UnitOfWorkFactory

# The Redis URL schemes the one-round-trip rate-limit storage takes (adapters/redis/rate_limit_storage.py).
_ONE_TRIP_SCHEMES = ("redis://", "rediss://", "redis+unix://")


def unit_of_work_factory(settings: Settings) -> UnitOfWorkFactory:
    """SQLAlchemy, psycopg and the engine load with the first unit of work, not when the app is built: a
    start that answers no database request (a health probe, the documents) never pays for them."""

    def new_unit_of_work(*, read_only: bool = False) -> UnitOfWork:
        from tasktracker.adapters.sqlalchemy.engine import session_factory
        from tasktracker.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

        return SqlAlchemyUnitOfWork(session_factory(settings.database_url, settings.db_pool_size), read_only=read_only)

    return new_unit_of_work


def session_cache(settings: Settings) -> SessionCache:
    """Users' session states in Redis, shared by every process; none without Redis (or with
    SESSION_CACHE_SECONDS=0): then every check reads the database. The client connects at first use."""
    from tasktracker.application.identity import NoSessionCache

    if not settings.redis_url or settings.session_cache_seconds <= 0:
        return NoSessionCache()
    from tasktracker.adapters.redis.sessions import RedisSessionCache

    return RedisSessionCache.for_url(settings.redis_url, settings.session_cache_seconds)


def active_users(settings: Settings) -> ActiveUsers:
    from tasktracker.application.identity import ActiveUsers

    return ActiveUsers(unit_of_work_factory(settings), session_cache(settings))


def rate_limit_storage_uri(settings: Settings) -> str:
    """The storage URI for the rate limits: Redis through the adapter's storage, which makes the hit, the headers'
    window stats and the active-user check's read one round trip. Importing the adapter registers its scheme."""
    if not settings.redis_url.startswith(_ONE_TRIP_SCHEMES):
        return settings.redis_url
    import tasktracker.adapters.redis.rate_limit_storage  # noqa: F401

    return f"tasktracker+{settings.redis_url}"
