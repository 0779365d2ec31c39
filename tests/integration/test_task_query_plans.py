"""The task list's common queries use indexes on a realistic volume, in one round trip.

200,000 tasks, 2,000 users and 2,000 tags are seeded with one INSERT ... SELECT generate_series per table
(about 10 s). The plans PostgreSQL picks here are the ones it picks at 1,000,000 tasks, 10,000 users and
10,000 tags: checked by hand with PLAN_TASKS=1000000 (about a minute). The statements explained are the
repository's own, captured while it runs, so a change to SqlTaskRepository.search is checked here too.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

from tasktracker.adapters.sqlalchemy.engine import sqlalchemy_url
from tasktracker.adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from tasktracker.application.ports import DuePosition, ReminderAudit, ReminderNotice, SortKey, TaskQuery
from tasktracker.domain.enums import NotificationType, TaskStatus

TASKS = int(os.environ.get("PLAN_TASKS", "200000"))
USERS = max(TASKS // 100, 1)
TAGS = USERS

# Deterministic ids (md5 of a name) let the test name a seeded user without reading it back.
SEED = f"""
SELECT setseed(0.42);

INSERT INTO users (id, email, password_hash, full_name)
SELECT md5('plan-user-' || n)::uuid, 'plan-user-' || n || '@example.com', 'not-a-hash', 'Plan user ' || n
FROM generate_series(1, {USERS}) AS n;

INSERT INTO tags (id, name)
SELECT md5('plan-tag-' || n)::uuid, 'plan-tag-' || n FROM generate_series(1, {TAGS}) AS n;

-- Mostly done work, a quarter with no due date, created over two years, some words far commoner than others.
INSERT INTO tasks (id, owner_id, title, description, status, priority, due_date, created_at, updated_at)
SELECT
    gen_random_uuid(),
    md5('plan-user-' || (1 + n % {USERS}))::uuid,
    (ARRAY['Fix', 'Write', 'Review', 'Deploy', 'Plan', 'Test', 'Design', 'Refactor'])[1 + n % 8] || ' the '
        || (ARRAY['login page', 'report', 'invoice', 'pipeline', 'database', 'api', 'dashboard', 'docs',
                  'backup', 'release'])[1 + (n / 8) % 10] || ' #' || n,
    CASE WHEN r_description < 0.6 THEN 'Notes ' || md5(n::text) || ' for the next sprint' END,
    CASE WHEN r_status < 0.25 THEN 'TODO' WHEN r_status < 0.4 THEN 'IN_PROGRESS'
         WHEN r_status < 0.95 THEN 'DONE' ELSE 'BLOCKED' END,
    CASE WHEN r_priority < 0.3 THEN 'LOW' WHEN r_priority < 0.8 THEN 'MEDIUM'
         WHEN r_priority < 0.95 THEN 'HIGH' ELSE 'CRITICAL' END,
    CASE WHEN r_due < 0.75 THEN created + r_due * interval '80 days' END,
    created,
    created
FROM (
    SELECT n, random() AS r_description, random() AS r_status, random() AS r_priority, random() AS r_due,
           now() - random() * interval '730 days' AS created
    FROM generate_series(1, {TASKS}) AS n
) AS seed;

