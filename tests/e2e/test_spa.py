"""The SPA in real Chromium against the real stack: nginx serves the production build at / and the API under /api."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from local import system_packages
from tests.support.programs import require_system_program
from tests.support.stack import ROOT, RunningStack, start_stack
from tests.support.webhook_receiver import ReceivedDelivery, WebhookReceiver

FRONTEND = ROOT / "frontend"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# The program make test installs, wherever CHROMIUM_PATH points.
CHROMIUM_PACKAGE = replace(system_packages.CHROMIUM, command=str(CHROMIUM))
BUILD_INPUTS = ("src", "index.html", "vite.config.ts", "package.json", "package-lock.json", "tsconfig.json")
E2E_TIMEOUT_SECONDS = 300
# The webhook the browser run adds points at this test's receiver on loopback, which a deployment refuses: the
# stack that takes the webhook and the delivery run that calls it are told to allow it.
ALLOW_LOOPBACK_TARGETS = {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
# The browser run is one user going through every screen in about two minutes, far faster than a person: the
# per-user limit the other suites' stacks keep (100 requests a minute) stops it part-way. Its 429 step answers
# from a route of its own, so it needs no exhausted limit.
SPA_RATE_LIMIT = {"RATE_LIMIT_DEFAULT": "600/minute"}
# The line in which the browser run tells which webhook it added and the secret the page showed (e2e/run.mjs).
WEBHOOK_RECORD_PREFIX = "e2e-webhook: "


def _newest_mtime(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    return max((child.stat().st_mtime for child in path.rglob("*") if child.is_file()), default=0.0)


def _build_is_stale() -> bool:
    built = FRONTEND / "dist" / "index.html"
    if not built.exists():
        return True
    return max(_newest_mtime(FRONTEND / name) for name in BUILD_INPUTS) > built.stat().st_mtime


def _npm(*args: str) -> None:
    result = subprocess.run(["npm", *args], cwd=FRONTEND, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def spa_build() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed to build and drive the SPA")
    require_system_program(CHROMIUM_PACKAGE)
    if not (FRONTEND / "node_modules").exists():
        _npm("ci")
    if _build_is_stale():
        _npm("run", "build")
    return FRONTEND / "dist"


@pytest.fixture(scope="module")
def spa_stack(
    stack_env: dict[str, str], spa_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    running = start_stack(
        {**stack_env, **ALLOW_LOOPBACK_TARGETS, **SPA_RATE_LIMIT},
        tmp_path_factory.mktemp("spa-stack"),
        spa_root=spa_build,
    )
    yield running
    running.stop()


def _service_logs(stack: RunningStack) -> str:
    names = sorted(path.stem for path in stack.log_directory.glob("*.log"))
    return "\n".join(f"--- {name} (last lines)\n{stack.logs(name)[-1500:]}" for name in names)


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def _left_out_steps(stdout: str) -> list[str]:
    """The steps the browser run could not take for want of an environment variable: here each one must run."""
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith("--")]


def _webhook_the_page_showed(stdout: str) -> dict[str, str]:
    records = [
        json.loads(line.removeprefix(WEBHOOK_RECORD_PREFIX))
        for line in stdout.splitlines()
        if line.startswith(WEBHOOK_RECORD_PREFIX)
    ]
    assert len(records) == 1, (
        f"the browser run should name the one webhook it added, it named {len(records)}:\n{stdout}"
    )
    record: dict[str, str] = records[0]
    return record


def _describe(deliveries: list[ReceivedDelivery]) -> str:
    return "\n".join(
        f"{delivery.headers.get('x-tasktracker-event')} {delivery.body[:300]!r}" for delivery in deliveries
    )


def _assert_the_receiver_got_the_task_signed(stdout: str, receiver: WebhookReceiver) -> None:
    """What a receiver would check: every delivery verifies with the secret the page showed, and the task the run
    created after adding the webhook arrived, as task.created."""
    webhook = _webhook_the_page_showed(stdout)
    received = list(receiver.received)
    assert received, "the receiver got no delivery at all"
    forged = [delivery for delivery in received if not delivery.signed_with(webhook["secret"])]
    assert not forged, f"deliveries whose signature does not verify with the secret shown:\n{_describe(forged)}"
    created = [
        delivery
        for delivery in received
        if delivery.headers.get("x-tasktracker-event") == "task.created"
        and delivery.json["type"] == "task.created"
        and delivery.json["data"]["id"] == webhook["taskId"]
    ]
    assert len(created) == 1, (
        f"the task made after adding the webhook was not sent once as task.created:\n{_describe(received)}"
    )


def test_the_spa_flows_work_in_chromium(
    spa_stack: RunningStack, stack_env: dict[str, str], fresh_rate_limits: None, webhook_receiver: WebhookReceiver
) -> None:
    # The browser run starts a reminder pass (`make reminders`' command) on the stack's database when its steps need
    # one: a task it made due soon must reach its owner's bell. The stack runs no outbox worker, so it also starts
    # one delivery run when a webhook's event must reach the receiver.
    reminder_pass = [sys.executable, "-m", "functions.reminders.cli", "run"]
    outbox_delivery = [sys.executable, "-m", "functions.reminders.cli", "deliver"]
    try:
        result = subprocess.run(
            ["node", str(FRONTEND / "e2e" / "run.mjs")],
            cwd=FRONTEND,
            env={
                **stack_env,
                "BASE_URL": spa_stack.base_url,
                "CHROMIUM_PATH": str(CHROMIUM),
                **ALLOW_LOOPBACK_TARGETS,
                "REMINDER_PASS_COMMAND": json.dumps(reminder_pass),
                "OUTBOX_DELIVERY_COMMAND": json.dumps(outbox_delivery),
                "WEBHOOK_RECEIVER_URL": webhook_receiver.url,
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers")]),
            },
            capture_output=True,
            text=True,
            timeout=E2E_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"the browser run did not end within {E2E_TIMEOUT_SECONDS} s; what it printed:\n"
            f"{_text(expired.stdout)}\n{_text(expired.stderr)}\n{_service_logs(spa_stack)}"
        )
    print(result.stdout)
    print(result.stderr)
    assert result.returncode == 0, (
        f"the browser run failed (screenshots in test-artifacts/screenshots):\n{result.stdout}\n{result.stderr}\n"
        f"{_service_logs(spa_stack)}"
    )
    left_out = _left_out_steps(result.stdout)
    assert not left_out, f"the browser run left steps out, each of which this test must run: {left_out}"
    _assert_the_receiver_got_the_task_signed(result.stdout, webhook_receiver)
