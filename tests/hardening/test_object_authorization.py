"""Broken object-level authorization: every write route the functions document, called by the owner, another
user, no token, an expired token, a deactivated owner and a deleted user. Every refused call leaves the database
(audit trail included) and the bucket exactly as they were.

The write routes are read from the functions' own OpenAPI documents, so a new one is called here at once: without
a token it must already be refused, and the test fails until the route has a recipe below for its owner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import uuid4

import psycopg
import pytest
import redis
import requests

from local.services import LocalServices
from tasktracker.application.auth import AuthUseCases
from tests.support.api import PUBLIC_WEBHOOK_TARGET, Api, SignedInUser, sign_in_again, sign_up
from tests.support.snapshots import (
    Bucket,
    Figures,
    Operation,
    SecretWatch,
    WatchedApi,
    mint_token,
    print_figures,
    reset_rate_limits,
    take_snapshot,
    write_operations,
)
from tests.support.stack import RunningStack

# Writes that need no account: signing up, signing in and refreshing are how a caller gets a token at all, and
# signing out needs only the refresh token it ends (its possession is the proof, as for a refresh).
PUBLIC_WRITES = {
    "POST /api/v1/auth/register",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/logout",
}

REFUSED_WITHOUT_A_LIVE_ACCOUNT = {
    "no token": "AUTHENTICATION_REQUIRED",
    "expired token": "TOKEN_EXPIRED",
    "deactivated owner": "ACCOUNT_DISABLED",
    "deleted user": "ACCOUNT_DISABLED",
}


@dataclass
class World:
    api: WatchedApi
    db: psycopg.Connection
    accounts: AuthUseCases
    bucket: Bucket
    owner: SignedInUser
    other: SignedInUser
    deleted: SignedInUser
    figures: Figures
    failures: list[str] = field(default_factory=list)

    def task(self) -> str:
        created = self.api.post("/api/v1/tasks", token=self.owner.access_token, json={"title": "Owned", "tags": ["a"]})
        assert created.status_code == 201, created.text
        task_id: str = created.json()["id"]
        return task_id

    def attachment(self, task_id: str) -> str:
        uploaded = self.api.post(
            f"/api/v1/tasks/{task_id}/attachments",
            token=self.owner.access_token,
            files={"file": ("plan.txt", b"the plan", "text/plain")},
        )
        assert uploaded.status_code == 201, uploaded.text
        attachment_id: str = uploaded.json()["id"]
        return attachment_id

    def notification(self) -> str:
        """An unread notification of the owner, as the reminder pass writes one (the API creates none)."""
        notification_id = str(uuid4())
        self.db.execute(
            "INSERT INTO notifications (id, user_id, type, title, message) VALUES (%s, %s, 'DUE_SOON', 'Due', 'Soon')",
            (notification_id, self.owner.id),
        )
        return notification_id

    def webhook(self) -> str:
        # A public address as a literal: the test stack refuses private targets, and nothing is delivered here.
        made = self.api.post(
            "/api/v1/webhooks",
            token=self.owner.access_token,
            json={"url": PUBLIC_WEBHOOK_TARGET, "events": ["task.created"]},
        )
        assert made.status_code == 201, made.text
        webhook_id: str = made.json()["id"]
        return webhook_id

    def uploaded_ticket(self, task_id: str) -> str:
        ticket = self.api.post(
            f"/api/v1/tasks/{task_id}/attachments/upload-url", token=self.owner.access_token, json={}
        ).json()
        posted = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("x", b"direct")}, timeout=30)
        assert posted.status_code in (200, 201, 204), posted.text
        attachment_id: str = ticket["attachment_id"]
        return attachment_id


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]
    # What another signed-in user gets when making the owner's call; a refusal changes nothing.
    other_status: int = 403
    # A call on the caller's own things only (mark all read): another user's succeeds, changing nothing of the owner's.
    # (The other user has none of their own here, so the database stays as it was.)
    other_changes_nothing: bool = False
    # When another user's call succeeds (other_status < 400): that what it made or changed is theirs, not the owner's.
    made_for_other: Callable[[World, requests.Response], bool] = lambda world, made: (
        made.json().get("owner_id") == world.other.id
    )

    def send(self, api: Api, method: str, token: str | None) -> requests.Response:
        return api.request(method.upper(), self.path, token=token, **self.body)


def _change_password(world: World) -> Call:
    # The object is the account: another user's token with the owner's password changes nothing.
    new = {"current_password": world.owner.password, "new_password": world.owner.password + " again"}
    return Call("/api/v1/auth/change-password", {"json": new}, other_status=401)


def _task_changes(method: str) -> Callable[[World], Call]:
    def prepare(world: World) -> Call:
        body = {"title": "Changed by " + method} if method != "DELETE" else None
        return Call(f"/api/v1/tasks/{world.task()}", {"json": body} if body else {})

    return prepare


def _upload(world: World) -> Call:
    files = {"file": ("intruder.txt", b"not yours", "text/plain")}
    return Call(f"/api/v1/tasks/{world.task()}/attachments", {"files": files})


def _upload_url(world: World) -> Call:
    return Call(f"/api/v1/tasks/{world.task()}/attachments/upload-url", {"json": {"content_type": "text/plain"}})


def _confirm(world: World) -> Call:
    task_id = world.task()
    body = {"attachment_id": world.uploaded_ticket(task_id), "filename": "direct.txt"}
    return Call(f"/api/v1/tasks/{task_id}/attachments/confirm", {"json": body})


def _delete_attachment(world: World) -> Call:
    return Call(f"/api/v1/attachments/{world.attachment(world.task())}", {})


def _mark_read(world: World) -> Call:
    # Another user's notification is not theirs to learn of: 404, as a missing one.
    return Call(f"/api/v1/notifications/{world.notification()}/read", {}, other_status=404)


def _mark_all_read(world: World) -> Call:
    world.notification()
    return Call("/api/v1/notifications/read-all", {}, other_status=200, other_changes_nothing=True)


def _create_webhook(world: World) -> Call:
    def theirs(world: World, made: requests.Response) -> bool:
        row = world.db.execute("SELECT user_id FROM webhooks WHERE id = %s", (made.json()["id"],)).fetchone()
        return row is not None and str(row[0]) == world.other.id

    body = {"json": {"url": PUBLIC_WEBHOOK_TARGET, "events": ["task.created", "reminder.sent"]}}
    return Call("/api/v1/webhooks", body, other_status=201, made_for_other=theirs)


def _delete_webhook(world: World) -> Call:
    # Another user's webhook is not theirs to learn of: 404, as a missing one.
    return Call(f"/api/v1/webhooks/{world.webhook()}", {}, other_status=404)


def _change_settings(world: World) -> Call:
    def theirs(world: World, made: requests.Response) -> bool:
        owners = world.db.execute("SELECT count(*) FROM notification_settings WHERE user_id = %s", (world.owner.id,))
        return made.json()["email_address"] == world.other.email and owners.fetchone() == (0,)

    return Call("/api/v1/notifications/settings", {"json": {"email": False}}, other_status=200, made_for_other=theirs)


# How to make each signed-in write route's call on something the owner owns.
RECIPES: dict[str, Callable[[World], Call]] = {
    "POST /api/v1/auth/change-password": _change_password,
    "POST /api/v1/tasks": lambda world: Call("/api/v1/tasks", {"json": {"title": "Mine"}}, other_status=201),
    "PUT /api/v1/tasks/{task_id}": _task_changes("PUT"),
    "PATCH /api/v1/tasks/{task_id}": _task_changes("PATCH"),
    "DELETE /api/v1/tasks/{task_id}": _task_changes("DELETE"),
    "POST /api/v1/tasks/{task_id}/attachments": _upload,
    "POST /api/v1/tasks/{task_id}/attachments/upload-url": _upload_url,
    "POST /api/v1/tasks/{task_id}/attachments/confirm": _confirm,
    "DELETE /api/v1/attachments/{attachment_id}": _delete_attachment,
    "POST /api/v1/notifications/{notification_id}/read": _mark_read,
    "POST /api/v1/notifications/read-all": _mark_all_read,
    "PUT /api/v1/notifications/settings": _change_settings,
    "POST /api/v1/webhooks": _create_webhook,
    "DELETE /api/v1/webhooks/{webhook_id}": _delete_webhook,
}


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    yield from print_figures(request, Figures("object authorization"))


@pytest.fixture
def world(
    stack: RunningStack,
    db: psycopg.Connection,
    services: LocalServices,
    stack_env: dict[str, str],
    redis_client: redis.Redis,
    accounts: AuthUseCases,
    figures: Figures,
) -> World:
    reset_rate_limits(redis_client)
    api = WatchedApi(stack.base_url, SecretWatch())
    owner = sign_up(api, "owner", password="the owner's own passphrase")
    other, deleted = sign_up(api, "other"), sign_up(api, "deleted")
    db.execute("DELETE FROM users WHERE id = %s", (deleted.id,))
    # Deleted with SQL, behind the session cache's back: as an operator who deletes a user also drops its cached
    # state (otherwise its tokens work until the state expires, SESSION_CACHE_SECONDS).
    redis_client.delete(f"tasktracker:session:{deleted.id}")
    bucket = Bucket(services.s3_endpoint_url, stack_env["S3_BUCKET"])
    return World(api, db, accounts, bucket, owner, other, deleted, figures)


def _refused_unchanged(
    world: World, operation: Operation, caller: str, send: Callable[[], requests.Response], status: int, code: str
) -> None:
    before = take_snapshot(world.db, world.bucket)
    response = send()
    after = take_snapshot(world.db, world.bucket)
    world.figures.add("cases")
    problems = []
    if response.status_code != status:
        problems.append(f"status {response.status_code}, not {status}: {response.text[:200]}")
    elif code and response.json()["error"]["code"] != code:
        problems.append(f"code {response.json()['error']['code']}, not {code}")
    if changed := before.differences(after):
        problems.append(f"changed {', '.join(changed)}")
    if problems:
        world.failures.append(f"{operation.name} by {caller}: {'; '.join(problems)}")


def _without_a_live_account(world: World, operation: Operation, call: Call) -> None:
    tokens = {
        "no token": None,
        "expired token": mint_token(world.owner.id, expires_in=-60),
        "deactivated owner": world.owner.access_token,
        "deleted user": world.deleted.access_token,
    }
    for caller, token in tokens.items():
        if caller == "deactivated owner":
            world.accounts.deactivate(world.owner.email)
        try:
            _refused_unchanged(
                world,
                operation,
                caller,
                partial(call.send, world.api, operation.method, token),
                401,
                REFUSED_WITHOUT_A_LIVE_ACCOUNT[caller],
            )
        finally:
            if caller == "deactivated owner":
                world.accounts.reactivate(world.owner.email)
                # The deactivation ended the owner's sessions for good: reactivated, the owner signs in again.
                world.owner = sign_in_again(world.api, world.owner)


def test_every_write_route_refuses_every_caller_but_the_owner_and_refusals_change_nothing(
    world: World, redis_client: redis.Redis, figures: Figures
) -> None:
    operations = write_operations(world.api)
    assert any(operation.path.endswith("{task_id}") for operation in operations), "no write routes documented"
    public = {operation.name for operation in operations if not operation.signed_in}
    assert public <= PUBLIC_WRITES, f"write routes anyone may call: {sorted(public - PUBLIC_WRITES)}"

    for operation in (operation for operation in operations if operation.signed_in):
        reset_rate_limits(redis_client)
        figures.add("write routes")
        recipe = RECIPES.get(operation.name)
        if recipe is None:
            # Still refused without a live account; the owner's and another user's calls need a recipe.
            _without_a_live_account(world, operation, Call(operation.concrete_path(), {"json": {}}))
            world.failures.append(f"{operation.name} has no recipe: add one to RECIPES")
            continue

        call = recipe(world)
        _without_a_live_account(world, operation, call)
        if call.other_status >= 400 or call.other_changes_nothing:
            _refused_unchanged(
                world,
                operation,
                "another user",
                partial(call.send, world.api, operation.method, world.other.access_token),
                call.other_status,
                "",
            )
        else:
            figures.add("cases")
            made = call.send(world.api, operation.method, world.other.access_token)
            if made.status_code != call.other_status or not call.made_for_other(world, made):
                world.failures.append(f"{operation.name} by another user: {made.status_code} {made.text[:200]}")

        figures.add("cases")
        done = call.send(world.api, operation.method, world.owner.access_token)
        if done.status_code != operation.success_status():
            world.failures.append(f"{operation.name} by its owner: {done.status_code} {done.text[:200]}")
        if operation.name == "POST /api/v1/auth/change-password" and done.ok:
            # The change ended every session of the owner, the one that made it included.
            world.owner.password = call.body["json"]["new_password"]
            world.owner = sign_in_again(world.api, world.owner)

    figures.add("responses checked for hashes", world.api.watch.assert_no_secrets(world.db))
    figures.add("callers per route", len(REFUSED_WITHOUT_A_LIVE_ACCOUNT) + 2)
    figures.add("failures", len(world.failures))
    assert not world.failures, "\n".join(world.failures)
