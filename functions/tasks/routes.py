"""HTTP only: parse, call the use case, answer. Rules live in the application layer."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import current_app

from tasktracker.application.ports import Page, TaskQuery
from tasktracker.application.preconditions import IfMatch, version_tag
from tasktracker.application.tasks import TaskDetail, TaskUseCases
from tasktracker.domain.entities import Task, TaskView
from tasktracker.platform.preconditions import IfMatchHeaderSchema, entity_tag, etag_response_header
from tasktracker.platform.security import current_user_id
from tasktracker.platform.smorest import FunctionBlueprint

from .schemas import (
    TaskChangesSchema,
    TaskDetailSchema,
    TaskPageSchema,
    TaskQuerySchema,
    TaskSchema,
    TaskWriteSchema,
    task_detail_json,
    task_json,
    task_page_json,
)

blp = FunctionBlueprint(
    "tasks",
    __name__,
    url_prefix="/api/v1/tasks",
    description="Everyone signed in may read every task; only a task's owner may change or delete it.",
)


# A single task's answers carry its version as a strong ETag; lists carry none (a page has no one version).
TASK_ETAG = etag_response_header("the task's current version: the same for every reader, changed by every change")
STALE_VERSION = "If-Match names no current version of the task: it changed since it was loaded, and nothing was done"


def use_cases() -> TaskUseCases:
    tasks: TaskUseCases = current_app.extensions["task_use_cases"]
    return tasks


def with_etag(task: Task) -> dict[str, str]:
    return {"ETag": entity_tag(version_tag(task))}


@blp.route("", methods=["POST"])
@blp.requires_sign_in
@blp.arguments(TaskWriteSchema)
@blp.response(201, TaskSchema, serialize=task_json)
def create_task(body: dict[str, Any]) -> TaskView:
    """Create a task owned by the signed-in user"""
    return use_cases().create(current_user_id(), **body)


@blp.route("", methods=["GET"])
@blp.requires_sign_in
@blp.arguments(TaskQuerySchema, location="query")
@blp.response(200, TaskPageSchema, serialize=task_page_json)
@blp.error(400, description="A filter, sort or paging parameter is not valid")
def list_tasks(args: dict[str, Any]) -> Page[TaskView]:
    """Search, filter, sort and page through every user's tasks"""
    return use_cases().search(
        TaskQuery(
            search=args.get("search"),
            statuses=args.get("status", ()),
            priorities=args.get("priority", ()),
            tags=args.get("tags", ()),
            due_from=args.get("due_from"),
            due_to=args.get("due_to"),
            owner_id=current_user_id() if args.get("owner") == "me" else args.get("owner_id"),
            sort=args.get("sort", ()),
            page=args["page"],
            page_size=args["page_size"],
        )
    )


@blp.route("/<uuid:task_id>", methods=["GET"])
@blp.requires_sign_in
@blp.response(200, TaskDetailSchema, serialize=task_detail_json, headers=TASK_ETAG)
@blp.error(404, description="The task does not exist")
def get_task(task_id: UUID) -> tuple[TaskDetail, dict[str, str]]:
    """A task with a summary of its attachments; the ETag is the task's version, which attachments do not change"""
    detail = use_cases().get(task_id)
    return detail, with_etag(detail.view.task)


@blp.route("/<uuid:task_id>", methods=["PUT"])
@blp.requires_sign_in
@blp.arguments(IfMatchHeaderSchema, location="headers", as_kwargs=True)
@blp.arguments(TaskWriteSchema)
@blp.response(200, TaskSchema, serialize=task_json, headers=TASK_ETAG)
@blp.error(403, description="Only the task's owner may change it")
@blp.error(404, description="The task does not exist")
@blp.error(412, description=STALE_VERSION)
def replace_task(
    body: dict[str, Any], task_id: UUID, if_match: IfMatch | None = None
) -> tuple[TaskView, dict[str, str]]:
    """Replace every field: omitted ones go back to their defaults (no description, TODO, MEDIUM, no due
    date, no tags)"""
    view = use_cases().replace(current_user_id(), task_id, body, if_match)
    return view, with_etag(view.task)


@blp.route("/<uuid:task_id>", methods=["PATCH"])
@blp.requires_sign_in
@blp.arguments(IfMatchHeaderSchema, location="headers", as_kwargs=True)
@blp.arguments(TaskChangesSchema(partial=True))
@blp.response(200, TaskSchema, serialize=task_json, headers=TASK_ETAG)
@blp.error(403, description="Only the task's owner may change it")
@blp.error(404, description="The task does not exist")
@blp.error(412, description=STALE_VERSION)
def update_task(
    body: dict[str, Any], task_id: UUID, if_match: IfMatch | None = None
) -> tuple[TaskView, dict[str, str]]:
    """Change only the given fields"""
    view = use_cases().update(current_user_id(), task_id, body, if_match)
    return view, with_etag(view.task)


@blp.route("/<uuid:task_id>", methods=["DELETE"])
@blp.requires_sign_in
@blp.arguments(IfMatchHeaderSchema, location="headers", as_kwargs=True)
@blp.response(204)
@blp.error(403, description="Only the task's owner may delete it")
@blp.error(404, description="The task does not exist")
@blp.error(412, description=STALE_VERSION)
def delete_task(task_id: UUID, if_match: IfMatch | None = None) -> None:
    """Delete a task, its attachments (rows and files) and its reminders"""
    use_cases().delete(current_user_id(), task_id, if_match)
