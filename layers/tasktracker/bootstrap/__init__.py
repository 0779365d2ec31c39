"""Wires adapters into use cases. One module per function, so each imports only what it needs and cold
starts stay small (the auth function never loads boto3; import-linter holds that line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasktracker.config import Settings

if TYPE_CHECKING:
    from tasktracker.application.identity import ActiveUsers
    from tasktracker.application.ports import UnitOfWorkFactory


def unit_of_work_factory(settings: Settings) -> UnitOfWorkFactory:
    from tasktracker.adapters.sqlalchemy.engine import session_factory
    from tasktracker.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork

    sessions = session_factory(settings.database_url, settings.db_pool_size)

    def new_unit_of_work(*, read_only: bool = False) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(sessions, read_only=read_only)

    return new_unit_of_work


def active_users(settings: Settings) -> ActiveUsers:
    from tasktracker.application.identity import ActiveUsers

    return ActiveUsers(unit_of_work_factory(settings))
