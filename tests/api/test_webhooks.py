"""Webhooks and the e-mail setting through the real router: each user's own, the secret shown once, private
targets refused, and the events of a user's task changes queued for their webhooks in the change's transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from functions.reminders.passes import run_reminder_pass
from tasktracker.config import Settings
from tests.support.api import PUBLIC_WEBHOOK_TARGET, Api, SignedInUser, assert_error, sign_up

WEBHOOKS = "/api/v1/webhooks"
SETTINGS = "/api/v1/notifications/settings"
# A public address given as a literal: creating the webhook resolves nothing, and no test here delivers to it.
PUBLIC_TARGET = PUBLIC_WEBHOOK_TARGET
ALL_EVENTS = ["task.created", "task.updated", "task.deleted", "attachment.added", "attachment.removed", "reminder.sent"]


def create(api: Api, user: SignedInUser, url: str = PUBLIC_TARGET, events: list[str] | None = None) -> dict[str, Any]:
    response = api.post(WEBHOOKS, token=user.access_token, json={"url": url, "events": events or ALL_EVENTS})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def deliveries(api: Api, user: SignedInUser, webhook_id: str) -> list[dict[str, Any]]:
    response = api.get(f"{WEBHOOKS}/{webhook_id}/deliveries", token=user.access_token, params={"page_size": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", WEBHOOKS),
        ("POST", WEBHOOKS),
        ("DELETE", f"{WEBHOOKS}/{uuid.uuid4()}"),
        ("GET", f"{WEBHOOKS}/{uuid.uuid4()}/deliveries"),
        ("GET", SETTINGS),
        ("PUT", SETTINGS),
    ],
)
def test_webhooks_and_settings_need_a_token(api: Api, method: str, path: str) -> None:
    assert_error(api.request(method, path), 401, "AUTHENTICATION_REQUIRED")


def test_the_secret_is_shown_once_and_each_user_sees_only_their_own(api: Api) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")

    made = create(api, ada, events=["task.created", "reminder.sent"])

    assert set(made) == {"id", "url", "events", "secret", "created_at"}
    assert made["url"] == PUBLIC_TARGET and made["events"] == ["task.created", "reminder.sent"]
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    listed = api.get(WEBHOOKS, token=ada.access_token).json()
    assert listed["total"] == 1
    assert listed["items"] == [{key: made[key] for key in ("id", "url", "events", "created_at")}]
    assert api.get(WEBHOOKS, token=bob.access_token).json() == {"items": [], "page": 1, "page_size": 20, "total": 0}
    assert_error(api.delete(f"{WEBHOOKS}/{made['id']}", token=bob.access_token), 404, "WEBHOOK_NOT_FOUND")
    assert_error(api.get(f"{WEBHOOKS}/{made['id']}/deliveries", token=bob.access_token), 404, "WEBHOOK_NOT_FOUND")

    assert api.delete(f"{WEBHOOKS}/{made['id']}", token=ada.access_token).status_code == 204
    assert_error(api.delete(f"{WEBHOOKS}/{made['id']}", token=ada.access_token), 404, "WEBHOOK_NOT_FOUND")
    assert api.get(WEBHOOKS, token=ada.access_token).json()["total"] == 0


def test_creation_and_deletion_are_audited_for_their_owner_only(api: Api) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    made = create(api, ada)
    api.delete(f"{WEBHOOKS}/{made['id']}", token=ada.access_token)
    kinds = "WEBHOOK_CREATED,WEBHOOK_DELETED"

    own = api.get("/api/v1/audit-events", token=ada.access_token, params={"event_type": kinds}).json()["items"]
    seen_by_bob = api.get(
        "/api/v1/audit-events", token=bob.access_token, params={"event_type": kinds, "user_id": ada.id}
    ).json()

    assert [event["event_type"] for event in own] == ["WEBHOOK_DELETED", "WEBHOOK_CREATED"]
    assert all(event["details"]["webhook_id"] == made["id"] for event in own)
    assert "secret" not in str(own)
    assert seen_by_bob["items"] == []


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:8080/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://localhost/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://[::1]/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://10.1.2.3/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://172.16.0.1/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://192.168.1.10/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://169.254.169.254/latest/meta-data/", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://[fd00:ec2::254]/", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://0.0.0.0/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://[::ffff:127.0.0.1]/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("http://2130706433/hook", "WEBHOOK_TARGET_NOT_ALLOWED"),
        ("ftp://93.184.216.34/hook", "WEBHOOK_URL_INVALID"),
        ("http://user:secret@93.184.216.34/hook", "WEBHOOK_URL_INVALID"),
        ("not a url", "WEBHOOK_URL_INVALID"),
        ("http://no-such-host.invalid/hook", "WEBHOOK_URL_INVALID"),
    ],
)
def test_private_and_malformed_targets_are_refused_and_nothing_is_written(
    api: Api, db: psycopg.Connection, url: str, code: str
) -> None:
    ada = sign_up(api, "ada")

    error = assert_error(api.post(WEBHOOKS, token=ada.access_token, json={"url": url, "events": ALL_EVENTS}), 400, code)

    assert error["details"]["fields"]["url"]
    assert db.execute("SELECT count(*) FROM webhooks WHERE user_id = %s", (ada.id,)).fetchone() == (0,)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC_TARGET, "events": []}, "events"),
        ({"url": PUBLIC_TARGET, "events": ["task.exploded"]}, "events"),
        ({"url": PUBLIC_TARGET}, "events"),
        ({"events": ["task.created"]}, "url"),
        ({"url": "http://93.184.216.34/" + "a" * 2100, "events": ["task.created"]}, "url"),
        ({"url": PUBLIC_TARGET, "events": ["task.created"], "secret": "mine"}, "secret"),
    ],
)
def test_invalid_bodies_are_a_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    ada = sign_up(api, "ada")

    error = assert_error(api.post(WEBHOOKS, token=ada.access_token, json=body), 400)

    assert field in str(error["details"]), error


def test_a_users_task_changes_are_queued_for_the_webhooks_that_subscribed(api: Api) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    everything = create(api, ada)
    only_deletions = create(api, ada, events=["task.deleted"])
    bobs = create(api, bob)

    task = api.post("/api/v1/tasks", token=ada.access_token, json={"title": "Write the report"}).json()
    changed = api.patch(f"/api/v1/tasks/{task['id']}", token=ada.access_token, json={"status": "IN_PROGRESS"})
    assert changed.status_code == 200, changed.text
    assert api.delete(f"/api/v1/tasks/{task['id']}", token=ada.access_token).status_code == 204

    queued = deliveries(api, ada, everything["id"])
    assert [item["event"] for item in queued] == ["task.deleted", "task.updated", "task.created"]
    assert all(item["status"] == "pending" and item["attempts"] == 0 for item in queued)
    assert all(item["last_response_code"] is None and item["delivered_at"] is None for item in queued)
    assert [item["event"] for item in deliveries(api, ada, only_deletions["id"])] == ["task.deleted"]
    # Bob's webhook hears of Bob's tasks only.
    assert deliveries(api, bob, bobs["id"]) == []


def test_a_refused_change_queues_nothing(api: Api) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    hook = create(api, ada)
    task = api.post("/api/v1/tasks", token=ada.access_token, json={"title": "Mine"}).json()

    assert_error(api.patch(f"/api/v1/tasks/{task['id']}", token=bob.access_token, json={"title": "x"}), 403)
    assert_error(api.patch(f"/api/v1/tasks/{task['id']}", token=ada.access_token, json={"title": ""}), 400)

    assert [item["event"] for item in deliveries(api, ada, hook["id"])] == ["task.created"]


def test_e_mail_reminders_are_on_until_turned_off(api: Api) -> None:
    ada = sign_up(api, "ada")

    assert api.get(SETTINGS, token=ada.access_token).json() == {"email": True, "email_address": ada.email}
    turned_off = api.put(SETTINGS, token=ada.access_token, json={"email": False})
    assert turned_off.status_code == 200, turned_off.text
    assert turned_off.json() == {"email": False, "email_address": ada.email}
    assert api.get(SETTINGS, token=ada.access_token).json()["email"] is False
    assert api.put(SETTINGS, token=ada.access_token, json={"email": True}).json()["email"] is True

    assert_error(api.put(SETTINGS, token=ada.access_token, json={}), 400)
    assert_error(api.put(SETTINGS, token=ada.access_token, json={"email": "maybe"}), 400)
    assert_error(api.put(SETTINGS, token=ada.access_token, json={"email": True, "email_address": "x@y.z"}), 400)


def test_the_reminder_pass_queues_one_e_mail_per_owner_who_wants_it_and_the_webhook_event(
    api: Api, db: psycopg.Connection, stack_env: dict[str, str]
) -> None:
    ada, bob = sign_up(api, "ada"), sign_up(api, "bob")
    hook = create(api, ada, events=["reminder.sent"])
    api.put(SETTINGS, token=bob.access_token, json={"email": False})
    due = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    adas = api.post("/api/v1/tasks", token=ada.access_token, json={"title": "Ada's", "due_date": due}).json()
    bobs = api.post("/api/v1/tasks", token=bob.access_token, json={"title": "Bob's", "due_date": due}).json()
    settings = Settings(
        environment="test",
        database_url=stack_env["DATABASE_URL"],
        redis_url=stack_env["REDIS_URL"],
        jwt_secret_key=stack_env["JWT_SECRET_KEY"],
        smtp_url="smtp://127.0.0.1:1",
    )

    run_reminder_pass(settings)
    run_reminder_pass(settings)

    emails = db.execute(
        "SELECT task_id, payload->>'to', payload->>'title' FROM outbox_messages WHERE channel = 'email'"
        " AND task_id IN (%s, %s)",
        (adas["id"], bobs["id"]),
    ).fetchall()
    assert [(str(task_id), to, title) for task_id, to, title in emails] == [(adas["id"], ada.email, "Ada's")]
    events = deliveries(api, ada, hook["id"])
    assert [(item["event"], item["status"]) for item in events] == [("reminder.sent", "pending")]
    payload = db.execute("SELECT payload FROM outbox_messages WHERE webhook_id = %s", (hook["id"],)).fetchone()[0]  # type: ignore[index]
    assert payload["type"] == "reminder.sent"
    assert payload["data"]["id"] == adas["id"] and payload["data"]["title"] == "Ada's"
    assert payload["data"]["reminder_type"] == "DUE_SOON"
