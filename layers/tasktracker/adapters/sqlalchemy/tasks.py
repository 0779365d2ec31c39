"""Tasks with their tags in order, and the task list: filtered, sorted, paged, with exact totals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tasktracker.application.ports import Page, SortKey, TaskQuery
from tasktracker.domain.entities import Task, TaskView
from tasktracker.domain.enums import TaskPriority, TaskStatus
from tasktracker.domain.errors import ConflictError

from .base import SqlRepository
from .models import TAGS, TASK_TAGS, TASKS, USERS, TagRow, TaskCountRow, TaskRow, TaskTagRow, search_text_expression

_SORT_COLUMNS: dict[str, Any] = {
    "title": func.lower(TaskRow.title),
    "status": TaskRow.status_rank,
    "priority": TaskRow.priority_rank,
    "due_date": TaskRow.due_date,
    "created_at": TaskRow.created_at,
    "updated_at": TaskRow.updated_at,
}
# Only due_date may be null. NULLS LAST on a column that cannot be null would still stop PostgreSQL from
# reading a descending order off a plain index, so it is said only where it means something.
_NULLABLE_SORT_FIELDS = {"due_date"}
_SEARCH_TEXT = search_text_expression(TaskRow.title, TaskRow.description)


# A task's tag names in the order the user gave them, as a column of the task's own query: no round trip
# of its own. ARRAY(subquery) is an empty array, not null, for a task without tags.
_TAG_NAMES = func.array(
    select(TagRow.name)
    .join(TaskTagRow, TaskTagRow.tag_id == TagRow.id)
    .where(TaskTagRow.task_id == TaskRow.id)
    .order_by(TaskTagRow.position)
    .scalar_subquery(),
    type_=ARRAY(String),
).label("tags")


# The table's columns, not the mapped class: the rows are read once into the domain's Task, so the ORM's identity
# map and instance bookkeeping would be work for nothing on every read.
_VIEWS = select(*TASKS.c, USERS.c.email, _TAG_NAMES).join(USERS, USERS.c.id == TASKS.c.owner_id)
# Built once, as every statement of a read below: making a statement and its cache key cost more than running it.
_VIEW_BY_ID = _VIEWS.where(TASKS.c.id == bindparam("task_id"))
_TAG_IDS_BY_NAME = select(TagRow.name, TagRow.id).where(TagRow.name.in_(bindparam("names", expanding=True)))
_INSERT_TASK = insert(TASKS)
_DELETE_TASK = delete(TASKS).where(TASKS.c.id == bindparam("task_id"))
_TASK_BY_ID = select(*TASKS.c, _TAG_NAMES).where(TASKS.c.id == bindparam("task_id"))
# FOR UPDATE locks the task's row only: the tag subquery is not part of FROM.
_TASK_BY_ID_FOR_UPDATE = _TASK_BY_ID.with_for_update()
# The columns it sets are the parameters named after them.
_SAVE_TASK = update(TASKS).where(TASKS.c.id == bindparam("task_id"), TASKS.c.version == bindparam("previous_version"))
# A tag new to everyone is added; one another task already has is left as it is (and not locked).
_ADD_TAGS = pg_insert(TAGS).on_conflict_do_nothing(index_elements=["name"])
_UNTAG = delete(TASK_TAGS).where(TASK_TAGS.c.task_id == bindparam("task_id"))
# The task's tags by name, each at its place in the list (the names are distinct): their ids are read by the
# statement itself, after _ADD_TAGS has made every one of them, so no round trip brings them to Python first.
_TAG_NAMES_GIVEN = bindparam("names", type_=ARRAY(String))
_TAG_TASK = insert(TASK_TAGS).from_select(
    ["task_id", "tag_id", "position"],
    select(
        bindparam("task_id", type_=TASKS.c.id.type),
        TAGS.c.id,
        func.array_position(_TAG_NAMES_GIVEN, TAGS.c.name) - 1,
    ).where(TAGS.c.name == any_(_TAG_NAMES_GIVEN)),
)


@dataclass(frozen=True)
class _ListShape:
    """What decides a list's statements; the values (term, statuses, owner, page, ...) are their parameters."""

    search: bool
    statuses: bool
    priorities: bool
    # 0: no tag filter; 1: one tag; 2: several (their tasks are then counted once each).
    tags: int
    due_from: bool
    due_to: bool
    owner: bool
    sort: tuple[SortKey, ...]

    @classmethod
    def of(cls, query: TaskQuery, search: str, tag_ids: Sequence[UUID]) -> _ListShape:
        return cls(
            search=bool(search),
            statuses=bool(query.statuses),
            priorities=bool(query.priorities),
            tags=min(len(tag_ids), 2),
            due_from=query.due_from is not None,
            due_to=query.due_to is not None,
            owner=query.owner_id is not None,
            sort=query.sort,
        )


