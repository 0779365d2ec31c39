"""Reading the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from tasktracker.domain.entities import AuditEvent

from .ports import AuditQuery, Page, UnitOfWorkFactory
from .queries import check_range


@dataclass
class AuditUseCases:
    uow: UnitOfWorkFactory

    def search(self, query: AuditQuery) -> Page[AuditEvent]:
        """Task, attachment and reminder events are public like tasks; LOGIN, LOGOUT and PASSWORD_CHANGED only to
        their user."""
        check_range("from", query.created_from, "to", query.created_to)
        with self.uow(read_only=True) as uow:
            return uow.audit.search(query)
