"""The kept task totals equal a count of the rows after every kind of write, concurrent ones included."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

STATUSES = ("TODO", "IN_PROGRESS", "DONE", "BLOCKED")
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


@pytest.fixture
def empty(database_url: str) -> Iterator[str]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE users, tasks, tags, task_tags, attachments, audit_events CASCADE")
    yield database_url


def kept(connection: psycopg.Connection) -> dict[tuple[str, str], int]:
    rows = connection.execute(
        "SELECT status, priority, sum(tasks) FROM task_counts GROUP BY status, priority HAVING sum(tasks) <> 0"
    ).fetchall()
    return {(status, priority): int(total) for status, priority, total in rows}


def counted(connection: psycopg.Connection) -> dict[tuple[str, str], int]:
    rows = connection.execute("SELECT status, priority, count(*) FROM tasks GROUP BY status, priority").fetchall()
    return {(status, priority): int(total) for status, priority, total in rows}


def add_user(connection: psycopg.Connection) -> uuid.UUID:
    user_id = uuid.uuid4()
    email = f"{user_id}@example.com"
    connection.execute("INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'not-a-hash')", (user_id, email))
    return user_id


def test_every_kind_of_write_keeps_the_totals_exact(empty: str) -> None:
    with psycopg.connect(empty, autocommit=True) as connection:
        ada, bob = add_user(connection), add_user(connection)
        # One statement of many rows, as a bulk load or a seed writes them.
        connection.execute(
            "INSERT INTO tasks (id, owner_id, title, status, priority)"
            " SELECT gen_random_uuid(), CASE WHEN n %% 3 = 0 THEN %s ELSE %s END::uuid, 'task ' || n,"
            " (ARRAY['TODO','IN_PROGRESS','DONE','BLOCKED'])[1 + n %% 4],"
            " (ARRAY['LOW','MEDIUM','HIGH','CRITICAL'])[1 + n %% 3]"
            " FROM generate_series(1, 500) AS n",
            (ada, bob),
        )
        assert kept(connection) == counted(connection)
        connection.execute("UPDATE tasks SET status = 'DONE' WHERE status = 'TODO'")
        connection.execute("UPDATE tasks SET priority = 'CRITICAL', status = 'BLOCKED' WHERE title LIKE 'task 1%'")
        # A change that moves no task between totals.
        connection.execute("UPDATE tasks SET title = title || '!' WHERE status = 'DONE'")
        assert kept(connection) == counted(connection)
        connection.execute("DELETE FROM tasks WHERE title LIKE 'task 2%'")
        assert kept(connection) == counted(connection)
        # Deleting an account deletes its tasks through the foreign key.
        connection.execute("DELETE FROM users WHERE id = %s", (ada,))
        assert kept(connection) == counted(connection)
        # A write that is rolled back takes its counts with it.
        with pytest.raises(psycopg.errors.DivisionByZero), connection.transaction():
            connection.execute("DELETE FROM tasks")
            connection.execute("SELECT 1 / 0")
        assert kept(connection) == counted(connection) != {}
        connection.execute("TRUNCATE tasks CASCADE")
        assert kept(connection) == {} == counted(connection)


def test_concurrent_writers_keep_the_totals_exact(empty: str) -> None:
    with psycopg.connect(empty, autocommit=True) as connection:
        owner = add_user(connection)
    failures: list[BaseException] = []

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(empty, autocommit=True) as connection:
                mine: list[uuid.UUID] = []
                for _ in range(150):
                    action = rng.random()
                    if action < 0.5 or not mine:
                        task_id = uuid.uuid4()
                        connection.execute(
                            "INSERT INTO tasks (id, owner_id, title, status, priority) VALUES (%s, %s, 't', %s, %s)",
                            (task_id, owner, rng.choice(STATUSES), rng.choice(PRIORITIES)),
                        )
                        mine.append(task_id)
                    elif action < 0.85:
                        connection.execute(
                            "UPDATE tasks SET status = %s, priority = %s WHERE id = %s",
                            (rng.choice(STATUSES), rng.choice(PRIORITIES), rng.choice(mine)),
                        )
                    else:
                        connection.execute("DELETE FROM tasks WHERE id = %s", (mine.pop(rng.randrange(len(mine))),))
        except BaseException as error:  # handed to the test's thread, which fails with it
            failures.append(error)

    writers = [threading.Thread(target=write, args=(seed,)) for seed in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert failures == []
    with psycopg.connect(empty) as connection:
        assert kept(connection) == counted(connection)
        # Writers on different connections spread over several rows of the same total.
        [[slots]] = connection.execute("SELECT count(DISTINCT slot) FROM task_counts").fetchall()
        assert slots > 1