@dataclass(frozen=True)
class _ListStatements:
    # The page's rows, each carrying the list's total: one round trip, and the total read in the page's snapshot.
    page: Select[Any]
    # The total alone, for a page with no row to carry it (past the end, or nothing matches).
    total: Select[Any]


# Each shape's statements are made once; a few dozen shapes cover what clients ask.
_LIST_SHAPES_KEPT = 512


# A page makes two of each per row: a lookup, where calling the enum goes through its metaclass every time.
_STATUSES = {status.value: status for status in TaskStatus}
_PRIORITIES = {priority.value: priority for priority in TaskPriority}


def _task(row: Any, tags: list[str]) -> Task:
    return Task(
        id=row.id,
        owner_id=row.owner_id,
        title=row.title,
        description=row.description,
        status=_STATUSES[row.status],
        priority=_PRIORITIES[row.priority],
        due_date=row.due_date,
        tags=tags,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


def _like_pattern(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlTaskRepository(SqlRepository):
    def add(self, task: Task) -> None:
        self.connection().execute(
            _INSERT_TASK,
            {
                "id": task.id,
                "owner_id": task.owner_id,
                "title": task.title,
                "description": task.description,
                "status": task.status.value,
                "priority": task.priority.value,
                "due_date": task.due_date,
                "created_at": task.created_at,
                "updated_at": task.updated_at,
                "version": task.version,
            },
        )
        # A new task has no tag rows to replace: one round trip fewer than a change's.
        self._set_tags(task.id, task.tags, replace=False)

    def get(self, task_id: UUID) -> Task | None:
        return self._get(_TASK_BY_ID, task_id)

    def get_for_update(self, task_id: UUID) -> Task | None:
        return self._get(_TASK_BY_ID_FOR_UPDATE, task_id)

    def _get(self, statement: Select[Any], task_id: UUID) -> Task | None:
        row = self.connection().execute(statement, {"task_id": task_id}).one_or_none()
        return _task(row, list(row.tags)) if row else None

    def get_view(self, task_id: UUID) -> TaskView | None:
        views = self._views(self.connection().execute(_VIEW_BY_ID, {"task_id": task_id}).all())
        return views[0] if views else None

    def save(self, task: Task) -> None:
        # Written only over the version it was changed from: under the row lock the use cases hold this always
        # matches; should a save ever run without it, a change that came between is not overwritten.
        saved = self.connection().execute(
            _SAVE_TASK,
            {
                "task_id": task.id,
                "previous_version": task.version - 1,
                "title": task.title,
                "description": task.description,
                "status": task.status.value,
                "priority": task.priority.value,
                "due_date": task.due_date,
                "updated_at": task.updated_at,
                "version": task.version,
            },
        )
        if saved.rowcount != 1:
            raise ConflictError("The task was changed by another request; load it again", code="TASK_CHANGED")
        self._set_tags(task.id, task.tags)

    def delete(self, task: Task) -> None:
        self.connection().execute(_DELETE_TASK, {"task_id": task.id})

    def search(self, query: TaskQuery) -> Page[TaskView]:
        # Tag names become ids first: with the ids as constants PostgreSQL knows how common each tag is, and
        # reads a popular tag's tasks off the list order instead of fetching every one of them.
        tag_ids = self._tag_ids(query.tags)
        if query.tags and not tag_ids:
            return Page(items=[], page=query.page, page_size=query.page_size, total=0)
        search = query.search.strip() if query.search else ""
        statements = _list_statements(_ListShape.of(query, search, tag_ids))
        parameters: dict[str, Any] = {
            "page_size": query.page_size,
            "offset": (query.page - 1) * query.page_size,
            "pattern": _like_pattern(search) if search else None,
            "statuses": [status.value for status in query.statuses],
            "priorities": [priority.value for priority in query.priorities],
            "tag_ids": list(tag_ids),
            "due_from": query.due_from,
            "due_to": query.due_to,
            "owner_id": query.owner_id,
        }
        connection = self.connection()
        rows = connection.execute(statements.page, parameters).all()
        total = rows[0].total if rows else connection.execute(statements.total, parameters).scalar_one()
        return Page(items=self._views(rows), page=query.page, page_size=query.page_size, total=int(total))

    def _tag_ids(self, names: Sequence[str]) -> list[UUID]:
        if not names:
            return []
        return [row.id for row in self.connection().execute(_TAG_IDS_BY_NAME, {"names": list(names)})]

    @staticmethod
    def _views(rows: Sequence[Any]) -> list[TaskView]:
        return [TaskView(task=_task(row, list(row.tags)), owner_email=row.email) for row in rows]

    def _set_tags(self, task_id: UUID, names: list[str], *, replace: bool = True) -> None:
        connection = self.connection()
        if replace:
            connection.execute(_UNTAG, {"task_id": task_id})
        if not names:
            return
        connection.execute(_ADD_TAGS, [{"id": uuid.uuid4(), "name": name} for name in names])
        # A statement of its own, after the one above: it sees every tag that one made or found (tags are never
        # deleted), including one another transaction committed in between.
        connection.execute(_TAG_TASK, {"task_id": task_id, "names": names})


@lru_cache(maxsize=_LIST_SHAPES_KEPT)
def _list_statements(shape: _ListShape) -> _ListStatements:
    """The page and its total for one shape of list, every value a named parameter of `search`'s."""
    conditions = _conditions(shape)
    order = _order(shape.sort)
    # The page's ids are picked first, so that owner emails and tag names are fetched for the rows shown, not for
    # every row an OFFSET skips. Still one statement, with the total in it.
    page_ids = (
        select(TASKS.c.id)
        .where(*conditions)
        .order_by(*order)
        .limit(bindparam("page_size", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    total = _total(shape, conditions)
    # Uncorrelated, so PostgreSQL computes it once for the statement (an InitPlan), not per row.
    total_column = total.correlate(None).scalar_subquery().label("total")
    page = _VIEWS.add_columns(total_column).where(TASKS.c.id.in_(page_ids.correlate(None))).order_by(*order)
    return _ListStatements(page=page, total=total)


def _conditions(shape: _ListShape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if shape.search:
        conditions.append(_SEARCH_TEXT.like(bindparam("pattern", type_=String), escape="\\"))
    if shape.statuses:
        conditions.append(TASKS.c.status.in_(bindparam("statuses", expanding=True)))
    if shape.priorities:
        conditions.append(TASKS.c.priority.in_(bindparam("priorities", expanding=True)))
    if shape.tags:
        conditions.append(
            exists(
                select(literal(1))
                .select_from(TaskTagRow)
                .where(TaskTagRow.task_id == TASKS.c.id, TaskTagRow.tag_id.in_(bindparam("tag_ids", expanding=True)))
            )
        )
    if shape.due_from:
        conditions.append(TASKS.c.due_date >= bindparam("due_from"))
    if shape.due_to:
        conditions.append(TASKS.c.due_date <= bindparam("due_to"))
    if shape.owner:
        conditions.append(TASKS.c.owner_id == bindparam("owner_id"))
    return conditions


def _order(sort: Sequence[SortKey]) -> list[ColumnElement[Any]]:
    """The asked order, then created_at and id in the first key's direction: newest first by default.

    Ties follow the first key's direction so that each single-field order is one index read forwards or backwards
    (the indexes on the field, created_at, id).
    """
    order: list[ColumnElement[Any]] = []
    for key in sort:
        column = _SORT_COLUMNS[key.field]
        ordered = column.desc() if key.descending else column.asc()
        order.append(ordered.nulls_last() if key.field in _NULLABLE_SORT_FIELDS else ordered)
    newest_first = sort[0].descending if sort else True
    order += (
        [TASKS.c.created_at.desc(), TASKS.c.id.desc()] if newest_first else [TASKS.c.created_at.asc(), TASKS.c.id.asc()]
    )
    return order


def _total(shape: _ListShape, conditions: list[ColumnElement[bool]]) -> Select[Any]:
    """Exact: from the kept counts when only status and priority filter, from the tag index when only tags
    filter, else counted under the filters, which narrow the rows to what their indexes find."""
    others = shape.search or shape.due_from or shape.due_to or shape.owner
    if shape.tags and not (others or shape.statuses or shape.priorities):
        tagged = TaskTagRow.task_id if shape.tags == 1 else TaskTagRow.task_id.distinct()
        return select(func.count(tagged)).where(TaskTagRow.tag_id.in_(bindparam("tag_ids", expanding=True)))
    if others or shape.tags:
        return select(func.count()).select_from(TASKS).where(*conditions)
    kept = select(func.coalesce(func.sum(TaskCountRow.tasks), 0))
    if shape.statuses:
        kept = kept.where(TaskCountRow.status.in_(bindparam("statuses", expanding=True)))
    if shape.priorities:
        kept = kept.where(TaskCountRow.priority.in_(bindparam("priorities", expanding=True)))
    return kept
