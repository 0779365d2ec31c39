"""Real Celery worker and beat processes for the reminder tests, and their JSON log lines."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.stack import ROOT

LogRecord = dict[str, Any]


@dataclass
class CeleryProcess:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> CeleryProcess:
        log = self.log_path.open("ab")
        # A session of its own, so that "the machine died" can be played with one killpg.
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def records(self) -> list[LogRecord]:
        if not self.log_path.exists():
            return []
        records = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def wait_for(self, predicate: Callable[[LogRecord], bool], timeout: float = 30) -> LogRecord:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in self.records():
                if predicate(record):
                    return record
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no matching log line after {timeout}s:\n{self.log_tail()}")

    def pool_children(self) -> list[int]:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [int(child) for child in children]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill_everything()

    def kill_everything(self) -> None:
        """SIGKILL to the main process and its pool at once, as when the machine or container dies."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


def worker_command(name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "functions.reminders.cli",
        "worker",
        "--hostname",
        f"{name}@%h",
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        # Fast start: no looking for neighbours, nothing else to coordinate with.
        "--without-mingle",
        "--without-gossip",
    ]


def beat_command(schedule_file: Path) -> list[str]:
    return [sys.executable, "-m", "functions.reminders.cli", "beat", "--schedule", str(schedule_file)]


def is_ready(record: LogRecord) -> bool:
    return record.get("logger") == "celery.apps.worker" and str(record.get("message", "")).endswith("ready.")


def finished(correlation_id: str) -> Callable[[LogRecord], bool]:
    return lambda record: (
        record.get("message") == "reminder pass finished" and (record.get("correlation_id") == correlation_id)
    )


def failed_for_good(correlation_id: str) -> Callable[[LogRecord], bool]:
    return lambda record: (
        record.get("message") == "reminder run failed for good" and (record.get("correlation_id") == correlation_id)
    )


def wait_for_any(
    processes: list[CeleryProcess], predicate: Callable[[LogRecord], bool], timeout: float = 30
) -> LogRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            for record in process.records():
                if predicate(record):
                    return record
        time.sleep(0.05)
    raise AssertionError("no process logged a matching line:\n" + "\n".join(p.log_tail() for p in processes))
