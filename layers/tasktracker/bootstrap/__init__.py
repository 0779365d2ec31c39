"""Wires adapters into use cases. One module per function, so each imports only what it needs and cold
starts stay small (the auth function never loads boto3; import-linter holds that line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasktracker.config import Settings

if TYPE_CHECKING:
    from tasktracker.application.identity import ActiveUsers
    from tasktracker.application.ports import UnitOfWork, UnitOfWorkFactory


def unit_of_work_factory(settings: Settings) -> UnitOfWorkFactory:
    """SQLAlchemy, psycopg and the engine load with the first unit of work, not when the app is built: a
    start that answers no database request (a health probe, the documents) never pays for them."""

    def new_unit_of_work(*, read_only: bool = False) -> UnitOfWork:
        from tasktracker.adapters.sqlalchemy.engine import session_factory
        from tasktracker.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

        return SqlAlchemyUnitOfWork(session_factory(settings.database_url, settings.db_pool_size), read_only=read_only)

    return new_unit_of_work


def active_users(settings: Settings) -> ActiveUsers:
    from tasktracker.application.identity import ActiveUsers

    return ActiveUsers(unit_of_work_factory(settings))
