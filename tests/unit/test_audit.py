from __future__ import annotations

import json
from datetime import timedelta
from enum import Enum

import pytest

from tasktracker.application import audit_trail
from tasktracker.application.audit import AuditUseCases
from tasktracker.application.context import set_correlation_id
from tasktracker.application.ports import AuditQuery
from tasktracker.domain.entities import AuditEvent, User, new_id
from tasktracker.domain.enums import AuditEventType, TaskStatus
from tasktracker.domain.errors import ValidationError

from .fakes import NOW, FakeUnitOfWork


@pytest.fixture
def audit(uow: FakeUnitOfWork) -> AuditUseCases:
    return AuditUseCases(uow)


def test_audit_search_refuses_a_range_that_ends_before_it_starts(audit: AuditUseCases) -> None:
    with pytest.raises(ValidationError) as error:
        audit.search(AuditQuery(viewer_id=new_id(), created_from=NOW, created_to=NOW - timedelta(seconds=1)))
    assert list(error.value.details["fields"]) == ["to"]


def test_audit_search_refuses_a_naive_bound(audit: AuditUseCases) -> None:
    with pytest.raises(ValidationError) as error:
        audit.search(AuditQuery(viewer_id=new_id(), created_from=NOW.replace(tzinfo=None)))
    assert list(error.value.details["fields"]) == ["from"]


def test_audit_search_returns_the_page_the_log_finds(
    audit: AuditUseCases, uow: FakeUnitOfWork, alice: User, bob: User
) -> None:
    created = AuditEvent.record(AuditEventType.TASK_CREATED, now=NOW, user_id=bob.id, task_id=new_id())
    bobs_login = AuditEvent.record(AuditEventType.LOGIN, now=NOW, user_id=bob.id)
    uow.seed(created, bobs_login)
    page = audit.search(AuditQuery(viewer_id=alice.id, page_size=100))
    assert (page.items, page.total, page.page_size) == ([created], 1, 100)


# Writing events


def test_recorded_details_are_plain_json(uow: FakeUnitOfWork) -> None:
    task_id = new_id()
    with uow:
        event = audit_trail.record(
            uow,
            AuditEventType.TASK_UPDATED,
            now=NOW,
            user_id=None,
            task_id=task_id,
            details={
                "changes": {"status": {"old": TaskStatus.TODO, "new": TaskStatus.DONE}},
                "due": NOW,
                "id": task_id,
            },
        )
        uow.commit()
    assert event.details == {
        "changes": {"status": {"old": "TODO", "new": "DONE"}},
        "due": NOW.isoformat(),
        "id": str(task_id),
    }
    assert json.loads(json.dumps(event.details)) == event.details
    assert uow.events() == [event]


def test_json_safe_converts_nested_values() -> None:
    class Colour(Enum):
        RED = 1

    assert audit_trail.json_safe({"a": (Colour.RED, [NOW]), 1: None}) == {"a": ["1", [NOW.isoformat()]], "1": None}


def test_recorded_details_carry_the_correlation_id_when_one_is_set(uow: FakeUnitOfWork) -> None:
    with uow:
        unmarked = audit_trail.record(uow, AuditEventType.LOGIN, now=NOW, user_id=None)
        set_correlation_id("req-42")
        marked = audit_trail.record(uow, AuditEventType.LOGIN, now=NOW, user_id=None, details={"x": 1})
    assert unmarked.details == {}
    assert marked.details == {"x": 1, "correlation_id": "req-42"}
