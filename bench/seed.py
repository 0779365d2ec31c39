"""Seeds the benchmark database: 10,000 users and up to 1,000,000 tasks with tags, grown in steps.

Rows are generated inside PostgreSQL from generate_series (no Python loop over a million rows). Titles and
descriptions come from a vocabulary; the search term is in 1% of the titles; some tags are far more popular than
others. Ids are derived from the row number (md5), so later steps can add tags to the tasks they add.
The schema is the product's own migration. While a step loads, the tasks' secondary indexes are dropped and then
rebuilt from their own definitions: the same indexes, built once instead of maintained row by row.
"""

from __future__ import annotations

import time

import psycopg

from bench.queries import COUNTERS_TABLE, SEARCH_TERM

USERS = 10_000

VERBS = ["Review", "Write", "Fix", "Plan", "Update", "Prepare", "Test", "Deploy", "Check", "Draft", "Clean up", "Move"]
ADJECTIVES = ["weekly", "broken", "new", "urgent", "shared", "legacy", "mobile", "internal", "customer", "annual"]
NOUNS = ["report", "invoice", "login page", "backlog", "release notes", "database", "budget", "onboarding", "API",
         "dashboard", "contract", "newsletter", "roadmap", "test suite", "server"]  # fmt: skip
FILLER = ["the", "team", "asked", "for", "details", "before", "Friday", "and", "after", "meeting", "with", "notes",
          "from", "last", "sprint", "please", "keep", "track", "of", "open", "questions"]  # fmt: skip
# Popular first: a task's tags are drawn with a strong skew towards the start of this list.
TAGS = ["work", "home", "urgent", "backend", "frontend", "bug", "ops", "finance", "design", "docs",
        *(f"project-{n}" for n in range(1, 51))]  # fmt: skip


def _array(words: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + word.replace("'", "''") + "'" for word in words) + "]"


def _hash(salt: int, modulo: int) -> str:
    """A pseudo-random number in [0, modulo) for row n, the same on every run."""
    return f"mod(abs(hashint8(n * 64 + {salt})::bigint), {modulo})"


def _pick(words: list[str], salt: int) -> str:
    return f"({_array(words)})[1 + {_hash(salt, len(words))}]"


def _description() -> str:
    return " || ' ' || ".join(_pick(FILLER, 10 + k) for k in range(10))


USERS_SQL = """
INSERT INTO users (id, email, password_hash, full_name, created_at, updated_at)
SELECT md5('bench-user-' || n)::uuid, 'bench-user-' || n || '@example.com', 'not-a-password-hash',
       'Bench User ' || n, now() - interval '3 years', now() - interval '3 years'
FROM generate_series(1, %(users)s) AS n
"""

TAGS_SQL = (
    "INSERT INTO tags (id, name) SELECT md5('bench-tag-' || name)::uuid, name FROM unnest(%(tags)s::text[]) AS name"
)

# Statuses about 40% TODO, 25% IN_PROGRESS, 30% DONE, 5% BLOCKED; priorities 30/40/20/10 LOW..CRITICAL;
# 70% have a due date within -60..+120 days; created over the last two years.
TASKS_SQL = f"""
INSERT INTO tasks (id, owner_id, title, description, status, priority, due_date, created_at, updated_at)
SELECT md5('bench-task-' || n)::uuid,
       md5('bench-user-' || (1 + {_hash(1, USERS)}))::uuid,
       {_pick(VERBS, 2)} || ' ' || CASE WHEN mod(n, 100) = 37 THEN '{SEARCH_TERM} ' ELSE '' END
           || {_pick(ADJECTIVES, 3)} || ' ' || {_pick(NOUNS, 4)},
       CASE WHEN mod(n, 5) = 0 THEN NULL ELSE {_description()} END,
       CASE WHEN r.s < 40 THEN 'TODO' WHEN r.s < 65 THEN 'IN_PROGRESS' WHEN r.s < 95 THEN 'DONE' ELSE 'BLOCKED' END,
       CASE WHEN r.p < 30 THEN 'LOW' WHEN r.p < 70 THEN 'MEDIUM' WHEN r.p < 90 THEN 'HIGH' ELSE 'CRITICAL' END,
       CASE WHEN r.d < 70 THEN now() + ({_hash(7, 180 * 24 * 60)} - 60 * 24 * 60) * interval '1 minute'
       END,
       now() - r.age * interval '1 second',
       now() - r.age * interval '1 second' / 2
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n,
     LATERAL (SELECT {_hash(5, 100)} AS s, {_hash(6, 100)} AS p, {_hash(8, 100)} AS d,
                     {_hash(9, 730 * 24 * 3600)} AS age) AS r
"""  # noqa: S608 - built from constants in this module

