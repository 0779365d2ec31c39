"""What every repository shares: the unit of work's session, and the page a list reads."""

from __future__ import annotations

from typing import TypeVarTuple

from sqlalchemy import Select
from sqlalchemy.orm import Session

Columns = TypeVarTuple("Columns")


class SqlRepository:
    """Runs its statements on the session of the unit of work that made it."""

    def __init__(self, session: Session):
        self.session = session


def page_of(statement: Select[*Columns], page: int, page_size: int) -> Select[*Columns]:
    """The rows of a 1-based page: `page_size` rows after the pages before it."""
    return statement.limit(page_size).offset((page - 1) * page_size)
