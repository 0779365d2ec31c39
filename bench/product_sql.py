"""The product's own SQL for part 8's requests, compiled from its repositories, to check the floor's copy.

The bare handler sends the statements of bench/queries.py by hand. Each run compiles what the product's
repositories send for the same requests (through a session that records statements instead of running them,
with the psycopg dialect the product uses) and compares the two with the parameters' names and the whitespace
taken out: a floor that ran other SQL than the product would measure something else, so the part says so.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from bench.queries import DEFAULT_PAGE_SIZE, OWN_COUNT, OWN_PAGE, TASK_ATTACHMENTS, TASK_VIEW, USER_BY_ID
from tasktracker.adapters.sqlalchemy.attachments import SqlAttachmentRepository
from tasktracker.adapters.sqlalchemy.tasks import SqlTaskRepository
from tasktracker.adapters.sqlalchemy.users import SqlUserRepository
from tasktracker.application.ports import TaskQuery
from tasktracker.application.queries import DEFAULT_PAGE_SIZE as PRODUCT_PAGE_SIZE

# What the bench's copy of each request's SQL is, in the order the product sends it.
FLOOR_SQL = {
    # The recording session's pages are empty, so the total alone follows, as for a page past the end.
    "own page": [OWN_PAGE, OWN_COUNT],
    "task": [TASK_VIEW, TASK_ATTACHMENTS],
    "me": [USER_BY_ID],
}


class _Nothing:
    """Every result a repository may ask for, empty."""

    def all(self) -> list[Any]:
        return []

    def one_or_none(self) -> None:
        return None

    def scalar_one(self) -> int:
        return 0

    def scalars(self) -> list[Any]:
        return []

    def __iter__(self) -> Any:
        return iter([])


class _RecordingSession:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self._dialect = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> _Nothing:
        self.statements.append(str(statement.compile(dialect=self._dialect)))
        return _Nothing()

    def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> list[Any]:
        self.execute(statement)
        return []

    def connection(self) -> _RecordingSession:
        # Repositories read rows without the ORM on the session's connection: recorded the same way.
        return self

    def get(self, entity: Any, key: Any) -> None:
        # Session.get sends this SELECT by primary key when the row is not in the session already.
        self.execute(select(entity).where(entity.id == key))


def product_sql() -> dict[str, list[str]]:
    """The statements the product's repositories send for each of part 8's requests."""
    owner, task = uuid.uuid4(), uuid.uuid4()
    recorded: dict[str, list[str]] = {}
    for name in FLOOR_SQL:
        session: Any = _RecordingSession()
        if name == "own page":
            SqlTaskRepository(session).search(TaskQuery(owner_id=owner, page_size=PRODUCT_PAGE_SIZE))
        elif name == "task":
            SqlTaskRepository(session).get_view(task)
            SqlAttachmentRepository(session).list_for_task(task)
        else:
            SqlUserRepository(session).get(owner)
        recorded[name] = session.statements
    return recorded


def normalized(sql: str) -> str:
    """Parameters become `?`; whitespace runs become one space, and none just inside parentheses."""
    sql = re.sub(r"%\(\w+\)s", "?", sql)
    sql = " ".join(sql.split())
    return sql.replace("( ", "(").replace(" )", ")").strip()


def differences() -> list[str]:
    """Which requests' floor SQL differs from the product's (empty when they are the same), and how."""
    found = []
    if PRODUCT_PAGE_SIZE != DEFAULT_PAGE_SIZE:
        found.append(f"page size: product {PRODUCT_PAGE_SIZE}, bench {DEFAULT_PAGE_SIZE}")
    for name, statements in product_sql().items():
        ours = [normalized(sql) for sql in FLOOR_SQL[name]]
        theirs = [normalized(sql) for sql in statements]
        if ours != theirs:
            found.append(f"{name}: product sends {theirs}, the floor {ours}")
    return found
