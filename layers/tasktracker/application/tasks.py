"""Use cases of the tasks function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tasktracker.domain.entities import TASK_WRITABLE_FIELDS, Attachment, Task, TaskView
from tasktracker.domain.enums import AuditEventType, TaskPriority, TaskStatus, WebhookEventType
from tasktracker.domain.errors import NotFoundError

from . import audit_trail, outbox, storage_changes
from .ports import Clock, FileStorage, Page, StorageAction, TaskQuery, UnitOfWork, UnitOfWorkFactory
from .preconditions import IfMatch, ensure_current
from .queries import check_range


@dataclass(frozen=True)
class TaskDetail:
    view: TaskView
    attachments: list[Attachment]


def task_not_found() -> NotFoundError:
    return NotFoundError("Task not found", code="TASK_NOT_FOUND")


@dataclass
class TaskUseCases:
    uow: UnitOfWorkFactory
    clock: Clock
    # Storage is only needed when a deleted task had attachments; a provider keeps boto3 out of cold starts.
    storage: Callable[[], FileStorage] | None = None

    def create(
        self,
        owner_id: UUID,
        *,
        title: str,
        description: str | None = None,
        status: TaskStatus = TaskStatus.TODO,
        priority: TaskPriority = TaskPriority.MEDIUM,
        due_date: datetime | None = None,
        tags: list[str] | None = None,
    ) -> TaskView:
        now = self.clock.now()
        task = Task.create(
            owner_id=owner_id,
            title=title,
            description=description,
            status=status,
            priority=priority,
            due_date=due_date,
            tags=tags,
            now=now,
        )
        with self.uow() as uow:
            uow.tasks.add(task)
            audit_trail.record(
                uow,
                AuditEventType.TASK_CREATED,
                now=now,
                user_id=owner_id,
                task_id=task.id,
                details={"title": task.title, "status": task.status, "priority": task.priority},
            )
            outbox.announce_task(uow, WebhookEventType.TASK_CREATED, task, now)
            view = uow.tasks.get_view(task.id)
            uow.commit()
        assert view is not None
        return view

    def get(self, task_id: UUID) -> TaskDetail:
        with self.uow(read_only=True) as uow:
            view = uow.tasks.get_view(task_id)
            if view is None:
                raise task_not_found()
            return TaskDetail(view, uow.attachments.list_for_task(task_id))

    def search(self, query: TaskQuery) -> Page[TaskView]:
        check_range("due_from", query.due_from, "due_to", query.due_to)
        with self.uow(read_only=True) as uow:
            return uow.tasks.search(query)

    def replace(
        self, user_id: UUID, task_id: UUID, values: dict[str, Any], if_match: IfMatch | None = None
    ) -> TaskView:
        """PUT: every writable field is set; omitted optional fields go back to their defaults."""
        return self._change(user_id, task_id, values, replace_all=True, if_match=if_match)

    def update(
        self, user_id: UUID, task_id: UUID, changes: dict[str, Any], if_match: IfMatch | None = None
    ) -> TaskView:
        """PATCH: only the given fields change."""
        return self._change(user_id, task_id, changes, replace_all=False, if_match=if_match)

    def delete(self, user_id: UUID, task_id: UUID, if_match: IfMatch | None = None) -> None:
        """`if_match`: the versions the deletion was based on; another one is refused and nothing is deleted."""
        with self.uow() as uow:
            task = self._owned_task_for_update(uow, user_id, task_id, if_match)
            attachments = uow.attachments.list_for_task(task_id)
            uow.tasks.delete(task)
            # Read under the task's lock, as every write of the task reads it.
            now = self.clock.now()
            audit_trail.record(
                uow,
                AuditEventType.TASK_DELETED,
                now=now,
                user_id=user_id,
                task_id=task_id,
                details={"title": task.title, "attachments_removed": len(attachments)},
            )
            outbox.announce_task(uow, WebhookEventType.TASK_DELETED, task, now)
            # The attachments' rows go with the task; their files must go too, by this request or the settler.
            discards = [
                storage_changes.new_change(attachment.storage_path, StorageAction.DISCARD, now)
                for attachment in attachments
            ]
            uow.storage_changes.add(discards)
            uow.commit()
        if discards:
            assert self.storage is not None, "deleting a task with attachments needs file storage"
            storage_changes.discard_now(self.uow, self.storage, discards)

    def _change(
        self, user_id: UUID, task_id: UUID, values: dict[str, Any], *, replace_all: bool, if_match: IfMatch | None
    ) -> TaskView:
        unknown = set(values) - set(TASK_WRITABLE_FIELDS)
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        with self.uow() as uow:
            task = self._owned_task_for_update(uow, user_id, task_id, if_match)
            changes = task.full_replacement(values) if replace_all else values
            previous_due_date = task.due_date
            diff = task.apply_changes(changes, self.clock.now())
            if diff:
                uow.tasks.save(task)
                if task.due_date != previous_due_date:
                    # A new due date deserves its own reminder.
                    uow.reminders.forget(task.id)
                audit_trail.record(
                    uow,
                    AuditEventType.TASK_UPDATED,
                    now=task.updated_at,
                    user_id=user_id,
                    task_id=task.id,
                    details={"changes": diff},
                )
                outbox.announce_task(uow, WebhookEventType.TASK_UPDATED, task, task.updated_at)
            view = uow.tasks.get_view(task.id)
            uow.commit()
        assert view is not None
        return view

    @staticmethod
    def _owned_task_for_update(uow: UnitOfWork, user_id: UUID, task_id: UUID, if_match: IfMatch | None) -> Task:
        """The task, locked until the unit of work ends, so that what is checked here still holds at the write.

        A missing task or another owner is answered before the precondition (RFC 9110, section 13.2.1: a
        request that would fail without its preconditions fails for that reason, not with 412). Two changes
        based on the same version queue on the lock: the second reads the first's version and is refused.
        """
        task = uow.tasks.get_for_update(task_id)
        if task is None:
            raise task_not_found()
        task.ensure_owned_by(user_id)
        ensure_current(task, if_match)
        return task
