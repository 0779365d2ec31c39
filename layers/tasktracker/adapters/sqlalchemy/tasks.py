"""Tasks with their tags in order, and the task list: filtered, sorted, paged, with exact totals."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, String, delete, exists, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tasktracker.application.ports import Page, SortKey, TaskQuery
from tasktracker.domain.entities import Task, TaskView
from tasktracker.domain.enums import TaskPriority, TaskStatus
from tasktracker.domain.errors import ConflictError

from .base import SqlRepository, page_of
from .models import TagRow, TaskCountRow, TaskRow, TaskTagRow, UserRow, search_text_expression

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


_TASKS = TaskRow.__table__
_USERS = UserRow.__table__


def _task(row: Any, tags: list[str]) -> Task:
    return Task(
        id=row.id,
        owner_id=row.owner_id,
        title=row.title,
        description=row.description,
        status=TaskStatus(row.status),
        priority=TaskPriority(row.priority),
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
        self.session.execute(
            insert(TaskRow).values(
                id=task.id,
                owner_id=task.owner_id,
                title=task.title,
                description=task.description,
                status=task.status.value,
                priority=task.priority.value,
                due_date=task.due_date,
                created_at=task.created_at,
                updated_at=task.updated_at,
                version=task.version,
            )
        )
        # A new task has no tag rows to replace: one round trip fewer than a change's.
        self._set_tags(task.id, task.tags, replace=False)

    def get(self, task_id: UUID) -> Task | None:
        return self._get(select(TaskRow, _TAG_NAMES).where(TaskRow.id == task_id))

    def get_for_update(self, task_id: UUID) -> Task | None:
        # FOR UPDATE locks the task's row only: the tag subquery is not part of FROM.
        return self._get(select(TaskRow, _TAG_NAMES).where(TaskRow.id == task_id).with_for_update())

    def _get(self, statement: Select[TaskRow, Sequence[str]]) -> Task | None:
        row = self.session.execute(statement).one_or_none()
        return _task(row[0], list(row[1])) if row else None

    def get_view(self, task_id: UUID) -> TaskView | None:
        page = self._select_views(self._view_query().where(TaskRow.id == task_id))
        return page[0] if page else None

    def save(self, task: Task) -> None:
        # Written only over the version it was changed from: under the row lock the use cases hold this always
        # matches; should a save ever run without it, a change that came between is not overwritten.
        saved = self.session.execute(
            update(TaskRow)
            .where(TaskRow.id == task.id, TaskRow.version == task.version - 1)
            .values(
                title=task.title,
                description=task.description,
                status=task.status.value,
                priority=task.priority.value,
                due_date=task.due_date,
                updated_at=task.updated_at,
                version=task.version,
            )
        )
        if saved.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError("The task was changed by another request; load it again", code="TASK_CHANGED")
        self._set_tags(task.id, task.tags)

    def delete(self, task: Task) -> None:
        self.session.execute(delete(TaskRow).where(TaskRow.id == task.id))

    def search(self, query: TaskQuery) -> Page[TaskView]:
        # Tag names become ids first: with the ids as constants PostgreSQL knows how common each tag is, and
        # reads a popular tag's tasks off the list order instead of fetching every one of them.
        tag_ids = self._tag_ids(query.tags)
        if query.tags and not tag_ids:
            return Page(items=[], page=query.page, page_size=query.page_size, total=0)
        conditions = self._conditions(query, tag_ids)
        order = self._order(query.sort)
        # The page's ids are picked first, so that owner emails and tag names are fetched for the rows shown,
        # not for every row an OFFSET skips. Still one statement.
        page_ids = page_of(select(TaskRow.id).where(*conditions).order_by(*order), query.page, query.page_size)
        items = self._select_views(self._view_query().where(TaskRow.id.in_(page_ids.correlate(None))).order_by(*order))
        total = self._total(query, conditions, tag_ids)
        return Page(items=items, page=query.page, page_size=query.page_size, total=total)

    def _tag_ids(self, names: Sequence[str]) -> list[UUID]:
        if not names:
            return []
        return list(self.session.execute(select(TagRow.id).where(TagRow.name.in_(names))).scalars())

    @staticmethod
    def _order(sort: Sequence[SortKey]) -> list[ColumnElement[Any]]:
        """The asked order, then created_at and id in the first key's direction: newest first by default.

        Ties follow the first key's direction so that each single-field order is one index read forwards
        or backwards (the indexes on the field, created_at, id).
        """
        order: list[ColumnElement[Any]] = []
        for key in sort:
            column = _SORT_COLUMNS[key.field]
            ordered = column.desc() if key.descending else column.asc()
            order.append(ordered.nulls_last() if key.field in _NULLABLE_SORT_FIELDS else ordered)
        newest_first = sort[0].descending if sort else True
        order += (
            [TaskRow.created_at.desc(), TaskRow.id.desc()]
            if newest_first
            else [TaskRow.created_at.asc(), TaskRow.id.asc()]
        )
        return order

    def _total(self, query: TaskQuery, conditions: list[ColumnElement[bool]], tag_ids: Sequence[UUID]) -> int:
        """Exact: from the kept counts when only status and priority filter, from the tag index when only
        tags filter, else counted under the filters, which narrow the rows to what their indexes find.
        """
        if tag_ids and replace(query, tags=(), sort=(), page=1, page_size=1) == TaskQuery(page_size=1):
            tagged = TaskTagRow.task_id if len(tag_ids) == 1 else TaskTagRow.task_id.distinct()
            counted = select(func.count(tagged)).where(TaskTagRow.tag_id.in_(tag_ids))
            return int(self.session.execute(counted).scalar_one())
        if replace(query, statuses=(), priorities=(), sort=(), page=1, page_size=1) != TaskQuery(page_size=1):
            return int(self.session.execute(select(func.count()).select_from(TaskRow).where(*conditions)).scalar_one())
        kept = select(func.coalesce(func.sum(TaskCountRow.tasks), 0))
        if query.statuses:
            kept = kept.where(TaskCountRow.status.in_([status.value for status in query.statuses]))
        if query.priorities:
            kept = kept.where(TaskCountRow.priority.in_([priority.value for priority in query.priorities]))
        return int(self.session.execute(kept).scalar_one())

    @staticmethod
    def _conditions(query: TaskQuery, tag_ids: Sequence[UUID]) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if query.search and query.search.strip():
            conditions.append(_SEARCH_TEXT.like(_like_pattern(query.search.strip()), escape="\\"))
        if query.statuses:
            conditions.append(TaskRow.status.in_([status.value for status in query.statuses]))
        if query.priorities:
            conditions.append(TaskRow.priority.in_([priority.value for priority in query.priorities]))
        if query.tags:
            conditions.append(
                exists(
                    select(literal(1))
                    .select_from(TaskTagRow)
                    .where(TaskTagRow.task_id == TaskRow.id, TaskTagRow.tag_id.in_(tag_ids))
                )
            )
        if query.due_from is not None:
            conditions.append(TaskRow.due_date >= query.due_from)
        if query.due_to is not None:
            conditions.append(TaskRow.due_date <= query.due_to)
        if query.owner_id is not None:
            conditions.append(TaskRow.owner_id == query.owner_id)
        return conditions

    @staticmethod
    def _view_query() -> Any:
        # The table's columns, not the mapped class: the rows are read once into the domain's Task, so the ORM's
        # identity map and instance bookkeeping would be work for nothing on every list.
        return select(*_TASKS.c, _USERS.c.email, _TAG_NAMES).join(_USERS, _USERS.c.id == _TASKS.c.owner_id)

    def _select_views(self, statement: Select[Any]) -> list[TaskView]:
        rows = self.session.connection().execute(statement).all()
        return [TaskView(task=_task(row, list(row.tags)), owner_email=row.email) for row in rows]

    def _set_tags(self, task_id: UUID, names: list[str], *, replace: bool = True) -> None:
        if replace:
            self.session.execute(delete(TaskTagRow).where(TaskTagRow.task_id == task_id))
        if not names:
            return
        self.session.execute(
            pg_insert(TagRow)
            .values([{"id": uuid.uuid4(), "name": name} for name in names])
            .on_conflict_do_nothing(index_elements=["name"])
        )
        ids = dict(self.session.execute(select(TagRow.name, TagRow.id).where(TagRow.name.in_(names))).all())
        self.session.execute(
            insert(TaskTagRow),
            [{"task_id": task_id, "tag_id": ids[name], "position": index} for index, name in enumerate(names)],
        )