# 0 to 3 tags per task, drawn with a cubic skew: the first few tags are on a large share of the tasks.
TASK_TAGS_SQL = f"""
INSERT INTO task_tags (task_id, tag_id, position)
SELECT md5('bench-task-' || n)::uuid, md5('bench-tag-' || (%(tags)s::text[])[1 + tag_index])::uuid, k
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n,
     generate_series(0, 2) AS k,
     LATERAL (SELECT floor({len(TAGS)} * power(mod(abs(hashint8(n * 64 + 20 + k)::bigint), 10000) / 10000.0, 3))::int
              AS tag_index) AS t
WHERE k < {_hash(19, 4)}
ON CONFLICT DO NOTHING
"""  # noqa: S608 - built from constants in this module

SECONDARY_INDEXES = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index AS i
WHERE i.indrelid IN ('tasks'::regclass, 'task_tags'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
"""


def counters_exist(connection: psycopg.Connection) -> bool:
    row = connection.execute("SELECT to_regclass(%s) IS NOT NULL", (COUNTERS_TABLE,)).fetchone()
    return bool(row and row[0])


def seed_users(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(USERS_SQL, {"users": USERS})
        connection.execute(TAGS_SQL, {"tags": TAGS})


def grow_tasks(url: str, first: int, last: int) -> float:
    """Adds tasks number first..last with their tags; returns the seconds it took (load, indexes, analyze)."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '512MB'")
        indexes = connection.execute(SECONDARY_INDEXES).fetchall()
        with connection.transaction():
            for name, _ in indexes:
                connection.execute(f"DROP INDEX {name}")
            # The rows are made consistent here; per-row foreign-key checks would only slow the load.
            _set_replica_role(connection, "replica")
            connection.execute(TASKS_SQL, {"first": first, "last": last})
            connection.execute(TASK_TAGS_SQL, {"tags": TAGS, "first": first, "last": last})
            _set_replica_role(connection, "origin")
            for _, definition in indexes:
                connection.execute(definition)
            if counters_exist(connection):
                recount(connection)
        connection.execute("VACUUM ANALYZE users, tags, tasks, task_tags")
        # The load's dirty pages written now, not by the checkpointer during the first load points after it
        # (the point right after a step read p99 at 4 times p50, the same request later 2).
        connection.execute("CHECKPOINT")
    return time.perf_counter() - started


def recount(connection: psycopg.Connection) -> None:
    """The counts the product's triggers keep with each write, set once for the rows loaded without triggers."""
    connection.execute(f"DELETE FROM {COUNTERS_TABLE}")  # noqa: S608 - a constant
    connection.execute(
        f"INSERT INTO {COUNTERS_TABLE} (status, priority, slot, tasks)"  # noqa: S608 - a constant
        " SELECT status, priority, 0, count(*) FROM tasks GROUP BY status, priority"
    )


def _set_replica_role(connection: psycopg.Connection, role: str) -> None:
    # Needs a superuser (the embedded server's postgres is one); elsewhere the checks just run.
    try:
        with connection.transaction():
            connection.execute(f"SET LOCAL session_replication_role = {role}")
    except psycopg.errors.InsufficientPrivilege:
        pass
