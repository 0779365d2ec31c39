"""What only the containers do, checked on the stack `make compose-test` started (tests/compose/run.py):
restart policies after a crash, named volumes across down and up, the scheduled reminder through beat and
worker, and the dev profile's reload of changed code without a rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.compose import Stack
from tests.compose.run import stack as compose_stack
from tests.support.api import Api, SignedInUser, sign_up

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> Stack:
    return compose_stack()


@pytest.fixture
def api() -> Api:
    return Api(os.environ["API_BASE_URL"])


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(1)


def crash(stack: Stack, service: str) -> int:
    """SIGKILL to the container's main process from outside, as an out-of-memory kill would do; the
    restarts counted before it."""
    state = stack.states()[service]
    pid = int(stack.engine.output("inspect", "--format", "{{.State.Pid}}", state.name).strip())
    os.kill(pid, signal.SIGKILL)
    return state.restarts


def restarted(stack: Stack, service: str, restarts_before: int) -> None:
    eventually(
        lambda: (state := stack.states()[service]).restarts > restarts_before and state.running,
        90,
        f"{service} brought back by its restart policy",
    )
    stack.wait_healthy([service], timeout=120)


def create_task(api: Api, user: SignedInUser, **fields: Any) -> dict[str, Any]:
    created = api.post("/api/v1/tasks", token=user.access_token, json={"title": f"t-{uuid.uuid4().hex[:8]}", **fields})
    assert created.status_code == 201, created.text
    task: dict[str, Any] = created.json()
    return task


def test_a_crashed_function_is_brought_back_and_answers_through_the_router(stack: Stack, api: Api) -> None:
    user = sign_up(api, "restart")

    restarted(stack, "tasks", crash(stack, "tasks"))

    task = create_task(api, user)
    fetched = api.get(f"/api/v1/tasks/{task['id']}", token=user.access_token)
    assert fetched.status_code == 200, fetched.text


def test_a_crashed_worker_is_brought_back_and_beat_and_worker_send_the_reminder(stack: Stack, api: Api) -> None:
    restarted(stack, "worker", crash(stack, "worker"))
    user = sign_up(api, "reminded")
    due = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    task = create_task(api, user, due_date=due)

    def reminded() -> bool:
        listed = api.get("/api/v1/reminders", token=user.access_token)
        assert listed.status_code == 200, listed.text
        return any(item["task_id"] == task["id"] for item in listed.json()["items"])

    # Beat publishes a run every REMINDER_INTERVAL_SECONDS (5 s here); the worker sends what is due.
    eventually(reminded, 60, "the reminder of a task due within the window")


def test_down_and_up_keep_tasks_and_attachment_files_in_the_named_volumes(stack: Stack, api: Api) -> None:
    user = sign_up(api, "volumes")
    task = create_task(api, user)
    content = b"kept across down and up"
    uploaded = api.post(
        f"/api/v1/tasks/{task['id']}/attachments",
        token=user.access_token,
        files={"file": ("kept.txt", content, "text/plain")},
    )
    assert uploaded.status_code == 201, uploaded.text

    stack.down()
    stack.up(build=False)

    # A new client, as a browser opens new connections: one kept alive across `down` would still lead to the
    # removed router container's address and wait for an answer that never comes.
    api = Api(os.environ["API_BASE_URL"])
    fetched = api.get(f"/api/v1/tasks/{task['id']}", token=user.access_token)
    assert fetched.status_code == 200, fetched.text
    listed = api.get(f"/api/v1/tasks/{task['id']}/attachments", token=user.access_token)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()] == [uploaded.json()["id"]]
    # The file itself too: the moto service keeps S3's state in its volume (local/persistent_s3.py).
    downloaded = api.get(f"/api/v1/attachments/{uploaded.json()['id']}/download", token=user.access_token)
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == content


# Prints the body of one of the function's own URLs, or nothing while it does not answer (restarting).
FETCH = (
    "import sys, urllib.request\n"
    "try:\n"
    "    print(urllib.request.urlopen('http://127.0.0.1:8000' + sys.argv[1], timeout=5).read().decode())\n"
    "except OSError:\n"
    "    pass\n"
)


def fetched_in(stack: Stack, service: str, path: str) -> str:
    """What the function answers on path, asked from inside its container (dev functions publish no port)."""
    command = [stack.engine.name, "exec", stack.container_name(service), "python", "-c", FETCH, path]
    with suppress(subprocess.TimeoutExpired):
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout
    return ""


def test_the_dev_profile_reloads_a_changed_route_without_a_rebuild(stack: Stack) -> None:
    dev = replace(stack, profiles=[*stack.profiles, "dev"])
    routes = ROOT / "functions" / "auth" / "routes.py"
    original = routes.read_bytes()
    summary = '"""The signed-in user"""'
    assert summary.encode() in original
    marker = f"The signed-in user, reloaded {uuid.uuid4().hex[:8]}"
    document = "/api/v1/auth/openapi.json"
    # Only auth-dev: its stores already run, and the other dev functions would only add load.
    dev.compose("up", "--detach", "--no-build", "--no-deps", "auth-dev")
    try:
        dev.wait_healthy(["auth-dev"], timeout=300)
        assert "The signed-in user" in fetched_in(dev, "auth-dev", document)
        try:
            routes.write_bytes(original.replace(summary.encode(), f'"""{marker}"""'.encode()))
            eventually(lambda: marker in fetched_in(dev, "auth-dev", document), 120, "the changed route answered")
        finally:
            routes.write_bytes(original)
        eventually(
            lambda: (body := fetched_in(dev, "auth-dev", document)) and marker not in body and "signed-in" in body,
            120,
            "the restored route answered",
        )
    finally:
        dev.compose("rm", "--stop", "--force", "auth-dev", check=False)
