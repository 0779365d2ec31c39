from __future__ import annotations

from typing import Any

import marshmallow as ma

from tasktracker.application.ports import Page
from tasktracker.application.queries import TASK_SORT_FIELDS
from tasktracker.application.tasks import TaskDetail
from tasktracker.domain import rules
from tasktracker.domain.entities import Attachment, TaskView
from tasktracker.domain.enums import TaskPriority, TaskStatus
from tasktracker.platform.paging import PageQuerySchema, page_of
from tasktracker.platform.query_fields import EnumValues, SortKeys, TagNames

_AWARE = "ISO 8601 with a timezone, e.g. 2025-12-31T10:00:00Z"


class TaskWriteSchema(ma.Schema):
    """The writable fields (tasktracker.domain.entities.TASK_WRITABLE_FIELDS); the domain enforces the limits,
    repeated here so that the OpenAPI document shows them. Any other field is refused, id and owner_id included."""

    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=rules.TITLE_MAX_LENGTH))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=rules.DESCRIPTION_MAX_LENGTH))
    status = ma.fields.Enum(TaskStatus, metadata={"description": "TODO unless given"})
    priority = ma.fields.Enum(TaskPriority, metadata={"description": "MEDIUM unless given"})
    due_date = ma.fields.AwareDateTime(allow_none=True, metadata={"description": _AWARE})
    tags = ma.fields.List(
        ma.fields.String(
            validate=[
                ma.validate.Length(max=rules.TAG_MAX_LENGTH),
                ma.validate.Regexp(f"^[^{rules.TAG_FILTER_SEPARATOR}]*$", error=rules.TAG_WITH_A_COMMA),
            ]
        ),
        allow_none=True,
        validate=ma.validate.Length(max=rules.TAGS_MAX_PER_TASK),
        metadata={
            "description": "Tag names, without commas (the list's `tags` filter separates names with them); "
            "stored trimmed and lower-cased, duplicates dropped, order kept"
        },
    )


class TaskChangesSchema(TaskWriteSchema):
    """For PATCH, loaded with partial=True: the same fields, each optional. A class of its own so that the
    OpenAPI document names it (apispec would otherwise call it TaskWrite1)."""


class TaskSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    owner_id = ma.fields.UUID(required=True)
    owner_email = ma.fields.String(required=True, allow_none=True, metadata={"description": "The owner's email"})
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True, allow_none=True)
    status = ma.fields.Enum(TaskStatus, required=True)
    priority = ma.fields.Enum(TaskPriority, required=True)
    due_date = ma.fields.AwareDateTime(required=True, allow_none=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)

    @ma.pre_dump
    def flatten(self, view: TaskView, **kwargs: Any) -> dict[str, Any]:
        # The use cases answer a TaskView (the task and its owner's email); clients see one flat object.
        return {**vars(view.task), "owner_email": view.owner_email}


class AttachmentSummarySchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    filename = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True)
    size_bytes = ma.fields.Integer(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class TaskDetailSchema(ma.Schema):
    task = ma.fields.Nested(TaskSchema, required=True, attribute="view")
    attachments = ma.fields.List(
        ma.fields.Nested(AttachmentSummarySchema), required=True, metadata={"description": "Oldest first"}
    )


TaskPageSchema = page_of(TaskSchema)


# The same answers as TaskSchema, TaskDetailSchema and TaskPageSchema dump, built directly (see
# FunctionBlueprint.response): the schemas document them, tests/unit/test_serializers.py holds the two equal.


def task_json(view: TaskView) -> dict[str, Any]:
    task = view.task
    return {
        "id": str(task.id),
        "owner_id": str(task.owner_id),
        "owner_email": view.owner_email,
        "title": task.title,
        "description": task.description,
        "status": task.status.name,
        "priority": task.priority.name,
        "due_date": task.due_date.isoformat() if task.due_date is not None else None,
        "tags": list(task.tags),
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
    }


def task_page_json(page: Page[TaskView]) -> dict[str, Any]:
    return {
        "items": [task_json(view) for view in page.items],
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
    }


def _attachment_summary_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size_bytes": attachment.size_bytes,
        "created_at": attachment.created_at.isoformat(),
    }


def task_detail_json(detail: TaskDetail) -> dict[str, Any]:
    return {"task": task_json(detail.view), "attachments": [_attachment_summary_json(a) for a in detail.attachments]}


class TaskQuerySchema(PageQuerySchema):
    search = ma.fields.String(
        metadata={"description": "Text contained in the title or description, ignoring case"},
    )
    status = EnumValues(TaskStatus)
    priority = EnumValues(TaskPriority)
    tags = TagNames("Tasks with any of these tags")
    due_from = ma.fields.AwareDateTime(metadata={"description": f"Due at or after ({_AWARE})"})
    due_to = ma.fields.AwareDateTime(metadata={"description": f"Due at or before ({_AWARE})"})
    owner = ma.fields.String(
        validate=ma.validate.OneOf(["me"]), metadata={"description": "`me`: only the signed-in user's tasks"}
    )
    owner_id = ma.fields.UUID(metadata={"description": "Only this user's tasks"})
    sort = SortKeys(
        TASK_SORT_FIELDS,
        order="Newest first when absent; ties are broken by created_at, then id, in the first field's direction. "
        "Tasks without a due date come last in either direction",
    )

    @ma.validates_schema
    def one_owner_filter(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "owner" in data and "owner_id" in data:
            raise ma.ValidationError("Give owner=me or owner_id, not both.", field_name="owner_id")
