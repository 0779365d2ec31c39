"""Every function's OpenAPI document, fuzzed with schemathesis through the router, signed in and signed out.

No answer may be a server error; every answer must have an explicitly documented status code, the
documented content type, headers and body, and every error must be in the spec's format with its
correlation id. The fuzzing runs on a stack of its own (own database, own Redis database) so that the
thousands of odd users and tasks it creates stay out of other tests' way. Rate-limit windows are emptied
before each case so that the limits do not hide the API; a last test leaves them to fill up (the limits of
this stack are low), so that the 429 answers are checked against the documents too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
import requests
import schemathesis
from sqlalchemy.engine import make_url

from local.services import LocalServices
from tests.conftest import reset_schema
from tests.hardening.fuzz_support import Identity, Tally, fuzz_operation, load_document
from tests.hardening.scale import scaled
from tests.support.api import DEFAULT_PASSWORD, Api
from tests.support.stack import RunningStack, function_environment, selected_routes, start_stack

# Examples per operation, per generation mode (valid and invalid input), per identity.
EXAMPLES = scaled(8, 150)
FUNCTIONS = [route.name for route in selected_routes()]
# A Redis database of its own: the fuzzing stack's rate-limit windows are emptied freely.
FUZZ_REDIS_DB = "7"
FUZZ_DATABASE = "tasktracker_fuzz"
RATE_LIMIT = 6


def _with_redis_db(url: str, db: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="module")
def fuzz_redis(services: LocalServices) -> redis.Redis:
    client = redis.Redis.from_url(_with_redis_db(services.redis_url, FUZZ_REDIS_DB))
    client.flushdb()
    return client


@pytest.fixture(scope="module")
def fuzz_stack(
    services: LocalServices, fuzz_redis: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    with psycopg.connect(services.database_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{FUZZ_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{FUZZ_DATABASE}"')
    database_url = make_url(services.database_url).set(database=FUZZ_DATABASE).render_as_string(hide_password=False)
    reset_schema(database_url)
    redis_url = _with_redis_db(services.redis_url, FUZZ_REDIS_DB)
    env = function_environment(
        database_url,
        redis_url,
        services.s3_endpoint_url,
        S3_BUCKET="tasktracker-fuzz",
        # Low, so that the last test meets them within a few cases; the others empty the windows before each.
        RATE_LIMIT_DEFAULT=f"{RATE_LIMIT}/minute",
        RATE_LIMIT_LOGIN=f"{RATE_LIMIT}/minute",
        RATE_LIMIT_OPS=f"{RATE_LIMIT}/minute",
    )
    running = start_stack(env, Path(tmp_path_factory.mktemp("fuzz-stack")))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def owner(fuzz_stack: RunningStack) -> Identity:
    return Identity.sign_up(Api(fuzz_stack.base_url), f"fuzz-{uuid.uuid4().hex[:10]}@example.com", DEFAULT_PASSWORD)


@pytest.fixture(scope="module")
def stranger(fuzz_stack: RunningStack) -> Identity:
    return Identity.sign_up(Api(fuzz_stack.base_url), f"other-{uuid.uuid4().hex[:10]}@example.com", DEFAULT_PASSWORD)


def seed_objects(api: Api, owner: Identity, stranger: Identity) -> dict[str, list[str]]:
    """Real tasks and attachments of the signed-in user (its own: 2xx) and of someone else (403 on changes),
    so that operations on one object are not only fuzzed into 404s."""
    ids: dict[str, list[str]] = {"task_id": [], "attachment_id": []}
    for who in (owner, stranger):
        for number in range(3):
            task = api.post(
                "/api/v1/tasks",
                json={"title": f"seeded {number}", "tags": ["fuzz"], "due_date": "2030-01-01T09:00:00Z"},
                headers=who.headers(),
            )
            assert task.status_code == 201, task.text
            ids["task_id"].append(task.json()["id"])
            attached = api.post(
                f"/api/v1/tasks/{task.json()['id']}/attachments",
                files={"file": (f"notes-{number}.txt", b"seeded attachment", "text/plain")},
                headers=who.headers(),
            )
            assert attached.status_code == 201, attached.text
            ids["attachment_id"].append(attached.json()["id"])
    return ids


def operations_of(base_url: str, function: str, windows: redis.Redis) -> list[Any]:
    # Reading the document is a request like any other: it must not meet a window the fuzzing filled.
    windows.flushdb()
    document = load_document(base_url, function)
    operations = [result.ok() for result in document.get_all_operations()]
    # Deletions last, so that the other operations still find the seeded objects.
    return sorted(operations, key=lambda operation: operation.method.upper() == "DELETE")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_fuzzing_finds_no_undocumented_answer(
    function: str,
    fuzz_stack: RunningStack,
    fuzz_redis: redis.Redis,
    owner: Identity,
    stranger: Identity,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = Api(fuzz_stack.base_url)
    fuzz_redis.flushdb()
    path_values = seed_objects(api, owner, stranger)
    session = requests.Session()
    tally = Tally()
    for operation in operations_of(fuzz_stack.base_url, function, fuzz_redis):
        for who, headers in (("signed in", owner.headers), ("signed out", dict)):
            fuzz_operation(
                operation,
                base_url=fuzz_stack.base_url,
                session=session,
                headers=headers,
                who=who,
                examples=EXAMPLES,
                path_values=path_values,
                tally=tally,
                before_each=fuzz_redis.flushdb,
            )
    with capsys.disabled():
        print(f"\n{tally.figure(function)}")
    assert tally.cases > 0
    assert not tally.failures, f"{len(tally.failures)} kinds of failure:\n\n{tally.report()}"


def test_rate_limited_answers_are_documented(
    fuzz_stack: RunningStack,
    fuzz_redis: redis.Redis,
    owner: Identity,
    stranger: Identity,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = Api(fuzz_stack.base_url)
    fuzz_redis.flushdb()
    path_values = seed_objects(api, owner, stranger)
    session = requests.Session()
    tally = Tally()
    # Ops too: its readiness, merged metrics and merged document share a limit of their own.
    for function in FUNCTIONS:
        for operation in operations_of(fuzz_stack.base_url, function, fuzz_redis):
            for who, headers in (("signed in", owner.headers), ("signed out", dict)):
                fuzz_operation(
                    operation,
                    base_url=fuzz_stack.base_url,
                    session=session,
                    headers=headers,
                    who=who,
                    examples=scaled(8, 30),
                    path_values=path_values,
                    tally=tally,
                    modes=(schemathesis.GenerationMode.POSITIVE,),
                )
    fuzz_redis.flushdb()
    with capsys.disabled():
        print(f"\n{tally.figure('rate-limited')}")
    assert tally.statuses.get(429, 0) > 0, tally.statuses
    assert not tally.failures, f"{len(tally.failures)} kinds of failure:\n\n{tally.report()}"
