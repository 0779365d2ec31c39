"""In-app notifications through the real router: each user's own, newest first, the unread filter and count,
marking read, and the reminder pass writing them (the same pass the worker and the Lambda schedule run)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from functions.reminders.passes import run_reminder_pass
from tasktracker.config import Settings
from tests.support.api import Api, SignedInUser, assert_error, sign_up

NOTIFICATIONS = "/api/v1/notifications"
# Rows written by the tests below sit on a day no reminder pass could produce, one minute apart.
DAY = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
FIELDS = {"id", "type", "task_id", "title", "message", "created_at", "read_at"}


def notify(db: psycopg.Connection, user: SignedInUser, title: str, *, minutes: int = 0, read: bool = False) -> str:
    notification_id = str(uuid.uuid4())
    created_at = DAY + timedelta(minutes=minutes)
    db.execute(
        "INSERT INTO notifications (id, user_id, type, task_id, title, message, created_at, read_at)"
        " VALUES (%s, %s, 'DUE_SOON', NULL, %s, 'This task is due within 24 hours.', %s, %s)",
        (notification_id, user.id, title, created_at, created_at if read else None),
    )
    return notification_id


def listed(api: Api, user: SignedInUser, **params: Any) -> dict[str, Any]:
    response = api.get(NOTIFICATIONS, token=user.access_token, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def reminder_pass(stack_env: dict[str, str]) -> Any:
    """One reminder pass on the stack's database, as `make reminders`, the worker and the Lambda run it."""
    settings = Settings(
        environment="test",
        database_url=stack_env["DATABASE_URL"],
        redis_url=stack_env["REDIS_URL"],
        jwt_secret_key=stack_env["JWT_SECRET_KEY"],
    )
    return lambda: run_reminder_pass(settings)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", NOTIFICATIONS),
        ("POST", f"{NOTIFICATIONS}/{uuid.uuid4()}/read"),
        ("POST", f"{NOTIFICATIONS}/read-all"),
    ],
)
def test_notifications_need_a_token(api: Api, method: str, path: str) -> None:
    assert_error(api.request(method, path), 401, "AUTHENTICATION_REQUIRED")


def test_a_user_lists_only_their_own_newest_first_with_the_unread_count(api: Api, db: psycopg.Connection) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    first = notify(db, ada, "First", minutes=0, read=True)
    second = notify(db, ada, "Second", minutes=5)
    third = notify(db, ada, "Third", minutes=9)
    notify(db, bob, "Bob's own", minutes=7)

    body = listed(api, ada)

    assert set(body) == {"items", "page", "page_size", "total", "unread"}
    assert [item["id"] for item in body["items"]] == [third, second, first]
    assert (body["page"], body["page_size"], body["total"], body["unread"]) == (1, 20, 3, 2)
    assert all(set(item) == FIELDS for item in body["items"])
    assert body["items"][0] == {
        "id": third,
        "type": "DUE_SOON",
        "task_id": None,
        "title": "Third",
        "message": "This task is due within 24 hours.",
        "created_at": (DAY + timedelta(minutes=9)).isoformat(),
        "read_at": None,
    }
    assert body["items"][2]["read_at"] == DAY.isoformat()
    assert [item["title"] for item in listed(api, bob)["items"]] == ["Bob's own"]


