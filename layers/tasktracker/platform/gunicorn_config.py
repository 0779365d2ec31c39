"""Every function's gunicorn settings: `gunicorn -c python:tasktracker.platform.gunicorn_config ...`.

Several worker processes each count their own requests, so the metrics go through prometheus_client's
multiprocess mode: every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR and whichever worker
answers /metrics adds up the files of all of them (tasktracker.platform.metrics). One directory per function:
the files carry no function name, so two functions sharing a directory would report each other's requests.

Gunicorn reads this module's public names as its settings; the helpers are private for that reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# Measured on 2 cores (bench/README.md): two processes keep both cores busy where one is held to one core by
# its GIL, and four threads each cover the time a request waits on PostgreSQL and Redis.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# The router takes request lines up to nginx's 8 KiB buffer; gunicorn's default of 4 KiB would answer a
# long (but valid) list query between the two with its own HTML 414 instead of the API's answer.
limit_request_line = 8190

_MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
_owned_directory: list[Path] = []


def on_starting(server: Any) -> None:
    """In the master, before any worker exists (and before prometheus_client is imported anywhere, as it
    chooses between in-memory and file-backed values once, at import): prepare the metrics directory."""
    given = os.environ.get(_MULTIPROCESS_DIRECTORY)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        # Files of an earlier run would be added to this one's counts.
        for stale in directory.glob("*.db"):
            stale.unlink()
    elif server.cfg.workers > 1:
        directory = Path(tempfile.mkdtemp(prefix="tasktracker-metrics-"))
        _owned_directory.append(directory)
        # Forked workers inherit the variable.
        os.environ[_MULTIPROCESS_DIRECTORY] = str(directory)
    # A single worker without a directory keeps in-memory registries, one per app.


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exits (restart, crash, reload) takes its live gauges with it; its counts stay."""
    if os.environ.get(_MULTIPROCESS_DIRECTORY):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    for directory in _owned_directory:
        shutil.rmtree(directory, ignore_errors=True)
