"""Repositories: domain entities in, domain entities out; SQL stays here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from tasktracker.application.ports import AuditQuery, DueTask, Page, ReminderAudit, SentReminder, SortKey, TaskQuery
from tasktracker.domain.entities import Attachment, AuditEvent, RefreshToken, Task, TaskView, User
from tasktracker.domain.enums import PRIVATE_AUDIT_EVENT_TYPES, AuditEventType, ReminderType, TaskPriority, TaskStatus

from .models import (
    AttachmentRow,
    AuditEventRow,
    RefreshTokenRow,
    ReminderLogRow,
    TagRow,
    TaskCountRow,
    TaskRow,
    TaskTagRow,
    UserRow,
    search_text_expression,
)


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        password_hash=row.password_hash,
        full_name=row.full_name,
        is_active=row.is_active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlUserRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, user: User) -> None:
        self.session.execute(
            insert(UserRow).values(
                id=user.id,
                email=user.email,
                password_hash=user.password_hash,
                full_name=user.full_name,
                is_active=user.is_active,
                created_at=user.created_at,
                updated_at=user.updated_at,
            )
        )

    def get(self, user_id: UUID) -> User | None:
        row = self.session.get(UserRow, user_id)
        return _user(row) if row else None

    def get_by_email(self, email: str) -> User | None:
        row = self.session.scalars(select(UserRow).where(func.lower(UserRow.email) == email.lower())).first()
        return _user(row) if row else None

    def save(self, user: User) -> None:
        self.session.execute(
            update(UserRow)
            .where(UserRow.id == user.id)
            .values(
                email=user.email,
                password_hash=user.password_hash,
                full_name=user.full_name,
                is_active=user.is_active,
                updated_at=user.updated_at,
            )
        )


class SqlRefreshTokenRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, token: RefreshToken) -> None:
        self.session.execute(
            insert(RefreshTokenRow).values(
                id=token.id,
                user_id=token.user_id,
                family_id=token.family_id,
                token_hash=token.token_hash,
                expires_at=token.expires_at,
                revoked=token.revoked,
                created_at=token.created_at,
            )
        )

    def get_by_hash_for_update(self, token_hash: str) -> RefreshToken | None:
        # Locked so that two refreshes racing with one token cannot both rotate it.
        row = self.session.execute(
            select(RefreshTokenRow).where(RefreshTokenRow.token_hash == token_hash).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            return None
        return RefreshToken(
            id=row.id,
            user_id=row.user_id,
            family_id=row.family_id,
            token_hash=row.token_hash,
            expires_at=row.expires_at,
            revoked=row.revoked,
            created_at=row.created_at,
        )

    def revoke(self, token_id: UUID) -> None:
        self.session.execute(update(RefreshTokenRow).where(RefreshTokenRow.id == token_id).values(revoked=True))

    def revoke_family(self, family_id: UUID) -> int:
        return self._revoke_where(RefreshTokenRow.family_id == family_id)

    def revoke_all_for_user(self, user_id: UUID) -> int:
        return self._revoke_where(RefreshTokenRow.user_id == user_id)

    def _revoke_where(self, condition: ColumnElement[bool]) -> int:
        result = self.session.execute(
            update(RefreshTokenRow).where(condition, RefreshTokenRow.revoked.is_(False)).values(revoked=True)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


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
)


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
    )


def _like_pattern(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlTaskRepository:
    def __init__(self, session: Session):
        self.session = session

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
            )
        )
        self._set_tags(task.id, task.tags)

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
        self.session.execute(
            update(TaskRow)
            .where(TaskRow.id == task.id)
            .values(
                title=task.title,
                description=task.description,
                status=task.status.value,
                priority=task.priority.value,
                due_date=task.due_date,
                updated_at=task.updated_at,
            )
        )
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
        page_ids = (
            select(TaskRow.id)
            .where(*conditions)
            .order_by(*order)
            .limit(query.page_size)
            .offset((query.page - 1) * query.page_size)
        )
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
        return select(TaskRow, UserRow.email, _TAG_NAMES).join(UserRow, UserRow.id == TaskRow.owner_id)

    def _select_views(self, statement: Select[Any]) -> list[TaskView]:
        rows = self.session.execute(statement).all()
        return [TaskView(task=_task(task_row, tags), owner_email=email) for task_row, email, tags in rows]

    def _set_tags(self, task_id: UUID, names: list[str]) -> None:
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


def _attachment(row: AttachmentRow) -> Attachment:
    return Attachment(
        id=row.id,
        task_id=row.task_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        storage_path=row.storage_path,
        created_at=row.created_at,
    )


class SqlAttachmentRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, attachment: Attachment) -> None:
        self.session.execute(
            insert(AttachmentRow).values(
                id=attachment.id,
                task_id=attachment.task_id,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size_bytes=attachment.size_bytes,
                storage_path=attachment.storage_path,
                created_at=attachment.created_at,
            )
        )

    def get(self, attachment_id: UUID) -> Attachment | None:
        row = self.session.get(AttachmentRow, attachment_id)
        return _attachment(row) if row else None

    def list_for_task(self, task_id: UUID) -> list[Attachment]:
        rows = self.session.scalars(
            select(AttachmentRow)
            .where(AttachmentRow.task_id == task_id)
            .order_by(AttachmentRow.created_at, AttachmentRow.id)
        )
        return [_attachment(row) for row in rows]

    def delete(self, attachment: Attachment) -> None:
        self.session.execute(delete(AttachmentRow).where(AttachmentRow.id == attachment.id))


def _audit_values(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "user_id": event.user_id,
        "event_type": event.event_type.value,
        "task_id": event.task_id,
        "attachment_id": event.attachment_id,
        "details": event.details,
        "created_at": event.created_at,
    }


class SqlAuditLog:
    def __init__(self, session: Session):
        self.session = session

    def add(self, event: AuditEvent) -> None:
        self.session.execute(insert(AuditEventRow).values(**_audit_values(event)))

    def search(self, query: AuditQuery) -> Page[AuditEvent]:
        private = [event_type.value for event_type in PRIVATE_AUDIT_EVENT_TYPES]
        conditions: list[ColumnElement[bool]] = [
            or_(AuditEventRow.event_type.not_in(private), AuditEventRow.user_id == query.viewer_id)
        ]
        if query.user_id is not None:
            conditions.append(AuditEventRow.user_id == query.user_id)
        if query.task_id is not None:
            conditions.append(AuditEventRow.task_id == query.task_id)
        if query.event_types:
            conditions.append(AuditEventRow.event_type.in_([event_type.value for event_type in query.event_types]))
        if query.created_from is not None:
            conditions.append(AuditEventRow.created_at >= query.created_from)
        if query.created_to is not None:
            conditions.append(AuditEventRow.created_at <= query.created_to)
        rows = self.session.scalars(
            select(AuditEventRow)
            .where(and_(*conditions))
            .order_by(AuditEventRow.created_at.desc(), AuditEventRow.id.desc())
            .limit(query.page_size)
            .offset((query.page - 1) * query.page_size)
        ).all()
        total = self.session.execute(select(func.count()).select_from(AuditEventRow).where(*conditions)).scalar_one()
        items = [
            AuditEvent(
                id=row.id,
                event_type=AuditEventType(row.event_type),
                user_id=row.user_id,
                task_id=row.task_id,
                attachment_id=row.attachment_id,
                details=row.details,
                created_at=row.created_at,
            )
            for row in rows
        ]
        return Page(items=items, page=query.page, page_size=query.page_size, total=int(total))


class SqlReminderRepository:
    def __init__(self, session: Session):
        self.session = session

    def claim_due_soon(
        self, window_start: datetime, window_end: datetime, sent_at: datetime, limit: int, audit: ReminderAudit
    ) -> list[DueTask]:
        # The batch's tasks with the columns the audit events need, read once: joining the claimed ids back to
        # `tasks` made PostgreSQL scan and hash the whole table for every batch.
        due = (
            select(TaskRow.id, TaskRow.owner_id, TaskRow.title, TaskRow.due_date)
            .where(
                TaskRow.status != TaskStatus.DONE.value,
                TaskRow.due_date.is_not(None),
                TaskRow.due_date >= window_start,
                TaskRow.due_date <= window_end,
                ~exists(
                    select(literal(1)).where(
                        ReminderLogRow.task_id == TaskRow.id,
                        ReminderLogRow.reminder_type == ReminderType.DUE_SOON.value,
                    )
                ),
            )
            .order_by(TaskRow.due_date, TaskRow.id)
            .limit(limit)
            .cte("due")
        )
        # INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING: the unique constraint, not a prior check,
        # decides which concurrent pass claims a task.
        claimed = (
            pg_insert(ReminderLogRow)
            .from_select(
                ["task_id", "reminder_type", "sent_at"],
                select(due.c.id, literal(ReminderType.DUE_SOON.value), literal(sent_at)),
            )
            .on_conflict_do_nothing(index_elements=["task_id", "reminder_type"])
            .returning(ReminderLogRow.task_id)
            .cte("claimed")
        )
        # The events are written by the same statement, so that a batch of thousands never travels through
        # Python row by row: the batch's details, with each task's own fields added as JSON by PostgreSQL.
        task_fields = [part for name in audit.task_fields for part in (literal(name), due.c[name])]
        recorded = (
            insert(AuditEventRow)
            .from_select(
                ["id", "user_id", "event_type", "task_id", "details", "created_at"],
                select(
                    func.gen_random_uuid(),
                    null(),
                    literal(AuditEventType.REMINDER_SENT.value),
                    due.c.id,
                    cast(literal(audit.details, JSONB), JSONB).op("||")(func.jsonb_build_object(*task_fields)),
                    literal(audit.created_at),
                ).join(claimed, claimed.c.task_id == due.c.id),
            )
            .returning(AuditEventRow.task_id)
            .cte("recorded")
        )
        # psycopg prepares a statement run often, and PostgreSQL may then reuse a generic plan made without
        # the window's dates or the batch size: for this statement one that probes the growing reminder_logs
        # row by row, a pass slowing from seconds to minutes. Each batch is planned for its own values.
        # PostgreSQL has no statistics for CTEs and guesses their joins at millions of rows, past the JIT
        # thresholds: compiling would cost more than running.
        self.session.execute(
            text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), set_config('jit', 'off', true)")
        )
        rows = self.session.execute(
            select(due.c.id, due.c.owner_id, due.c.title, due.c.due_date).join(recorded, recorded.c.task_id == due.c.id)
        ).all()
        return [DueTask(task_id=row.id, owner_id=row.owner_id, title=row.title, due_date=row.due_date) for row in rows]

    def forget(self, task_id: UUID) -> None:
        self.session.execute(
            delete(ReminderLogRow).where(
                ReminderLogRow.task_id == task_id, ReminderLogRow.reminder_type == ReminderType.DUE_SOON.value
            )
        )

    def list_sent(self, page: int, page_size: int) -> Page[SentReminder]:
        rows = self.session.execute(
            select(
                ReminderLogRow.task_id,
                ReminderLogRow.reminder_type,
                ReminderLogRow.sent_at,
                TaskRow.title,
                TaskRow.due_date,
            )
            .join(TaskRow, TaskRow.id == ReminderLogRow.task_id)
            .order_by(ReminderLogRow.sent_at.desc(), ReminderLogRow.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
        total = self.session.execute(select(func.count()).select_from(ReminderLogRow)).scalar_one()
        items = [
            SentReminder(
                task_id=row.task_id,
                reminder_type=ReminderType(row.reminder_type),
                sent_at=row.sent_at,
                title=row.title,
                due_date=row.due_date,
            )
            for row in rows
        ]
        return Page(items=items, page=page, page_size=page_size, total=int(total))
