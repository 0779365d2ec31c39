from __future__ import annotations

from tasktracker.application.audit import AuditUseCases
from tasktracker.config import Settings

from . import unit_of_work_factory


def audit_use_cases(settings: Settings) -> AuditUseCases:
    return AuditUseCases(uow=unit_of_work_factory(settings))
