"""Object properties: the server owns id, owner_id, created_at and updated_at. A create or update that sends them
is refused with 400 naming the field (the request schemas refuse unknown fields) and changes nothing; a multipart
upload's extra form fields are ignored. And no response, of any route, carries a password hash or a refresh token
hash."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest
import redis
import requests

from local.services import LocalServices
from tests.support.api import PUBLIC_WEBHOOK_TARGET, SignedInUser, assert_error, sign_in_again, sign_up, unique_email
from tests.support.snapshots import (
    Bucket,
    Figures,
    SecretWatch,
    WatchedApi,
    documented_operations,
    print_figures,
    reset_rate_limits,
    take_snapshot,
    write_operations,
)
from tests.support.stack import RunningStack

PAST = "2001-02-03T04:05:06+00:00"


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    yield from print_figures(request, Figures("object properties"))


@dataclass
class Setting:
    api: WatchedApi
    db: psycopg.Connection
    bucket: Bucket
    owner: SignedInUser
    other: SignedInUser
    task_id: str = ""

    def server_owned(self) -> dict[str, Any]:
        """Values an attacker would like to set: someone else as owner, a chosen id, a rewritten history."""
        return {"owner_id": self.other.id, "id": str(uuid.uuid4()), "created_at": PAST, "updated_at": PAST}

    def new_task(self) -> str:
        created = self.api.post("/api/v1/tasks", token=self.owner.access_token, json={"title": "Mine"})
        assert created.status_code == 201, created.text
        task_id: str = created.json()["id"]
        return task_id

    def uploaded(self, task_id: str) -> str:
        ticket = self.api.post(
            f"/api/v1/tasks/{task_id}/attachments/upload-url", token=self.owner.access_token, json={}
        ).json()
        posted = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("x", b"bytes")}, timeout=30)
        assert posted.status_code in (200, 201, 204), posted.text
        attachment_id: str = ticket["attachment_id"]
        return attachment_id


@dataclass(frozen=True)
class Body:
    path: str
    json: dict[str, Any]
    signed_in: bool = True


# A valid body for each write route that takes JSON.
BODIES: dict[str, Callable[[Setting], Body]] = {
    "POST /api/v1/auth/register": lambda s: Body(
        "/api/v1/auth/register", {"email": unique_email(), "password": "long enough password"}, signed_in=False
    ),
    "POST /api/v1/auth/login": lambda s: Body(
        "/api/v1/auth/login", {"email": s.owner.email, "password": s.owner.password}, signed_in=False
    ),
    "POST /api/v1/auth/refresh": lambda s: Body(
        "/api/v1/auth/refresh", {"refresh_token": s.owner.refresh_token}, signed_in=False
    ),
    # A sign-in of its own, so that ending it leaves the owner's tokens alone.
    "POST /api/v1/auth/logout": lambda s: Body(
        "/api/v1/auth/logout", {"refresh_token": sign_in_again(s.api, s.owner).refresh_token}, signed_in=False
    ),
    "POST /api/v1/auth/change-password": lambda s: Body(
        "/api/v1/auth/change-password", {"current_password": s.owner.password, "new_password": s.owner.password}
    ),
    "POST /api/v1/tasks": lambda s: Body("/api/v1/tasks", {"title": "Created"}),
    "PUT /api/v1/tasks/{task_id}": lambda s: Body(f"/api/v1/tasks/{s.new_task()}", {"title": "Replaced"}),
    "PATCH /api/v1/tasks/{task_id}": lambda s: Body(f"/api/v1/tasks/{s.new_task()}", {"title": "Patched"}),
    "POST /api/v1/tasks/{task_id}/attachments/upload-url": lambda s: Body(
        f"/api/v1/tasks/{s.new_task()}/attachments/upload-url", {"content_type": "text/plain"}
    ),
    "POST /api/v1/tasks/{task_id}/attachments/confirm": lambda s: _confirm_body(s),
    "PUT /api/v1/notifications/settings": lambda s: Body("/api/v1/notifications/settings", {"email": False}),
    # A public address as a literal: the test stack refuses private targets, and nothing is delivered here.
    "POST /api/v1/webhooks": lambda s: Body(
        "/api/v1/webhooks", {"url": PUBLIC_WEBHOOK_TARGET, "events": ["task.created"]}
    ),
}


def _confirm_body(setting: Setting) -> Body:
    task_id = setting.new_task()
    return Body(
        f"/api/v1/tasks/{task_id}/attachments/confirm",
        {"attachment_id": setting.uploaded(task_id), "filename": "kept.txt"},
    )


@pytest.fixture
def setting(
    stack: RunningStack,
    db: psycopg.Connection,
    services: LocalServices,
    stack_env: dict[str, str],
    redis_client: redis.Redis,
) -> Setting:
    reset_rate_limits(redis_client)
    api = WatchedApi(stack.base_url, SecretWatch())
    owner = sign_up(api, "owner", password="the owner's passphrase")
    return Setting(api, db, Bucket(services.s3_endpoint_url, stack_env["S3_BUCKET"]), owner, sign_up(api, "other"))


def _json_body(operation_document: dict[str, Any]) -> bool:
    return "application/json" in operation_document.get("requestBody", {}).get("content", {})


def test_server_owned_properties_sent_in_a_json_body_are_refused_and_change_nothing(
    setting: Setting, redis_client: redis.Redis, figures: Figures
) -> None:
    operations = [operation for operation in write_operations(setting.api) if _json_body(operation.document)]
    missing = sorted(operation.name for operation in operations if operation.name not in BODIES)
    assert not missing, f"write routes with a JSON body but no valid body here: {missing}"
    failures = []
    for operation in operations:
        reset_rate_limits(redis_client)
        body = BODIES[operation.name](setting)
        token = setting.owner.access_token if body.signed_in else None
        for name, value in setting.server_owned().items():
            before = take_snapshot(setting.db, setting.bucket)
            response = setting.api.request(
                operation.method.upper(), body.path, token=token, json={**body.json, name: value}
            )
            changed = before.differences(take_snapshot(setting.db, setting.bucket))
            figures.add("cases")
            if response.status_code != 400 or name not in response.json()["error"]["details"].get("fields", {}):
                failures.append(f"{operation.name} with {name}: {response.status_code} {response.text[:200]}")
            elif changed:
                failures.append(f"{operation.name} with {name}: refused but changed {changed}")
        # The same body without them is accepted: the refusals above were for those fields alone.
        accepted = setting.api.request(operation.method.upper(), body.path, token=token, json=body.json)
        assert accepted.status_code == operation.success_status(), f"{operation.name}: {accepted.text}"
        if operation.name == "POST /api/v1/auth/change-password":
            # The change ended every session of the owner, the one that made it included.
            setting.owner = sign_in_again(setting.api, setting.owner)
    figures.add("responses scanned for hashes", setting.api.watch.assert_no_secrets(setting.db))
    figures.add("failures", len(failures))
    assert not failures, "\n".join(failures)


def test_server_owned_properties_sent_as_upload_form_fields_are_ignored(setting: Setting, figures: Figures) -> None:
    task_id = setting.new_task()
    sent = setting.server_owned()
    uploaded = setting.api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=setting.owner.access_token,
        data={**sent, "task_id": str(uuid.uuid4()), "size_bytes": "1", "storage_path": "tasks/elsewhere/x"},
        files={"file": ("notes.txt", b"twelve bytes", "text/plain")},
    )
    assert uploaded.status_code == 201, uploaded.text
    attachment = uploaded.json()
    assert attachment["id"] != sent["id"]
    assert attachment["created_at"] != sent["created_at"]
    assert attachment["size_bytes"] == len(b"twelve bytes")
    row = setting.db.execute(
        "SELECT task_id::text, storage_path FROM attachments WHERE id = %s", (attachment["id"],)
    ).fetchone()
    assert row == (task_id, f"tasks/{task_id}/{attachment['id']}")
    figures.add("cases")


def test_a_task_keeps_its_owner_id_and_history_through_every_change(setting: Setting, figures: Figures) -> None:
    task_id = setting.new_task()
    original = setting.api.get(f"/api/v1/tasks/{task_id}", token=setting.owner.access_token).json()["task"]
    for method, body in (("PUT", {"title": "Replaced"}), ("PATCH", {"description": "More"})):
        changed = setting.api.request(method, f"/api/v1/tasks/{task_id}", token=setting.owner.access_token, json=body)
        assert changed.status_code == 200, changed.text
        task = changed.json()
        assert (task["id"], task["owner_id"], task["created_at"]) == (task_id, setting.owner.id, original["created_at"])
        assert task["updated_at"] >= original["updated_at"]
    figures.add("cases", 2)


def test_no_response_of_any_route_carries_a_password_or_token_hash(
    setting: Setting, redis_client: redis.Redis, figures: Figures
) -> None:
    """Every documented read, and the answers that tell about accounts, are scanned for the hashes stored now."""
    api, owner = setting.api, setting.owner
    task_id = setting.new_task()
    attachment = api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=owner.access_token,
        files={"file": ("hash-hunt.txt", b"nothing secret", "text/plain")},
    ).json()
    refreshed = api.post("/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert refreshed.status_code == 200
    changed = api.post(
        "/api/v1/auth/change-password",
        token=owner.access_token,
        json={"current_password": owner.password, "new_password": "a fresh passphrase"},
    )
    assert changed.status_code == 204
    assert_error(api.post("/api/v1/auth/login", json={"email": owner.email, "password": owner.password}), 401)
    # The change ended the owner's sessions: the reads below use a new sign-in.
    owner = sign_in_again(api, replace(owner, password="a fresh passphrase"))
    assert_error(api.post("/api/v1/auth/register", json={"email": owner.email, "password": "long enough one"}), 409)
    values = {"task_id": task_id, "attachment_id": attachment["id"]}
    reads = [operation for operation in documented_operations(api) if operation.method == "get"]
    for operation in reads:
        reset_rate_limits(redis_client)
        api.get(operation.concrete_path(**values), token=owner.access_token)
        api.get(operation.concrete_path(**values), token=setting.other.access_token, params={"page_size": 100})
    api.get("/api/v1/audit-events", token=owner.access_token, params={"user_id": owner.id, "page_size": 100})
    seen = api.watch.assert_no_secrets(setting.db)
    figures.add("read routes", len(reads))
    figures.add("responses scanned for hashes", seen)
