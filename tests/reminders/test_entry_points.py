"""The other ways in: the Lambda handler (scheduled and HTTP events), the CLI, and GET /api/v1/reminders."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from local.services import LocalServices
from tasktracker.routes import load_routes
from tests.support.api import Api, assert_error, sign_up
from tests.support.stack import ROOT, RunningStack, function_environment, start_stack
from tests.support.webhook_receiver import WebhookReceiver

from .conftest import Seeder, SettlerBucket, reminded
from .processes import CeleryProcess, finished

EVENTS = ROOT / "tests" / "fixtures" / "aws-events"


@pytest.fixture
def lambda_environment(worker_env: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    env = worker_env()
    for name in (
        "APP_ENV",
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET_KEY",
        "LOG_LEVEL",
        "REMINDER_BATCH_SIZE",
        "S3_ENDPOINT_URL",
        "S3_BUCKET",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.setenv(name, env[name])
    from tasktracker.config import settings

    settings.cache_clear()
    yield
    settings.cache_clear()


def database_outcome(db: psycopg.Connection[Any]) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, list[dict[str, Any]]]]:
    """Reminder logs and REMINDER_SENT details per task, without the run's own correlation id."""
    state = reminded(db)
    assert state.event_user_ids <= {None}
    events = {
        task_id: [{key: value for key, value in details.items() if key != "correlation_id"} for details in events]
        for task_id, events in state.events.items()
    }
    return state.logs, events


def test_the_lambda_handler_given_the_scheduled_event_does_what_the_celery_job_does(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    start_worker: Callable[..., CeleryProcess],
    publish: Callable[[], str],
    lambda_environment: None,
) -> None:
    from functions.reminders.app import handler

    owner = seed.user()
    seed.many_tasks(owner, "Due ", 120)
    seed.task(owner, "Done", timedelta(hours=1), status="DONE")
    seed.task(owner, "Overdue", timedelta(hours=-2))
    worker = start_worker()
    by_celery = worker.wait_for(finished(publish()))
    celery_outcome = database_outcome(rdb)
    celery_notified = reminded(rdb).notified
    rdb.execute("TRUNCATE reminder_logs, audit_events, notifications")
    event = json.loads((EVENTS / "eventbridge-scheduled.json").read_text())

    by_lambda = handler(event, None)

    assert (by_lambda["sent"], by_lambda["batches"]) == (by_celery["sent"], by_celery["batches"]) == (120, 3)
    assert database_outcome(rdb) == celery_outcome
    assert by_lambda["notifications"] == by_celery["notifications"] == {"DUE_SOON": 120}
    assert reminded(rdb).notified == celery_notified
    # The EventBridge event id is the run's correlation id, as the task id is for a Celery run.
    assert by_lambda["correlation_id"] == event["id"]
    assert {events[0]["correlation_id"] for events in reminded(rdb).events.values()} == {event["id"]}
    assert json.loads(json.dumps(by_lambda)) == by_lambda


def test_the_lambda_handler_given_the_settlers_event_settles_the_storage_outbox(
    seed: Seeder, rdb: psycopg.Connection[Any], settler_bucket: SettlerBucket, lambda_environment: None
) -> None:
    from functions.reminders.app import SETTLE_STORAGE_EVENT, handler

    recorded = settler_bucket.recorded_but_pending(seed)
    deleted = settler_bucket.deleted_but_present()

    result = handler(dict(SETTLE_STORAGE_EVENT), None)

    assert (result["settled"], result["failed"], result["abandoned"]) == (2, 0, 0)
    assert json.loads(json.dumps(result)) == result
    assert settler_bucket.outbox() == []
    assert settler_bucket.tags(recorded) == {}
    assert not settler_bucket.exists(deleted)
    # Nothing reminded: the settler's event is not the reminder schedule's.
    assert reminded(rdb).logs == {}


