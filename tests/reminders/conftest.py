"""The reminder tests run real Celery workers and beats against PostgreSQL and Redis.

A reminder pass looks at every task in the database, so these tests get a database of their own on the
session's PostgreSQL server (and a Redis database number of their own): counts are exact, and the
REMINDER_SENT events they cause can never land on another test's tasks.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import psycopg
import pytest
import redis
import requests
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from local.services import LocalServices, free_port
from tasktracker.adapters.celery.app import SEND_REMINDERS_TASK, create_celery_app
from tasktracker.config import Settings
from tests.support.stack import function_environment

from .processes import CeleryProcess, beat_command, is_ready, worker_command

REMINDERS_DATABASE = "tasktracker_reminders_test"
REMINDERS_REDIS_DB = 9
# Small batches, quick retries: the behaviour of the defaults in a few seconds.
WORKER_SETTINGS = {
    "LOG_LEVEL": "INFO",
    "REMINDER_BATCH_SIZE": "50",
    "REMINDER_MAX_RETRIES": "2",
    "REMINDER_RETRY_BACKOFF_SECONDS": "1",
    "WORKER_HEARTBEAT_SECONDS": "1",
}


@pytest.fixture(scope="session")
def reminders_database_url(services: LocalServices) -> str:
    url = make_url(services.database_url).set(database=REMINDERS_DATABASE).render_as_string(hide_password=False)
    with psycopg.connect(services.database_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{REMINDERS_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{REMINDERS_DATABASE}"')
    from tasktracker.adapters.sqlalchemy.migrate import upgrade

    upgrade(url)
    return url


@pytest.fixture(scope="session")
def reminders_redis_url(services: LocalServices) -> str:
    parts = urlsplit(services.redis_url)
    return urlunsplit(parts._replace(path=f"/{REMINDERS_REDIS_DB}"))


@pytest.fixture(scope="session")
def reminders_redis(reminders_redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(reminders_redis_url)


@pytest.fixture
def rdb(reminders_database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(reminders_database_url, autocommit=True) as connection:
        yield connection


FAULT_TRIGGERS = """
CREATE SEQUENCE IF NOT EXISTS test_fault_attempts;
CREATE OR REPLACE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A sequence is not transactional: it counts attempts across the rollbacks the fault causes.
    IF NEW.details->>'title' LIKE 'transient-once:%' AND nextval('test_fault_attempts') = 1 THEN
        RAISE EXCEPTION 'injected: connection lost' USING ERRCODE = 'connection_failure';
    END IF;
    IF NEW.details->>'title' LIKE 'transient-always:%' THEN
        RAISE EXCEPTION 'injected: connection lost again' USING ERRCODE = 'connection_failure';
    END IF;
    IF NEW.details->>'title' LIKE 'permanent:%' THEN
        RAISE EXCEPTION 'injected: a bug';
    END IF;
    -- Once per transaction (a transaction-local flag): a batch of slow tasks holds its locks for a second.
    IF NEW.details->>'title' LIKE 'slow:%' AND current_setting('test.slept', true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config('test.slept', 'yes', true);
        PERFORM pg_sleep(1);
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER test_fault BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION test_fault();
"""


@pytest.fixture(autouse=True)
def clean_slate(reminders_database_url: str, reminders_redis: redis.Redis) -> Iterator[None]:
    """Every test starts with no users, tasks, reminders, audit events or storage changes, an empty queue, and the
    faults armed.

    The faults are database triggers that fire only for tasks whose title asks for them, so they live in
    the tests alone and fail the real transaction at the real place: after the ReminderLog rows went in.
    """
    reminders_redis.flushdb()
    with psycopg.connect(reminders_database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE users, tasks, reminder_logs, audit_events, storage_changes, notifications CASCADE")
        connection.execute("DROP SEQUENCE IF EXISTS test_fault_attempts")
        connection.execute(FAULT_TRIGGERS)
    yield


_emails = itertools.count()


@dataclass
class Seeder:
    db: psycopg.Connection[Any]

    def user(self) -> uuid.UUID:
        user_id = uuid.uuid4()
        self.db.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'not-a-hash')",
            (user_id, f"reminded-{next(_emails)}-{user_id.hex[:8]}@example.com"),
        )
        return user_id

    def task(self, owner: uuid.UUID, title: str, due_in: timedelta | None, status: str = "TODO") -> uuid.UUID:
        task_id = uuid.uuid4()
        self.db.execute(
            "INSERT INTO tasks (id, owner_id, title, status, due_date) VALUES (%s, %s, %s, %s, now() + %s)",
            (task_id, owner, title, status, due_in),
        )
        return task_id

    def many_tasks(self, owner: uuid.UUID, prefix: str, count: int, due_in: timedelta = timedelta(hours=1)) -> None:
        self.db.execute(
            "INSERT INTO tasks (id, owner_id, title, due_date)"
            " SELECT gen_random_uuid(), %s, %s || n, now() + %s + n * interval '1 second'"
            " FROM generate_series(1, %s) AS n",
            (owner, prefix, due_in, count),
        )


@pytest.fixture
def seed(rdb: psycopg.Connection[Any]) -> Seeder:
    return Seeder(rdb)


@pytest.fixture
def worker_env(
    reminders_database_url: str, reminders_redis_url: str, services: LocalServices
) -> Callable[..., dict[str, str]]:
    def environment(**overrides: str) -> dict[str, str]:
        return function_environment(
            reminders_database_url,
            reminders_redis_url,
            services.s3_endpoint_url,
            **{**WORKER_SETTINGS, "WORKER_METRICS_PORT": str(free_port()), **overrides},
        )

    return environment


@pytest.fixture
def start_worker(worker_env: Callable[..., dict[str, str]], tmp_path: Path) -> Iterator[Callable[..., CeleryProcess]]:
    started: list[CeleryProcess] = []
    names = itertools.count(1)

    def start(**env_overrides: str) -> CeleryProcess:
        name = f"worker{next(names)}"
        # Each worker its own metrics directory, kept with the test's files even if the worker is killed.
        env = worker_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / f"{name}-metrics"), **env_overrides)
        worker = CeleryProcess(name, worker_command(name), env, tmp_path / f"{name}.log")
        started.append(worker.start())
        worker.wait_for(is_ready)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def start_beat(worker_env: Callable[..., dict[str, str]], tmp_path: Path) -> Iterator[Callable[..., CeleryProcess]]:
    started: list[CeleryProcess] = []

    def start(**env_overrides: str) -> CeleryProcess:
        beat = CeleryProcess(
            "beat", beat_command(tmp_path / "celerybeat-schedule"), worker_env(**env_overrides), tmp_path / "beat.log"
        )
        started.append(beat.start())
        return beat

    yield start
    for beat in started:
        beat.stop()


@pytest.fixture
def producer(reminders_database_url: str, reminders_redis_url: str) -> Iterator[Celery]:
    """Publishes jobs the way beat does, through the same app configuration."""
    app = create_celery_app(
        Settings(environment="test", database_url=reminders_database_url, redis_url=reminders_redis_url)
    )
    yield app
    app.close()


@pytest.fixture
def publish(producer: Celery) -> Callable[[], str]:
    def send() -> str:
        return str(producer.send_task(SEND_REMINDERS_TASK).id)

    return send


def worker_metric(worker: CeleryProcess, name: str, **labels: str) -> float:
    """A sample from the worker's own /metrics endpoint, as the ops function scrapes it (0 when absent)."""
    port = worker.env["WORKER_METRICS_PORT"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


@dataclass(frozen=True)
class Reminded:
    """What a pass left in the database: reminder logs, REMINDER_SENT events and DUE_SOON notifications, per task
    (`notified`: the notifications of each task, as (user_id, title) pairs)."""

    logs: dict[uuid.UUID, int]
    events: dict[uuid.UUID, list[dict[str, Any]]]
    event_user_ids: set[uuid.UUID | None]
    notified: dict[uuid.UUID, list[tuple[uuid.UUID, str]]]


def reminded(db: psycopg.Connection[Any]) -> Reminded:
    logs = dict(
        db.execute(
            "SELECT task_id, count(*) FROM reminder_logs WHERE reminder_type = 'DUE_SOON' GROUP BY task_id"
        ).fetchall()
    )
    events: dict[uuid.UUID, list[dict[str, Any]]] = {}
    user_ids: set[uuid.UUID | None] = set()
    for task_id, user_id, details in db.execute(
        "SELECT task_id, user_id, details FROM audit_events WHERE event_type = 'REMINDER_SENT'"
    ).fetchall():
        events.setdefault(task_id, []).append(details)
        user_ids.add(user_id)
    notified: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    for task_id, user_id, title in db.execute(
        "SELECT task_id, user_id, title FROM notifications WHERE type = 'DUE_SOON'"
    ).fetchall():
        notified.setdefault(task_id, []).append((user_id, title))
    return Reminded(logs, events, user_ids, notified)


PENDING_TAGGING = "upload=pending"


class SettlerBucket:
    """The bucket the worker's storage settler works on (the session's moto S3), and the outbox beside it."""

    def __init__(self, db: psycopg.Connection[Any], endpoint_url: str, name: str):
        self.db = db
        self.name = name
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        if name not in {bucket["Name"] for bucket in self.client.list_buckets()["Buckets"]}:
            self.client.create_bucket(Bucket=name)

    def recorded_but_pending(self, seed: Seeder) -> str:
        """An attachment whose row and 'keep' committed, and whose request died before the file was kept."""
        task_id = seed.task(seed.user(), "With a file", None)
        attachment_id = uuid.uuid4()
        key = f"tasks/{task_id}/{attachment_id}"
        self.client.put_object(Bucket=self.name, Key=key, Body=b"recorded", Tagging=PENDING_TAGGING)
        self.db.execute(
            "INSERT INTO attachments (id, task_id, filename, content_type, size_bytes, storage_path)"
            " VALUES (%s, %s, 'a.txt', 'text/plain', 8, %s)",
            (attachment_id, task_id, key),
        )
        self.left_in_outbox(key, "keep")
        return key

    def deleted_but_present(self) -> str:
        """A file whose row's delete committed with its 'discard', and whose request died before deleting it."""
        key = f"tasks/{uuid.uuid4()}/{uuid.uuid4()}"
        self.client.put_object(Bucket=self.name, Key=key, Body=b"deleted")
        self.left_in_outbox(key, "discard")
        return key

    def left_in_outbox(self, key: str, action: str) -> None:
        self.db.execute(
            "INSERT INTO storage_changes (id, storage_key, action, created_at)"
            " VALUES (%s, %s, %s, now() - interval '1 minute')",
            (uuid.uuid4(), key, action),
        )

    def outbox(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT storage_key, action FROM storage_changes ORDER BY storage_key").fetchall()

    def tags(self, key: str) -> dict[str, str]:
        tag_set = self.client.get_object_tagging(Bucket=self.name, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def exists(self, key: str) -> bool:
        return bool(self.client.list_objects_v2(Bucket=self.name, Prefix=key).get("KeyCount"))


@pytest.fixture
def settler_bucket(
    rdb: psycopg.Connection[Any], services: LocalServices, worker_env: Callable[..., dict[str, str]]
) -> SettlerBucket:
    return SettlerBucket(rdb, services.s3_endpoint_url, worker_env()["S3_BUCKET"])
