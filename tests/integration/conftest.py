from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tasktracker.adapters.sqlalchemy.engine import session_factory
from tasktracker.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tasktracker.application.ports import UnitOfWorkFactory


@pytest.fixture
def clean_db(database_url: str) -> Iterator[str]:
    yield database_url
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "TRUNCATE users, tasks, tags, task_tags, attachments, audit_events, reminder_logs, refresh_tokens,"
            " storage_changes, notifications CASCADE"
        )


@pytest.fixture
def uow(clean_db: str) -> UnitOfWorkFactory:
    sessions = session_factory(clean_db)
    return lambda read_only=False: SqlAlchemyUnitOfWork(sessions, read_only=read_only)