def test_the_lambda_handler_given_the_outboxs_event_delivers_what_is_due(
    seed: Seeder, rdb: psycopg.Connection[Any], lambda_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.reminders.app import DELIVER_OUTBOX_EVENT, handler
    from tasktracker.config import settings

    owner = seed.user()
    task_id = seed.task(owner, "Due on Lambda", timedelta(hours=2))
    with WebhookReceiver() as receiver:
        rdb.execute(
            "INSERT INTO webhooks (id, user_id, url, events, secret) VALUES (%s, %s, %s, ARRAY['reminder.sent'], 's')",
            (uuid.uuid4(), owner, receiver.url),
        )
        monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        settings.cache_clear()
        handler(json.loads((EVENTS / "eventbridge-scheduled.json").read_text()), None)

        result = handler(dict(DELIVER_OUTBOX_EVENT), None)

        assert (result["webhooks_delivered"], result["webhooks_failed"], result["emails_sent"]) == (1, 0, 0)
        assert json.loads(json.dumps(result)) == result
        [delivery] = receiver.received
        assert delivery.signed_with("s") and delivery.json["data"]["id"] == str(task_id)


def test_the_lambda_handler_sends_any_other_event_to_the_http_api(lambda_environment: None) -> None:
    from functions.reminders.app import handler

    event = json.loads((EVENTS / "apigw-http-v2.json").read_text())
    event.update(routeKey="GET /api/v1/reminders", rawPath="/api/v1/reminders", body=None)
    event["requestContext"]["http"].update(method="GET", path="/api/v1/reminders")
    del event["headers"]["content-length"]

    result = handler(event, None)

    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_the_cli_runs_one_pass_now_and_says_what_it_did(
    seed: Seeder, rdb: psycopg.Connection[Any], worker_env: Callable[..., dict[str, str]]
) -> None:
    owner = seed.user()
    seed.task(owner, "Call the plumber", timedelta(hours=2))
    seed.task(owner, "Pay the rent", timedelta(hours=4))

    result = subprocess.run(
        [sys.executable, "-m", "functions.reminders.cli", "run"],
        cwd=ROOT,
        env=worker_env(LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    said = re.fullmatch(
        r"Sent 2 reminders in 1 batch in \d+\.\d{3} s, notifying 2 owners in the app;"
        r" queued 0 e-mails and 0 webhook deliveries \(correlation id ([0-9a-f]{32})\)\n",
        result.stdout,
    )
    assert said, result.stdout
    assert {events[0]["correlation_id"] for events in reminded(rdb).events.values()} == {said[1]}
    assert {task_id: len(notified) for task_id, notified in reminded(rdb).notified.items()} == dict.fromkeys(
        reminded(rdb).logs, 1
    )


def test_the_cli_settles_the_storage_outbox_now_and_says_what_it_did(
    seed: Seeder, settler_bucket: SettlerBucket, worker_env: Callable[..., dict[str, str]]
) -> None:
    recorded = settler_bucket.recorded_but_pending(seed)
    settler_bucket.db.execute("UPDATE storage_changes SET created_at = now()")

    def settle(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "functions.reminders.cli", "settle-storage", *arguments],
            cwd=ROOT,
            env=worker_env(LOG_LEVEL="WARNING"),
            capture_output=True,
            text=True,
            timeout=60,
        )

    # Younger than the default grace: left to the request that wrote it.
    waited = settle()
    forced = settle("--grace", "0")

    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.startswith("Settled 0 storage changes, 0 failed, 0 left to expire, in ")
    assert forced.returncode == 0, forced.stderr
    said = re.fullmatch(
        r"Settled 1 storage change, 0 failed, 0 left to expire, in \d+\.\d{3} s \(correlation id ([0-9a-f]{32})\)\n",
        forced.stdout,
    )
    assert said, forced.stdout
    assert settler_bucket.outbox() == []
    assert settler_bucket.tags(recorded) == {}
    assert settle("--grace", "-1").returncode == 2


@pytest.fixture(scope="session")
def reminders_stack(
    services: LocalServices,
    reminders_database_url: str,
    reminders_redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningStack]:
    """auth and reminders behind the router, on the reminder tests' own database."""
    routes = [route for route in load_routes() if route.name in ("auth", "reminders")]
    env = function_environment(reminders_database_url, reminders_redis_url, services.s3_endpoint_url)
    running = start_stack(env, Path(tmp_path_factory.mktemp("reminders-stack")), routes)
    yield running
    running.stop()


def test_signed_in_users_list_recent_reminders_newest_first_a_page_at_a_time(
    reminders_stack: RunningStack, seed: Seeder, rdb: psycopg.Connection[Any]
) -> None:
    api = Api(reminders_stack.base_url)
    user = sign_up(api, "reminded")
    tasks = [seed.task(uuid.UUID(user.id), f"Errand {n}", timedelta(hours=n + 1)) for n in range(3)]
    for minutes_ago, task_id in zip((30, 20, 10), tasks, strict=True):
        rdb.execute(
            "INSERT INTO reminder_logs (task_id, reminder_type, sent_at) VALUES (%s, 'DUE_SOON', now() - %s)",
            (task_id, timedelta(minutes=minutes_ago)),
        )

    first = api.get("/api/v1/reminders", params={"page_size": 2}, token=user.access_token)
    second = api.get("/api/v1/reminders", params={"page_size": 2, "page": 2}, token=user.access_token)

    assert first.status_code == second.status_code == 200, first.text
    assert (first.json()["total"], first.json()["page"], first.json()["page_size"]) == (3, 1, 2)
    assert [item["title"] for item in first.json()["items"] + second.json()["items"]] == [
        "Errand 2",
        "Errand 1",
        "Errand 0",
    ]
    newest = first.json()["items"][0]
    assert set(newest) == {"task_id", "reminder_type", "sent_at", "title", "due_date"}
    assert (newest["task_id"], newest["reminder_type"]) == (str(tasks[2]), "DUE_SOON")
    assert_error(api.get("/api/v1/reminders"), 401, "AUTHENTICATION_REQUIRED")
    assert_error(api.get("/api/v1/reminders", params={"page_size": 101}, token=user.access_token), 400)
