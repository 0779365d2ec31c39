from __future__ import annotations

from tasktracker.application.clock import SystemClock
from tasktracker.application.ports import FileStorage
from tasktracker.application.tasks import TaskUseCases
from tasktracker.config import Settings

from . import unit_of_work_factory


def task_use_cases(settings: Settings) -> TaskUseCases:
    def storage() -> FileStorage:
        # Only a deleted task with attachments needs S3: boto3 loads then, not at cold start.
        from .storage import file_storage

        return file_storage(settings)

    return TaskUseCases(uow=unit_of_work_factory(settings), clock=SystemClock(), storage=storage)
