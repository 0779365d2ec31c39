"""The audit trail through the real router: who sees what, the filters, the order and the pages."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.api import Api, SignedInUser, assert_error, sign_in_again, sign_up

EVENTS = "/api/v1/audit-events"
# Rows written by the tests below sit on a day no real request could produce, one minute apart.
DAY = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def record_event(
    db: psycopg.Connection,
    event_type: str,
    *,
    task_id: str,
    user_id: str | None = None,
    minutes: int = 0,
    details: dict[str, Any] | None = None,
) -> str:
    event_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO audit_events (id, user_id, event_type, task_id, details, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (event_id, user_id, event_type, task_id, Jsonb(details or {}), DAY + timedelta(minutes=minutes)),
    )
    return event_id


def listed(api: Api, user: SignedInUser, **params: Any) -> dict[str, Any]:
    response = api.get(EVENTS, token=user.access_token, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_listing_the_audit_trail_needs_a_token(api: Api) -> None:
    assert_error(api.get(EVENTS), 401, "AUTHENTICATION_REQUIRED")


def test_sign_ins_and_password_changes_are_visible_only_to_their_own_user(api: Api) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    changed = api.post(
        "/api/v1/auth/change-password",
        token=ada.access_token,
        json={"current_password": ada.password, "new_password": "a brand new passphrase"},
    )
    assert changed.status_code == 204
    # The change ended Ada's sessions: she signs in again with the new password.
    ada = sign_in_again(api, replace(ada, password="a brand new passphrase"))

    adas_own = listed(api, ada, user_id=ada.id)
    assert sorted(event["event_type"] for event in adas_own["items"]) == ["LOGIN", "LOGIN", "PASSWORD_CHANGED"]
    assert adas_own["total"] == 3

    seen_by_bob = listed(api, bob, user_id=ada.id)
    assert seen_by_bob["items"] == [] and seen_by_bob["total"] == 0

    private_seen_by_bob = listed(api, bob, event_type="LOGIN,PASSWORD_CHANGED", page_size=100)
    assert private_seen_by_bob["items"]
    assert {event["user_id"] for event in private_seen_by_bob["items"]} == {bob.id}


def test_task_events_are_public_newest_first_with_every_field(api: Api, db: psycopg.Connection) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    task_id, other_task = str(uuid.uuid4()), str(uuid.uuid4())
    created = record_event(db, "TASK_CREATED", task_id=task_id, user_id=ada.id, minutes=0)
    updated = record_event(
        db, "TASK_UPDATED", task_id=task_id, user_id=ada.id, minutes=5, details={"status": {"old": "TODO"}}
    )
    reminded = record_event(db, "REMINDER_SENT", task_id=task_id, minutes=9, details={"system": True})
    record_event(db, "TASK_CREATED", task_id=other_task, user_id=ada.id, minutes=3)

    page = listed(api, bob, task_id=task_id)

    assert page["total"] == 3 and page["page"] == 1 and page["page_size"] == 20
    assert [event["id"] for event in page["items"]] == [reminded, updated, created]
    newest = page["items"][0]
    assert set(newest) == {"id", "event_type", "user_id", "task_id", "attachment_id", "details", "created_at"}
    assert newest["user_id"] is None and newest["details"] == {"system": True}
    assert datetime.fromisoformat(newest["created_at"]) == DAY + timedelta(minutes=9)
    assert page["items"][1]["details"] == {"status": {"old": "TODO"}}


def test_event_type_filter_takes_one_or_several_types(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    task_id = str(uuid.uuid4())
    for minutes, event_type in enumerate(["TASK_CREATED", "ATTACHMENT_ADDED", "TASK_UPDATED", "ATTACHMENT_REMOVED"]):
        record_event(db, event_type, task_id=task_id, user_id=ada.id, minutes=minutes)

    def types(**params: Any) -> list[str]:
        return [event["event_type"] for event in listed(api, ada, task_id=task_id, **params)["items"]]

    assert types(event_type="TASK_UPDATED") == ["TASK_UPDATED"]
    assert types(event_type="attachment_added,ATTACHMENT_REMOVED") == ["ATTACHMENT_REMOVED", "ATTACHMENT_ADDED"]
    assert types(event_type=["TASK_CREATED", "TASK_UPDATED"]) == ["TASK_UPDATED", "TASK_CREATED"]


def test_user_filter_keeps_only_that_users_events(api: Api, db: psycopg.Connection) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    task_id = str(uuid.uuid4())
    adas = record_event(db, "TASK_UPDATED", task_id=task_id, user_id=ada.id, minutes=1)
    record_event(db, "TASK_UPDATED", task_id=task_id, user_id=bob.id, minutes=2)
    record_event(db, "REMINDER_SENT", task_id=task_id, minutes=3)

    page = listed(api, bob, task_id=task_id, user_id=ada.id)

    assert [event["id"] for event in page["items"]] == [adas]


def test_from_and_to_bound_the_creation_time_inclusively(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    task_id = str(uuid.uuid4())
    ids = [record_event(db, "TASK_UPDATED", task_id=task_id, user_id=ada.id, minutes=minutes) for minutes in range(5)]

    def between(**params: Any) -> list[str]:
        return [event["id"] for event in listed(api, ada, task_id=task_id, **params)["items"]]

    one_minute_in = (DAY + timedelta(minutes=1)).isoformat()
    three_minutes_in = (DAY + timedelta(minutes=3)).isoformat()
    assert between(**{"from": one_minute_in, "to": three_minutes_in}) == [ids[3], ids[2], ids[1]]
    assert between(**{"from": three_minutes_in}) == [ids[4], ids[3]]
    assert between(to=one_minute_in) == [ids[1], ids[0]]
    # The same instant written in another timezone.
    in_paris = (DAY + timedelta(minutes=4)).astimezone(timezone(timedelta(hours=1)))
    assert between(**{"from": in_paris.isoformat()}) == [ids[4]]


def test_pages_split_the_events_without_overlap(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    task_id = str(uuid.uuid4())
    ids = [record_event(db, "TASK_UPDATED", task_id=task_id, user_id=ada.id, minutes=minutes) for minutes in range(5)]

    pages = [listed(api, ada, task_id=task_id, page=page, page_size=2) for page in (1, 2, 3, 4)]

    assert [[event["id"] for event in page["items"]] for page in pages] == [
        [ids[4], ids[3]],
        [ids[2], ids[1]],
        [ids[0]],
        [],
    ]
    assert {page["total"] for page in pages} == {5}
    assert [page["page"] for page in pages] == [1, 2, 3, 4]
    assert listed(api, ada, task_id=task_id, page_size=100)["page_size"] == 100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "first"}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"event_type": "LOGIN,TASK_EXPLODED"}, "event_type"),
        ({"user_id": "not-a-uuid"}, "user_id"),
        ({"task_id": "42"}, "task_id"),
        ({"from": "2024-03-01T09:00:00"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2024-03-02T00:00:00Z", "to": "2024-03-01T00:00:00Z"}, "to"),
    ],
)
def test_invalid_parameters_are_a_400_naming_the_field(api: Api, params: dict[str, Any], field: str) -> None:
    user = sign_up(api, "strict")
    error = assert_error(api.get(EVENTS, token=user.access_token, params=params), 400, "VALIDATION_ERROR")
    assert field in error["details"]["fields"], error
