"""A user's notifications are read through their indexes, never by scanning everyone's: EXPLAIN of the statements
the repository sends, at 200,000 notifications of 2,000 users, most of them read, and one user with 20,000."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tasktracker.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tasktracker.application.ports import NotificationQuery

from .test_task_query_plans import Plan, QueryPlans

USERS = 2_000
NOTIFICATIONS = 200_000
LIST = "ix_notifications_user_id_created_at_id"
UNREAD = "ix_notifications_unread_user_id_created_at_id"
HEAVY = USERS + 1

SEED = f"""
INSERT INTO users (id, email, password_hash)
SELECT md5('notified-' || n)::uuid, 'notified-' || n || '@example.com', 'not-a-hash'
FROM generate_series(1, {HEAVY}) AS n;

-- One in ten unread, created over a year.
INSERT INTO notifications (id, user_id, type, title, message, created_at, read_at)
SELECT gen_random_uuid(), md5('notified-' || (1 + n % {USERS}))::uuid, 'DUE_SOON', 'Task ' || n, 'Due soon.',
       now() - n * interval '2 minutes',
       CASE WHEN n % 10 = 0 THEN NULL ELSE now() - n * interval '1 minute' END
FROM generate_series(1, {NOTIFICATIONS}) AS n;

-- And one user who never reads theirs: 20,000, half of them unread.
INSERT INTO notifications (id, user_id, type, title, message, created_at, read_at)
SELECT gen_random_uuid(), md5('notified-{HEAVY}')::uuid, 'DUE_SOON', 'Heavy ' || n, 'Due soon.',
       now() - n * interval '1 minute', CASE WHEN n % 2 = 0 THEN NULL ELSE now() END
FROM generate_series(1, 20000) AS n;
"""


@pytest.fixture(scope="module")
def plans(database_url: str) -> Iterator[QueryPlans]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(SEED)
        connection.execute("VACUUM ANALYZE users, notifications")
    query_plans = QueryPlans(database_url)
    yield query_plans
    query_plans.engine.dispose()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE users, notifications CASCADE")


def statements_of(plans: QueryPlans, read: Any) -> list[tuple[str, Any]]:
    with SqlAlchemyUnitOfWork(plans.sessions) as uow:
        plans.statements.clear()
        read(uow.notifications)
        return [(sql, parameters) for sql, parameters in plans.statements if "notifications" in sql]


def a_user(number: int = 7) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"notified-{number}".encode()).hexdigest())


@pytest.mark.parametrize("user", [7, HEAVY], ids=["a user with 100", "a user with 20,000"])
@pytest.mark.parametrize(
    ("unread_only", "page_index"),
    [(False, LIST), (True, UNREAD)],
    ids=["all, newest first", "unread only"],
)
def test_a_users_page_and_counts_read_their_own_index_entries(
    plans: QueryPlans, user: int, unread_only: bool, page_index: str
) -> None:
    query = NotificationQuery(user_id=a_user(user), unread_only=unread_only, page=2, page_size=20)
    statements = statements_of(plans, lambda repository: repository.list_for_user(query))

    page_statement, count_statement = statements
    page, counts = (plans.explain(sql, parameters) for sql, parameters in (page_statement, count_statement))
    for plan in (page, counts):
        assert "notifications" not in plan.seq_scanned(), plan
    assert page_index in page.indexes(), page
    if user == HEAVY:
        # Read in index order, stopping at the page: no sort of the user's thousands of notifications.
        assert not any(node["Node Type"] == "Sort" for node in page.nodes()), page
    assert counts.indexes() <= {LIST, UNREAD} and counts.indexes(), counts


def test_the_unread_count_reads_the_partial_index_alone(plans: QueryPlans) -> None:
    [(sql, parameters)] = statements_of(plans, lambda repository: repository.count_unread(a_user(HEAVY)))

    plan: Plan = plans.explain(sql, parameters)

    assert plan.indexes() == {UNREAD}, plan
    assert "notifications" not in plan.seq_scanned(), plan