def test_the_unread_filter_and_the_pages(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    notify(db, ada, "Read", minutes=10, read=True)
    unread = [notify(db, ada, f"Unread {n}", minutes=n) for n in range(3)]

    first = listed(api, ada, unread="true", page_size=2)
    second = listed(api, ada, unread="true", page_size=2, page=2)
    every = listed(api, ada, unread="false")

    assert [item["id"] for item in first["items"] + second["items"]] == unread[::-1]
    assert (first["total"], first["unread"], second["total"]) == (3, 3, 3)
    assert (every["total"], every["unread"]) == (4, 3)
    error = assert_error(api.get(NOTIFICATIONS, token=ada.access_token, params={"unread": "perhaps"}), 400)
    assert error["code"] == "VALIDATION_ERROR" and "unread" in str(error["details"])
    assert_error(api.get(NOTIFICATIONS, token=ada.access_token, params={"page_size": 101}), 400, "VALIDATION_ERROR")


def test_marking_one_read_answers_it_and_keeps_the_first_moment(api: Api, db: psycopg.Connection) -> None:
    ada = sign_up(api, "ada")
    notification = notify(db, ada, "Due soon")

    marked = api.post(f"{NOTIFICATIONS}/{notification}/read", token=ada.access_token)
    again = api.post(f"{NOTIFICATIONS}/{notification}/read", token=ada.access_token)

    assert marked.status_code == 200, marked.text
    assert set(marked.json()) == FIELDS and marked.json()["id"] == notification
    assert marked.json()["read_at"] is not None
    assert again.json()["read_at"] == marked.json()["read_at"]
    body = listed(api, ada)
    assert body["unread"] == 0 and body["items"][0]["read_at"] == marked.json()["read_at"]
    assert listed(api, ada, unread="true")["items"] == []


def test_another_users_notification_is_404_and_stays_unread(api: Api, db: psycopg.Connection) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    adas = notify(db, ada, "Ada's")

    error = assert_error(api.post(f"{NOTIFICATIONS}/{adas}/read", token=bob.access_token), 404)
    missing = assert_error(api.post(f"{NOTIFICATIONS}/{uuid.uuid4()}/read", token=ada.access_token), 404)

    assert error["code"] == missing["code"] == "NOTIFICATION_NOT_FOUND"
    assert error["message"] == missing["message"]
    assert_error(api.post(f"{NOTIFICATIONS}/not-an-id/read", token=ada.access_token), 404)
    assert db.execute("SELECT read_at FROM notifications WHERE id = %s", (adas,)).fetchone() == (None,)
    assert listed(api, ada)["unread"] == 1


def test_marking_all_read_touches_only_the_users_own(api: Api, db: psycopg.Connection) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    earlier = notify(db, ada, "Read earlier", read=True)
    for n in range(3):
        notify(db, ada, f"Unread {n}", minutes=n + 1)
    bobs = notify(db, bob, "Bob's")

    answer = api.post(f"{NOTIFICATIONS}/read-all", token=ada.access_token)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"marked": 3, "unread": 0}
    assert listed(api, ada)["unread"] == 0
    assert db.execute("SELECT read_at FROM notifications WHERE id = %s", (earlier,)).fetchone() == (DAY,)
    assert db.execute("SELECT read_at FROM notifications WHERE id = %s", (bobs,)).fetchone() == (None,)
    assert api.post(f"{NOTIFICATIONS}/read-all", token=ada.access_token).json() == {"marked": 0, "unread": 0}


def test_the_reminder_pass_notifies_the_owner_once_and_the_api_lists_it(
    api: Api, db: psycopg.Connection, reminder_pass: Any
) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    due = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    created = api.post("/api/v1/tasks", token=ada.access_token, json={"title": "Ship the release", "due_date": due})
    assert created.status_code == 201, created.text
    task = created.json()

    first = reminder_pass()
    second = reminder_pass()

    assert first.notifications.get("DUE_SOON", 0) >= 1 and second.notifications == {}
    body = listed(api, ada)
    [notification] = body["items"]
    assert (body["total"], body["unread"]) == (1, 1)
    assert notification["type"] == "DUE_SOON" and notification["task_id"] == task["id"]
    assert notification["title"] == "Ship the release"
    assert notification["message"] == "This task is due within 24 hours."
    assert notification["read_at"] is None
    # Only the owner is notified; everyone may read the task, but it is not theirs to be reminded of.
    assert listed(api, bob)["total"] == 0

    # Deleting the task takes its notification with it.
    assert api.delete(f"/api/v1/tasks/{task['id']}", token=ada.access_token).status_code == 204
    assert listed(api, ada)["total"] == 0
