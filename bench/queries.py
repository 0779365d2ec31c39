"""The SQL the product runs for the benchmarked requests, written out by hand for the floors.

Kept equal to what tasktracker.adapters.sqlalchemy.tasks.SqlTaskRepository.search emits (the page's ids
first, then the rows with owner email and tag names, then the total), so pgbench and the bare handler do the
same database work as the product minus its layers.
"""

from __future__ import annotations

# The benchmarked list request: a search term, two filters, a two-field sort and page_size 20.
SEARCH_TERM = "quarterly"
LIST_PATH = (
    f"/api/v1/tasks?search={SEARCH_TERM}&status=TODO,IN_PROGRESS&priority=HIGH,CRITICAL"
    "&sort=due_date:asc,priority:desc&page_size=20"
)
# What everyone sees first: every task, newest first.
DEFAULT_PATH = "/api/v1/tasks?page_size=20"

_SEARCH_WHERE = (
    f"lower(tasks.title || ' ' || coalesce(tasks.description, '')) LIKE '%{SEARCH_TERM}%' ESCAPE '\\' "
    "AND tasks.status IN ('TODO', 'IN_PROGRESS') AND tasks.priority IN ('HIGH', 'CRITICAL')"
)
# Before the kept rank columns, a priority sort was a CASE over the text, and ties were always newest first.
_CASE_ORDER = (
    "tasks.due_date ASC NULLS LAST, "
    "CASE tasks.priority WHEN 'LOW' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'HIGH' THEN 3 WHEN 'CRITICAL' THEN 4 END "
    "DESC NULLS LAST, tasks.created_at DESC, tasks.id DESC"
)
# With them (migration 0002): the stored rank, and ties in the first key's direction.
_RANK_ORDER = "tasks.due_date ASC NULLS LAST, tasks.priority_rank DESC, tasks.created_at ASC, tasks.id ASC"
_DEFAULT_ORDER = "tasks.created_at DESC, tasks.id DESC"

_PAGE = """
SELECT tasks.id, tasks.owner_id, tasks.title, tasks.description, tasks.status, tasks.priority, tasks.due_date,
       tasks.created_at, tasks.updated_at, users.email,
       array(SELECT tags.name FROM tags JOIN task_tags ON task_tags.tag_id = tags.id
             WHERE task_tags.task_id = tasks.id ORDER BY task_tags.position) AS tags
FROM tasks JOIN users ON users.id = tasks.owner_id
WHERE tasks.id IN (SELECT tasks.id FROM tasks {where} ORDER BY {order} LIMIT 20 OFFSET 0)
ORDER BY {order}
"""

RANKED_COLUMN = (
    "SELECT EXISTS (SELECT 1 FROM information_schema.columns"
    " WHERE table_name = 'tasks' AND column_name = 'priority_rank')"
)


def search_page(ranked: bool) -> str:
    return _PAGE.format(where=f"WHERE {_SEARCH_WHERE}", order=_RANK_ORDER if ranked else _CASE_ORDER)


SEARCH_COUNT = f"SELECT count(*) FROM tasks WHERE {_SEARCH_WHERE}"  # noqa: S608 - constants
DEFAULT_PAGE = _PAGE.format(where="", order=_DEFAULT_ORDER)
# The two ways to know the unfiltered total: read the table, or add up the counters kept with each write.
EXACT_COUNT = "SELECT count(*) FROM tasks"
COUNTERS_COUNT = "SELECT coalesce(sum(tasks), 0) FROM task_counts"
COUNTERS_TABLE = "task_counts"

# The signed-in reads of part 8, as the product sends them (SqlTaskRepository.search with owner=me and the
# default page size and order, SqlTaskRepository.get_view, SqlAttachmentRepository.list_for_task and
# SqlUserRepository.get, compiled by SQLAlchemy for PostgreSQL), with the same parameters bound.
OWN_PAGE_PATH = "/api/v1/tasks?owner=me"
TASK_PATH = "/api/v1/tasks/{task_id}"
ME_PATH = "/api/v1/auth/me"

_VIEW = """
SELECT tasks.id, tasks.owner_id, tasks.title, tasks.description, tasks.status, tasks.priority, tasks.due_date,
       tasks.created_at, tasks.updated_at, tasks.version, tasks.status_rank, tasks.priority_rank, users.email,
       array((SELECT tags.name FROM tags JOIN task_tags ON task_tags.tag_id = tags.id
              WHERE task_tags.task_id = tasks.id ORDER BY task_tags.position)) AS tags
FROM tasks JOIN users ON users.id = tasks.owner_id
"""
_OWN_WHERE = (
    "WHERE tasks.id IN (SELECT tasks.id FROM tasks WHERE tasks.owner_id = %(owner)s::UUID"
    " ORDER BY tasks.created_at DESC, tasks.id DESC LIMIT %(limit)s::INTEGER OFFSET %(offset)s::INTEGER)"
    " ORDER BY tasks.created_at DESC, tasks.id DESC"
)
OWN_COUNT = "SELECT count(*) AS count_1 FROM tasks WHERE tasks.owner_id = %(owner)s::UUID"
# The product sends a list's total as a column of its page (OWN_COUNT alone only for a page with no rows).
OWN_PAGE = _VIEW.replace(" AS tags\n", f" AS tags, ({OWN_COUNT}) AS total\n") + _OWN_WHERE
TASK_VIEW = _VIEW + "WHERE tasks.id = %(task)s::UUID\n"
TASK_ATTACHMENTS = """
SELECT attachments.id, attachments.task_id, attachments.filename, attachments.content_type, attachments.size_bytes,
       attachments.storage_path, attachments.created_at
FROM attachments WHERE attachments.task_id = %(task)s::UUID ORDER BY attachments.created_at, attachments.id
"""
USER_BY_ID = """
SELECT users.id, users.email, users.password_hash, users.full_name, users.is_active, users.created_at,
       users.updated_at, users.session_epoch
FROM users WHERE users.id = %(user)s::UUID
"""
# The product's default page size (tasktracker.application.queries.DEFAULT_PAGE_SIZE); checked by the part.
DEFAULT_PAGE_SIZE = 20
# The busiest seeded owner: the user whose own first page part 8 reads (a full page where the data allows).
BUSIEST_OWNER = (
    "SELECT users.id, users.email FROM users JOIN"
    " (SELECT owner_id, count(*) AS owned FROM tasks GROUP BY owner_id ORDER BY owned DESC, owner_id LIMIT 1) AS o"
    " ON o.owner_id = users.id"
)
