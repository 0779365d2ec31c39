"""What every repository shares: the unit of work's database access, and the page a list reads."""

from __future__ import annotations

from typing import Protocol, TypeVarTuple

from sqlalchemy import Connection, Select
from sqlalchemy.orm import Session

Columns = TypeVarTuple("Columns")


class Database(Protocol):
    """A unit of work as its repositories see it (unit_of_work.SqlAlchemyUnitOfWork)."""

    @property
    def session(self) -> Session:
        """The ORM session, for the statements that load or write mapped rows."""
        ...

    def connection(self) -> Connection:
        """The unit's connection, for the prebuilt Core statements: in a read-only unit no ORM session is made
        for them."""
        ...


class SqlRepository:
    """Runs its statements in the unit of work that made it."""

    def __init__(self, database: Database):
        self._database = database

    @property
    def session(self) -> Session:
        return self._database.session

    def connection(self) -> Connection:
        return self._database.connection()


def page_of(statement: Select[*Columns], page: int, page_size: int) -> Select[*Columns]:
    """The rows of a 1-based page: `page_size` rows after the pages before it."""
    return statement.limit(page_size).offset((page - 1) * page_size)
