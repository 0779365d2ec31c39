"""The answers built directly (FunctionBlueprint.response's `serialize`) are exactly what their documented schemas
dump: every field, every optional value, every enum member, times in other zones and at whole seconds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from functions.auth.schemas import UserSchema, user_json
from functions.tasks.schemas import (
    TaskDetailSchema,
    TaskPageSchema,
    TaskSchema,
    task_detail_json,
    task_json,
    task_page_json,
)
from tasktracker.application.ports import Page
from tasktracker.application.tasks import TaskDetail
from tasktracker.domain.entities import Attachment, Task, TaskView, User
from tasktracker.domain.enums import TaskPriority, TaskStatus

CREATED = datetime(2026, 11, 26, 19, 35, 9, 815721, tzinfo=UTC)
ZONES = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)))


def _views() -> list[TaskView]:
    views = []
    for index, (status, priority, zone) in enumerate(itertools.product(TaskStatus, TaskPriority, ZONES)):
        due = None if index % 3 == 0 else (CREATED + timedelta(days=index)).astimezone(zone)
        task = Task(
            id=uuid4(),
            owner_id=uuid4(),
            title=f"Task {index} \u00e9\u4e2d\U0001f600",
            description=None if index % 2 else 'Words "quoted" and\nlines',
            status=status,
            priority=priority,
            due_date=due.replace(microsecond=0) if due is not None and index % 4 == 1 else due,
            tags=[] if index % 5 == 0 else ["alpha", f"tag-{index}"],
            created_at=CREATED.astimezone(zone),
            updated_at=CREATED + timedelta(seconds=index),
            version=index + 1,
        )
        views.append(TaskView(task=task, owner_email=None if index % 7 == 0 else f"user{index}@example.com"))
    return views


def test_a_task_is_what_the_task_schema_dumps() -> None:
    for view in _views():
        assert task_json(view) == TaskSchema().dump(view)


@pytest.mark.parametrize("count", [0, 1, 20])
def test_a_page_is_what_the_page_schema_dumps(count: int) -> None:
    page = Page(items=_views()[:count], page=3, page_size=20, total=1_000_000)
    assert task_page_json(page) == TaskPageSchema().dump(page)


@pytest.mark.parametrize("attachments", [0, 2])
def test_a_task_with_its_attachments_is_what_the_detail_schema_dumps(attachments: int) -> None:
    view = _views()[4]
    files = [
        Attachment(
            id=uuid4(),
            task_id=view.task.id,
            filename=f"report {index}.pdf",
            content_type="application/pdf",
            size_bytes=1024 * index,
            storage_path=f"tasks/{view.task.id}/{index}",
            created_at=CREATED.astimezone(ZONES[index % 3]),
        )
        for index in range(attachments)
    ]
    detail = TaskDetail(view, files)
    assert task_detail_json(detail) == TaskDetailSchema().dump(detail)


@pytest.mark.parametrize("full_name", [None, "", "Ada Lovelace \u00e9\u4e2d\U0001f600"])
def test_a_user_is_what_the_user_schema_dumps(full_name: str | None) -> None:
    for zone in ZONES:
        for created in (CREATED, CREATED.replace(microsecond=0)):
            user = User(
                id=uuid4(),
                email="ada@example.com",
                password_hash="argon2-hash",
                full_name=full_name,
                is_active=True,
                created_at=created.astimezone(zone),
                updated_at=created,
                session_epoch=3,
            )
            assert user_json(user) == UserSchema().dump(user)
