"""Backing services fail under traffic, and the product answers as documented and recovers by itself.

PostgreSQL, Redis and S3 are this module's own (tests/support/faults.py), so stopping them never touches
another test; the functions run behind the real router, and the reminder worker is a real Celery worker.
During an outage every answer comes within OUTAGE_ANSWER_SECONDS, in the error format, never a 500.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
import requests

from local.services import free_port
from tasktracker.adapters.celery.app import SEND_REMINDERS_TASK, create_celery_app
from tasktracker.config import Settings
from tests.hardening.scale import scaled
from tests.reminders.processes import CeleryProcess, finished, is_ready, worker_command
from tests.support.api import Api, SignedInUser, assert_error, sign_up
from tests.support.faults import (
    OUTAGE_ANSWER_SECONDS,
    Observation,
    StoppablePostgres,
    StoppableRedis,
    StoppableS3,
    Traffic,
    figure,
    wait_until,
)
from tests.support.stack import RunningStack, function_environment, start_stack

BUCKET = "tasktracker-faults"
OUTAGE_SECONDS = scaled(4, 20)
RECOVERY_TIMEOUT = 60.0
# A pass over this many due tasks, in batches of REMINDER_BATCH_SIZE, runs long enough to be killed halfway.
DUE_TASKS = scaled(20_000, 50_000)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def postgres() -> Iterator[StoppablePostgres]:
    from tasktracker.adapters.sqlalchemy.migrate import upgrade

    server = StoppablePostgres("tasktracker_faults")
    upgrade(server.url)
    yield server
    server.close()


@pytest.fixture(scope="module")
def redis_server(workdir: Path) -> Iterator[StoppableRedis]:
    server = StoppableRedis(workdir / "redis", free_port())
    yield server
    server.close()


@pytest.fixture(scope="module")
def s3(workdir: Path) -> Iterator[StoppableS3]:
    server = StoppableS3(free_port())
    yield server
    server.close()


@pytest.fixture(scope="module")
def env(postgres: StoppablePostgres, redis_server: StoppableRedis, s3: StoppableS3) -> dict[str, str]:
    # Limits high enough that the traffic below is never rate limited: the faults are the subject here.
    return function_environment(
        postgres.url,
        redis_server.url,
        s3.url,
        S3_BUCKET=BUCKET,
        RATE_LIMIT_DEFAULT="100000/minute",
        RATE_LIMIT_LOGIN="100000/minute",
        RATE_LIMIT_OPS="100000/minute",
        WORKER_HEARTBEAT_SECONDS="1",
    )


@pytest.fixture(scope="module")
def stack(env: dict[str, str], workdir: Path) -> Iterator[RunningStack]:
    running = start_stack(env, workdir / "stack")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def user(stack: RunningStack) -> SignedInUser:
    return sign_up(Api(stack.base_url), "faults")


@pytest.fixture
def db(postgres: StoppablePostgres) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(postgres.url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def start_worker(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., CeleryProcess]]:
    started: list[CeleryProcess] = []
    names = itertools.count(1)

    def start(**overrides: str) -> CeleryProcess:
        name = f"faults-worker{next(names)}"
        worker_env = {
            **env,
            "LOG_LEVEL": "INFO",
            "WORKER_METRICS_PORT": str(free_port()),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"{name}-metrics"),
            **overrides,
        }
        worker = CeleryProcess(name, worker_command(name), worker_env, tmp_path / f"{name}.log").start()
        started.append(worker)
        worker.wait_for(is_ready, timeout=60)
        return worker

    yield start
    for worker in started:
        worker.stop()


def publish_reminder_run(postgres: StoppablePostgres, redis_server: StoppableRedis) -> str:
    """Publishes a run the way beat does."""
    app = create_celery_app(Settings(environment="test", database_url=postgres.url, redis_url=redis_server.url))
    try:
        return str(app.send_task(SEND_REMINDERS_TASK).id)
    finally:
        app.close()


def ready(stack: RunningStack) -> requests.Response:
    return requests.get(f"{stack.base_url}/api/v1/health/ready", timeout=OUTAGE_ANSWER_SECONDS)


def components(stack: RunningStack) -> dict[str, Any]:
    body: dict[str, Any] = ready(stack).json()["components"]
    return body


def assert_unavailable(seen: Observation, codes: set[str]) -> None:
    """A 503 in the error format, with one of the codes that say which service is missing."""
    assert seen.status == 503, seen
    assert isinstance(seen.body, dict) and set(seen.body) == {"error"}, seen
    error = seen.body["error"]
    assert set(error) == {"code", "message", "details", "correlation_id"}, seen
    assert error["correlation_id"] and error["correlation_id"] == seen.correlation_id, seen
    assert error["code"] in codes, seen


def assert_bounded(observations: list[Observation]) -> None:
    slowest = max((seen.seconds for seen in observations), default=0.0)
    assert slowest < OUTAGE_ANSWER_SECONDS, f"an answer took {slowest:.1f} s"


def summary(observations: list[Observation]) -> str:
    return "/".join(f"{status}x{count}" for status, count in sorted(Counter(s.status for s in observations).items()))


def task_traffic(stack: RunningStack, user: SignedInUser) -> Callable[[requests.Session], requests.Response]:
    """What a signed-in user does most: create a task, then list their tasks."""
    turns = itertools.count()
    headers = {"Authorization": f"Bearer {user.access_token}"}

    def call(session: requests.Session) -> requests.Response:
        if next(turns) % 2:
            return session.get(
                f"{stack.base_url}/api/v1/tasks", params={"owner": "me", "page_size": 5}, headers=headers, timeout=30
            )
        return session.post(
            f"{stack.base_url}/api/v1/tasks", json={"title": f"under fault {uuid.uuid4().hex[:8]}"}, headers=headers
        )

    return call


def test_postgres_stopped_and_restarted_under_traffic_answers_503_and_recovers_without_a_restart(
    stack: RunningStack, postgres: StoppablePostgres, user: SignedInUser
) -> None:
    with Traffic(task_traffic(stack, user), threads=3) as traffic:
        # Traffic that already succeeds, however slow the machine is to serve its first requests.
        wait_until(lambda: traffic.succeeding_since(0.0), RECOVERY_TIMEOUT)
        stopped_at = time.monotonic()
        postgres.stop()
        try:
            time.sleep(OUTAGE_SECONDS)
            during = ready(stack)
        finally:
            restarted_at = time.monotonic()
            postgres.start()
            started_in = time.monotonic() - restarted_at
        wait_until(lambda: traffic.succeeding_since(restarted_at), RECOVERY_TIMEOUT)
        settled_at = time.monotonic()
        time.sleep(1)

    everything = traffic.between(0, float("inf"))
    # Answered before the database began to stop; a request in flight at that moment may get either answer.
    before = [seen for seen in everything if seen.ended < stopped_at]
    outage = traffic.between(stopped_at, restarted_at)
    after = traffic.between(settled_at, float("inf"))
    figure(
        "postgres stopped",
        outage_s=round(restarted_at - stopped_at, 1),
        requests_during=len(outage),
        statuses_during=summary(outage),
        codes_during="/".join(sorted({seen.body["error"]["code"] for seen in outage if seen.status == 503})),
        postgres_start_s=round(started_in, 2),
        first_success_after_restart_s=round(traffic.first_success_after(restarted_at), 2),
        slowest_answer_s=round(max(seen.seconds for seen in everything), 2),
        requests_total=len(everything),
    )
    assert before and {seen.status for seen in before} <= {200, 201}, summary(before)
    # A request that was answered just as the database went away may still have succeeded; none failed
    # otherwise than with a 503 in the error format.
    assert {seen.status for seen in everything} <= {200, 201, 503}, summary(everything)
    for seen in everything:
        if seen.status == 503:
            # DB_UNAVAILABLE from a use case, SERVICE_UNAVAILABLE from the sign-in check before it.
            assert_unavailable(seen, {"DB_UNAVAILABLE", "SERVICE_UNAVAILABLE"})
    assert sum(seen.status == 503 for seen in outage) >= 3, summary(outage)
    assert_bounded(everything)
    assert during.status_code == 503
    assert during.json()["components"]["db"] == "down"
    assert during.json()["status"] == "degraded"
    assert after and {seen.status for seen in after} <= {200, 201}, summary(after)
    wait_until(lambda: ready(stack).status_code == 200, RECOVERY_TIMEOUT)
    assert components(stack)["db"] == "up"
    # Signing in again works too: every function found its way back to the database.
    sign_up(Api(stack.base_url), "after-postgres")


def test_redis_stopped_degrades_rate_limits_to_memory_ready_says_down_and_the_worker_reconnects(
    stack: RunningStack,
    postgres: StoppablePostgres,
    redis_server: StoppableRedis,
    user: SignedInUser,
    start_worker: Callable[..., CeleryProcess],
) -> None:
    worker = start_worker()
    wait_until(lambda: components(stack)["worker"] == "up", RECOVERY_TIMEOUT)
    with Traffic(task_traffic(stack, user), threads=3) as traffic:
        time.sleep(1)
        stopped_at = time.monotonic()
        redis_server.stop()
        try:
            time.sleep(OUTAGE_SECONDS)
            during = ready(stack)
            # Signing in is rate limited in Redis too: it works on the in-memory limits.
            signed_in_during_outage = sign_up(Api(stack.base_url), "during-redis")
        finally:
            restarted_at = time.monotonic()
            redis_server.start()
        # The limiter looks at Redis again with a growing back-off (at most 32 s): its windows reappear there.
        limits_back_after = wait_until(lambda: bool(redis_server.client().keys("LIMITS*")), RECOVERY_TIMEOUT)

    everything = traffic.between(0, float("inf"))
    outage = traffic.between(stopped_at, restarted_at)
    worker_back_after = wait_until(lambda: components(stack)["worker"] == "up", RECOVERY_TIMEOUT)
    run_id = publish_reminder_run(postgres, redis_server)
    run = worker.wait_for(finished(run_id), timeout=RECOVERY_TIMEOUT)
    figure(
        "redis stopped",
        outage_s=round(restarted_at - stopped_at, 1),
        requests_during=len(outage),
        statuses_during=summary(outage),
        limits_back_in_redis_s=round(limits_back_after, 1),
        worker_heartbeat_back_s=round(worker_back_after, 2),
        run_after_restart_sent=run["sent"],
        slowest_answer_s=round(max(seen.seconds for seen in everything), 2),
    )
    # The documented degradation: limits fall back to per-process memory, no request fails for it.
    assert {seen.status for seen in everything} <= {200, 201}, summary(everything)
    assert len(outage) >= 3
    assert_bounded(everything)
    assert signed_in_during_outage.access_token
    assert during.status_code == 503
    assert during.json()["components"]["redis"] == "down"
    assert ready(stack).status_code == 200
    assert worker.process is not None and worker.process.poll() is None


def test_s3_stopped_uploads_answer_503_and_nothing_is_half_written(
    stack: RunningStack,
    s3: StoppableS3,
    user: SignedInUser,
    db: psycopg.Connection[Any],
) -> None:
    api = Api(stack.base_url)
    task = api.post("/api/v1/tasks", token=user.access_token, json={"title": "with files"}).json()
    uploads = f"/api/v1/tasks/{task['id']}/attachments"

    def upload(size: int) -> tuple[requests.Response, float]:
        started = time.monotonic()
        response = api.post(
            uploads, token=user.access_token, files={"file": ("notes.bin", b"x" * size, "application/octet-stream")}
        )
        return response, time.monotonic() - started

    first, _ = upload(1024)
    assert first.status_code == 201, first.text

    stopped_at = time.monotonic()
    s3.stop()
    try:
        # A small file (one PUT) and one large enough for a multipart upload.
        failed = [upload(size) for size in (1024, 9 * 1024 * 1024, 1024)]
        download = api.get(f"/api/v1/attachments/{first.json()['id']}/download", token=user.access_token)
        during = ready(stack)
    finally:
        restarted_at = time.monotonic()
        s3.start()
    recovered_after = wait_until(lambda: upload(2048)[0].status_code == 201, RECOVERY_TIMEOUT, interval=0.5)

    figure(
        "s3 stopped",
        outage_s=round(restarted_at - stopped_at, 1),
        uploads_during=len(failed),
        statuses_during="/".join(str(response.status_code) for response, _ in failed),
        slowest_upload_s=round(max(seconds for _, seconds in failed), 2),
        recovered_s=round(recovered_after, 2),
    )
    for response, seconds in failed:
        assert_error(response, 503, "S3_UNAVAILABLE")
        assert seconds < OUTAGE_ANSWER_SECONDS
    assert_error(download, 503, "S3_UNAVAILABLE")
    assert during.status_code == 503 and during.json()["components"]["s3"] == "down"
    # Readiness is kept for OPS_CACHE_SECONDS, so the answer given during the outage may be served a moment more.
    wait_until(lambda: ready(stack).status_code == 200, RECOVERY_TIMEOUT)

    # Nothing half-written: the rows, the audit trail and the bucket agree on exactly the two uploads that
    # succeeded, and no failed upload left an object or an unfinished multipart upload behind.
    listed = api.get(uploads, token=user.access_token)
    assert listed.status_code == 200
    rows = db.execute("SELECT storage_path FROM attachments WHERE task_id = %s", (task["id"],)).fetchall()
    added = db.execute(
        "SELECT count(*) FROM audit_events WHERE task_id = %s AND event_type = 'ATTACHMENT_ADDED'", (task["id"],)
    ).fetchone()
    client = boto3.client(
        "s3", endpoint_url=s3.url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="x"
    )
    objects = client.list_objects_v2(Bucket=BUCKET, Prefix=f"tasks/{task['id']}/").get("Contents", [])
    unfinished = client.list_multipart_uploads(Bucket=BUCKET, Prefix=f"tasks/{task['id']}/").get("Uploads", [])
    assert len(listed.json()) == len(rows) == 2
    assert added == (2,)
    assert sorted(entry["Key"] for entry in objects) == sorted(path for (path,) in rows)
    assert unfinished == []


def test_a_worker_killed_mid_run_leaves_the_next_run_to_finish_with_exactly_one_reminder_each(
    postgres: StoppablePostgres,
    redis_server: StoppableRedis,
    db: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
) -> None:
    owner = uuid.uuid4()
    db.execute(
        "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'not-a-hash')",
        (owner, f"due-{owner.hex[:10]}@example.com"),
    )
    db.execute(
        "INSERT INTO tasks (id, owner_id, title, due_date)"
        " SELECT gen_random_uuid(), %s, 'due ' || n, now() + interval '1 hour' + n * interval '1 second'"
        " FROM generate_series(1, %s) AS n",
        (owner, DUE_TASKS),
    )

    def reminded() -> int:
        row = db.execute(
            "SELECT count(*) FROM reminder_logs JOIN tasks ON tasks.id = reminder_logs.task_id"
            " WHERE tasks.owner_id = %s",
            (owner,),
        ).fetchone()
        return int(row[0]) if row else 0

    # Small batches: many short transactions, so the kill lands between two of them or inside one.
    doomed = start_worker(REMINDER_BATCH_SIZE="50")
    publish_reminder_run(postgres, redis_server)
    wait_until(lambda: reminded() > 0, RECOVERY_TIMEOUT, interval=0.01)
    doomed.kill_everything()
    # A COMMIT the worker sent just before it died still completes on the server.
    time.sleep(1)
    done_before_kill = reminded()

    started = time.monotonic()
    survivor = start_worker(REMINDER_BATCH_SIZE="500")
    run = survivor.wait_for(finished(publish_reminder_run(postgres, redis_server)), timeout=300)
    next_run_seconds = time.monotonic() - started

    logs = dict(
        db.execute(
            "SELECT tasks.id, count(reminder_logs.task_id) FROM tasks"
            " LEFT JOIN reminder_logs ON reminder_logs.task_id = tasks.id AND reminder_type = 'DUE_SOON'"
            " WHERE tasks.owner_id = %s GROUP BY tasks.id",
            (owner,),
        ).fetchall()
    )
    events = dict(
        db.execute(
            "SELECT tasks.id, count(audit_events.id) FROM tasks"
            " LEFT JOIN audit_events ON audit_events.task_id = tasks.id AND event_type = 'REMINDER_SENT'"
            " WHERE tasks.owner_id = %s GROUP BY tasks.id",
            (owner,),
        ).fetchall()
    )
    figure(
        "worker killed mid-run",
        due_tasks=DUE_TASKS,
        reminded_before_kill=done_before_kill,
        next_run_sent=run["sent"],
        next_run_s=round(next_run_seconds, 1),
    )
    assert 0 < done_before_kill < DUE_TASKS
    assert run["sent"] == DUE_TASKS - done_before_kill
    assert len(logs) == len(events) == DUE_TASKS
    assert Counter(logs.values()) == {1: DUE_TASKS}
    assert Counter(events.values()) == {1: DUE_TASKS}