-- Up to three tags a task; a few tags are on many tasks, most on few.
INSERT INTO task_tags (task_id, tag_id, position)
SELECT id, md5('plan-tag-' || (1 + floor({TAGS} * power(random(), 3)))::int)::uuid, position
FROM tasks, generate_series(0, 2) AS position
WHERE position < abs(hashtext(id::text)) % 4
ON CONFLICT DO NOTHING;
"""


def seeded_user(number: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"plan-user-{number}".encode()).hexdigest())


def rare_word() -> str:
    """A fragment of one task's description: the search must find it through the trigram index."""
    return hashlib.md5(str(TASKS // 2).encode()).hexdigest()[:10]


@dataclass
class Plan:
    root: dict[str, Any]

    def nodes(self) -> Iterator[dict[str, Any]]:
        pending = [self.root]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(node.get("Plans", []))

    def scans(self) -> list[tuple[str, str | None, str | None]]:
        return [
            (node["Node Type"], node.get("Relation Name"), node.get("Index Name"))
            for node in self.nodes()
            if "Scan" in node["Node Type"]
        ]

    def seq_scanned(self) -> set[str]:
        return {relation for kind, relation, _ in self.scans() if kind == "Seq Scan" and relation}

    def indexes(self) -> set[str]:
        return {index for _, _, index in self.scans() if index}

    def split_off_init_plans(self) -> tuple[Plan, list[Plan]]:
        """The plan without its InitPlans (the uncorrelated subqueries computed once for the statement, as the
        list's total), and those."""
        init_plans: list[Plan] = []

        def pruned(node: dict[str, Any]) -> dict[str, Any]:
            children = []
            for child in node.get("Plans", []):
                if child.get("Parent Relationship") == "InitPlan":
                    init_plans.append(Plan(child))
                else:
                    children.append(pruned(child))
            return {**node, "Plans": children}

        return Plan(pruned(self.root)), init_plans

    def __str__(self) -> str:
        return "; ".join(f"{kind} {relation or ''} {index or ''}".strip() for kind, relation, index in self.scans())


# The secondary indexes of the bulk-loaded tables; the ones backing constraints stay.
SECONDARY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename IN ('tasks', 'task_tags')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = indexname)
"""


@pytest.fixture(scope="module")
def seeded(database_url: str) -> Iterator[str]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        indexes = connection.execute(SECONDARY_INDEXES).fetchall()
        # Built after the load, as any bulk load does: several times faster than growing them row by row,
        # and recreated from their own definitions whatever happens.
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        try:
            connection.execute(SEED)
        finally:
            for _, definition in indexes:
                connection.execute(definition)
        # Autovacuum keeps a live database vacuumed and analysed; the seed is brought to that state at once.
        connection.execute("VACUUM ANALYZE users, tags, tasks, task_tags")
    yield database_url
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "TRUNCATE users, tasks, tags, task_tags, attachments, audit_events, reminder_logs, refresh_tokens CASCADE"
        )


@dataclass
class CapturedSearch:
    items: int
    total: int
    statements: list[tuple[str, Any]]


class QueryPlans:
    """Runs the repository's search and keeps the SQL it sent, to explain it afterwards."""

    def __init__(self, database_url: str):
        self.engine = create_engine(sqlalchemy_url(database_url))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.statements: list[tuple[str, Any]] = []
        event.listen(self.engine, "before_cursor_execute", self._capture)

    def _capture(self, _connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements.append((statement, parameters))

    def search(self, query: TaskQuery) -> CapturedSearch:
        with SqlAlchemyUnitOfWork(self.sessions) as uow:
            self.statements.clear()
            page = uow.tasks.search(query)
            return CapturedSearch(len(page.items), page.total, list(self.statements))

    def explain(self, statement: str, parameters: Any) -> Plan:
        with self.engine.connect() as connection:
            [[document]] = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).all()
        return Plan(document[0]["Plan"])


@pytest.fixture(scope="module")
def plans(seeded: str) -> Iterator[QueryPlans]:
    query_plans = QueryPlans(seeded)
    yield query_plans
    query_plans.engine.dispose()


@dataclass(frozen=True)
class CommonQuery:
    query: TaskQuery
    page_indexes: frozenset[str]
    # Where the exact total comes from: the kept counts, the tag index, or the tasks under the filters.
    counted_from: str = "tasks"


def by(field: str, descending: bool = False) -> tuple[SortKey, ...]:
    return (SortKey(field, descending),)


COMMON_QUERIES = {
    "newest first": CommonQuery(TaskQuery(), frozenset({"ix_tasks_created_at_id"}), counted_from="task_counts"),
    "one status": CommonQuery(
        TaskQuery(statuses=(TaskStatus.BLOCKED,)), frozenset({"ix_tasks_status_created_at"}), "task_counts"
    ),
    "one owner's tasks": CommonQuery(TaskQuery(owner_id=seeded_user(7)), frozenset({"ix_tasks_owner_id_created_at"})),
    "open tasks by due date": CommonQuery(
        TaskQuery(statuses=(TaskStatus.TODO, TaskStatus.IN_PROGRESS), sort=by("due_date")),
        frozenset({"ix_tasks_due_date_created_at_id"}),
        counted_from="task_counts",
    ),
    "latest due first": CommonQuery(
        TaskQuery(sort=by("due_date", True)), frozenset({"ix_tasks_due_date_desc_created_at_id"}), "task_counts"
    ),
    "most urgent first": CommonQuery(
        TaskQuery(sort=by("priority", True)), frozenset({"ix_tasks_priority_rank_created_at_id"}), "task_counts"
    ),
    "by status": CommonQuery(
        TaskQuery(sort=by("status")), frozenset({"ix_tasks_status_rank_created_at_id"}), "task_counts"
    ),
    "by title": CommonQuery(
        TaskQuery(sort=by("title")), frozenset({"ix_tasks_lower_title_created_at_id"}), "task_counts"
    ),
    "recently updated": CommonQuery(
        TaskQuery(sort=by("updated_at", True)), frozenset({"ix_tasks_updated_at_created_at_id"}), "task_counts"
    ),
    "search": CommonQuery(TaskQuery(search=rare_word()), frozenset({"ix_tasks_search_trgm"})),
    "a tag": CommonQuery(TaskQuery(tags=("plan-tag-60",)), frozenset({"ix_task_tags_tag_id_task_id"}), "task_tags"),
    # On about 7% of all tasks: read off the newest-first index until a page is found, not fetched whole.
    "a popular tag": CommonQuery(
        TaskQuery(tags=("plan-tag-1",)),
        frozenset({"ix_tasks_created_at_id", "ix_task_tags_tag_id_task_id"}),
        "task_tags",
    ),
}


@pytest.mark.parametrize("name", list(COMMON_QUERIES))
def test_the_common_list_queries_use_indexes_and_never_count_every_task(name: str, plans: QueryPlans) -> None:
    common = COMMON_QUERIES[name]
    result = plans.search(common.query)
    assert result.items > 0, "the seed should give every common query something to show"

    # One statement for the page (tag names included) and its total, and one naming the tags' ids first.
    statements = result.statements
    if common.query.tags:
        (tag_statement, _), *statements = statements
        assert "FROM tags" in tag_statement
    [(page_statement, page_parameters)] = statements

    # The total is the statement's one InitPlan: computed once, not per row of the page.
    page, [count] = plans.explain(page_statement, page_parameters).split_off_init_plans()
    assert page.seq_scanned().isdisjoint({"tasks", "task_tags", "tags"}), f"{name}: {page}"
    assert common.page_indexes <= page.indexes(), f"{name}: {page}"

    counted = {relation for _, relation, _ in count.scans() if relation}
    assert counted == {common.counted_from}, f"{name} count: {count}"
    if common.counted_from != "task_counts":
        assert common.counted_from not in count.seq_scanned(), f"{name} count: {count}"
    # Shown with -s: the plans to compare at another volume (PLAN_TASKS).
    print(f"\n{name} ({TASKS} tasks, {result.total} matching)\n  page:  {page}\n  count: {count}")


@pytest.mark.parametrize("name", ["newest first", "search", "a tag"])
def test_a_page_past_the_end_asks_for_its_total_alone(name: str, plans: QueryPlans) -> None:
    """No row carries the total there: it is asked on its own, the same number as on the first page."""
    query = COMMON_QUERIES[name].query
    first = plans.search(query)
    past_the_end = plans.search(replace(query, page=first.total // query.page_size + 2))
    assert (past_the_end.items, past_the_end.total) == (0, first.total)
    page_statement, count_statement = [sql for sql, _ in past_the_end.statements if not sql.startswith("SELECT tags.")]
    assert " AS total" in page_statement and " AS total" not in count_statement


def test_the_kept_totals_equal_a_count_of_the_rows(plans: QueryPlans) -> None:
    for statuses in ((), (TaskStatus.DONE,), (TaskStatus.TODO, TaskStatus.BLOCKED)):
        kept = plans.search(TaskQuery(statuses=statuses, page_size=1)).total
        with plans.engine.connect() as connection:
            wanted = [status.value for status in statuses] or [status.value for status in TaskStatus]
            [[counted]] = connection.exec_driver_sql(
                "SELECT count(*) FROM tasks WHERE status = ANY(%(wanted)s)", {"wanted": wanted}
            ).all()
        assert kept == counted, statuses


def test_the_reminder_claim_reads_due_tasks_by_index_and_locks_them_by_key(plans: QueryPlans) -> None:
    """Each batch of the reminder pass reads the due tasks off an index on the due date, and fetches each task
    of the batch again by its key to lock it: never a scan of every task, once per batch."""
    with plans.engine.connect() as connection:
        [[now]] = connection.exec_driver_sql("SELECT now()").all()
    audit = ReminderAudit(details={"system": True}, task_fields=("due_date", "title", "owner_id"), created_at=now)
    notice = ReminderNotice(type=NotificationType.DUE_SOON, message="Due soon.", created_at=now)
    with SqlAlchemyUnitOfWork(plans.sessions) as uow:
        plans.statements.clear()
        first = uow.reminders.claim_due_soon(now, now + timedelta(hours=24), now, 5000, audit, notice)
        assert first.examined > 0, "the seed should have tasks due in the next 24 hours"
        after = DuePosition(now + timedelta(hours=1), uuid.UUID(int=0))
        uow.reminders.claim_due_soon(now, now + timedelta(hours=24), now, 5000, audit, notice, after=after)
        claims = [(sql, parameters) for sql, parameters in plans.statements if "INSERT INTO reminder_logs" in sql]
        # Nothing of this is kept: the uow is left without a commit.
    assert len(claims) == 2
    for statement, parameters in claims:
        plan = plans.explain(statement, parameters)
        assert "tasks" not in plan.seq_scanned(), plan
        assert "pk_tasks" in plan.indexes(), plan
        assert any(index.startswith("ix_tasks_") and "due_date" in index for index in plan.indexes()), plan
        print(f"\nreminder claim ({TASKS} tasks, {first.examined} due)\n  {plan}")
