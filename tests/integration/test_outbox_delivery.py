"""The outbox against PostgreSQL, a real SMTP server and a real HTTP receiver on loopback: one reminder reaches
the app, the mailbox and a webhook once; failing receivers are retried with the same delivery id and given up
on; a sender killed between the SMTP answer and its commit resends the same Message-ID, and the mailbox keeps one;
concurrent runs never send a message twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from local.mail_sink import MailSink, StoredMessage
from tasktracker.application.clock import SystemClock
from tasktracker.application.outbox import message_id
from tasktracker.application.tasks import TaskUseCases
from tasktracker.bootstrap.notifications import webhook_use_cases
from tasktracker.bootstrap.reminders import deliver_outbox, send_reminders
from tasktracker.config import Settings
from tasktracker.domain.enums import WebhookEventType
from tests.support.webhook_receiver import WebhookReceiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail") as sink:
        yield sink


@pytest.fixture
def settings(clean_db: str, mail: MailSink) -> Settings:
    return Settings(
        environment="test",
        database_url=clean_db,
        rate_limit_enabled=False,
        smtp_url=f"smtp://127.0.0.1:{mail.smtp_port}",
        webhook_allow_private_targets=True,
        webhook_timeout_seconds=2,
        outbox_retry_base_seconds=0,
        app_base_url="http://127.0.0.1:8000",
    )


def add_user(database_url: str, name: str) -> tuple[uuid.UUID, str]:
    user_id, email = uuid.uuid4(), f"{name}-{uuid.uuid4().hex[:8]}@example.com"
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'not-a-hash')", (user_id, email)
        )
    return user_id, email


def due_task(settings: Settings, owner_id: uuid.UUID, title: str, hours: float = 3) -> uuid.UUID:
    tasks = TaskUseCases(uow=_uow(settings), clock=SystemClock())
    view = tasks.create(owner_id, title=title, due_date=datetime.now(UTC) + timedelta(hours=hours))
    return view.task.id


def _uow(settings: Settings) -> Any:
    from tasktracker.bootstrap import unit_of_work_factory

    return unit_of_work_factory(settings)


def outbox_rows(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as connection:
        return connection.execute("SELECT * FROM outbox_messages ORDER BY created_at, channel, id").fetchall()


def test_one_reminder_reaches_the_app_the_mailbox_and_a_webhook_exactly_once(
    settings: Settings, mail: MailSink
) -> None:
    ada, ada_email = add_user(settings.database_url, "ada")
    with WebhookReceiver() as receiver:
        hook = webhook_use_cases(settings).create(ada, receiver.url, [WebhookEventType.REMINDER_SENT])
        task_id = due_task(settings, ada, "Send the invoices")

        first, again = send_reminders(settings).run_pass(), send_reminders(settings).run_pass()
        delivered = deliver_outbox(settings).run()
        nothing_left = deliver_outbox(settings).run()

    assert (first.sent, first.emails_queued, first.webhook_events_queued) == (1, 1, 1)
    assert (again.sent, again.emails_queued, again.webhook_events_queued) == (0, 0, 0)
    assert (delivered.emails_sent, delivered.webhooks_delivered, delivered.emails_failed) == (1, 1, 0)
    assert (nothing_left.emails_sent, nothing_left.webhooks_delivered) == (0, 0)
    rows = outbox_rows(settings.database_url)
    assert [(row["channel"], row["status"], row["attempts"]) for row in rows] == [
        ("email", "delivered", 1),
        ("webhook", "delivered", 1),
    ]
    email_row = next(row for row in rows if row["channel"] == "email")

    [kept] = mail.messages()
    assert f"<{kept.message_id}>" == message_id(email_row["id"])
    assert kept.to == (ada_email,) and kept.subject == "Due soon: Send the invoices"
    assert "due within 24 hours" in kept.text and f"http://127.0.0.1:8000/tasks/{task_id}" in kept.text
    assert kept.parsed()["Auto-Submitted"] == "auto-generated"
    assert len(mail.receipts()) == 1

    [post] = receiver.received
    assert post.signed_with(hook.secret)
    assert post.headers["x-tasktracker-event"] == "reminder.sent"
    assert post.headers["content-type"] == "application/json"
    body = post.json
    assert set(body) == {"id", "type", "occurred_at", "data"}
    assert body["type"] == "reminder.sent" and body["data"]["id"] == str(task_id)
    assert body["data"]["title"] == "Send the invoices" and body["data"]["reminder_type"] == "DUE_SOON"

    with psycopg.connect(settings.database_url) as connection:
        notified = connection.execute("SELECT count(*) FROM notifications WHERE task_id = %s", (task_id,)).fetchone()
    assert notified == (1,)


def test_a_failing_receiver_is_tried_again_with_the_same_delivery_and_body(settings: Settings) -> None:
    ada, _ = add_user(settings.database_url, "ada")
    with WebhookReceiver([503, 200]) as receiver:
        hook = webhook_use_cases(settings).create(ada, receiver.url, [WebhookEventType.TASK_CREATED])
        due_task(settings, ada, "Draft the plan")

        failed = deliver_outbox(settings).run()
        retried = deliver_outbox(settings).run()

    assert (failed.webhooks_failed, failed.webhooks_given_up, retried.webhooks_delivered) == (1, 0, 1)
    first, second = receiver.received
    assert first.delivery_id == second.delivery_id and first.body == second.body
    assert first.signed_with(hook.secret) and second.signed_with(hook.secret)
    [row] = outbox_rows(settings.database_url)
    assert (row["status"], row["attempts"], row["last_response_code"], row["last_error"]) == ("delivered", 2, 200, None)


@pytest.mark.parametrize(
    ("statuses", "max_attempts", "attempts", "code"),
    [([410], 8, 1, 410), ([500], 3, 3, 500), ([302], 8, 1, 302)],
    ids=["gone is final", "attempts used up", "a redirect is not followed"],
)
def test_a_receiver_that_keeps_refusing_is_given_up(
    settings: Settings, statuses: list[int], max_attempts: int, attempts: int, code: int
) -> None:
    settings = replace(settings, outbox_max_attempts=max_attempts)
    ada, _ = add_user(settings.database_url, "ada")
    with WebhookReceiver(statuses) as receiver:
        webhook_use_cases(settings).create(ada, receiver.url, [WebhookEventType.TASK_CREATED])
        due_task(settings, ada, "Draft the plan")
        for _ in range(max_attempts + 1):
            deliver_outbox(settings).run()

    [row] = outbox_rows(settings.database_url)
    assert (row["status"], row["attempts"], row["last_response_code"]) == ("failed", attempts, code)
    assert len(receiver.received) == attempts


def test_backoff_keeps_a_failed_message_back_until_its_time(settings: Settings) -> None:
    settings = replace(settings, outbox_retry_base_seconds=60)
    ada, _ = add_user(settings.database_url, "ada")
    with WebhookReceiver([500, 200]) as receiver:
        webhook_use_cases(settings).create(ada, receiver.url, [WebhookEventType.TASK_CREATED])
        due_task(settings, ada, "Draft the plan")
        deliver_outbox(settings).run()
        deliver_outbox(settings).run()

    assert len(receiver.received) == 1
    [row] = outbox_rows(settings.database_url)
    wait = (row["next_attempt_at"] - row["last_attempt_at"]).total_seconds()
    # The first retry waits half the base to the whole of it (equal jitter).
    assert row["status"] == "pending" and 30 <= wait <= 60


def test_an_unreachable_mail_server_is_retried_not_lost(settings: Settings) -> None:
    settings = replace(settings, smtp_url="smtp://127.0.0.1:1")
    ada, _ = add_user(settings.database_url, "ada")
    due_task(settings, ada, "Send the invoices")
    send_reminders(settings).run_pass()

    report = deliver_outbox(settings).run()

    assert (report.emails_failed, report.emails_given_up) == (1, 0)
    [row] = outbox_rows(settings.database_url)
    assert (row["status"], row["attempts"]) == ("pending", 1) and row["last_error"]


def test_a_sender_killed_after_the_smtp_answer_resends_the_same_message_id_and_the_mailbox_keeps_one(
    settings: Settings, tmp_path: Path
) -> None:
    stored = threading.Event()
    release = threading.Event()

    def hold_the_answer(_: StoredMessage) -> None:
        stored.set()
        release.wait(30)

    lease = 3
    with MailSink(tmp_path / "held-mail", on_stored=hold_the_answer) as mail:
        settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{mail.smtp_port}")
        ada, _ = add_user(settings.database_url, "ada")
        task_id = due_task(settings, ada, "Renew the lease")
        send_reminders(settings).run_pass()
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers'}",
            "APP_ENV": "test",
            "JWT_SECRET_KEY": "test-only-secret-that-is-long-enough-for-hs256",
            "DATABASE_URL": settings.database_url,
            "RATE_LIMIT_ENABLED": "false",
            "SMTP_URL": settings.smtp_url,
            "WEBHOOK_TIMEOUT_SECONDS": "1",
            "OUTBOX_LEASE_SECONDS": str(lease),
        }
        sender = subprocess.Popen(
            [sys.executable, "-m", "functions.reminders.cli", "deliver"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert stored.wait(30), "the sender never handed the e-mail over"
            # The server has the message; the sender dies before hearing so, and before recording it.
            sender.send_signal(signal.SIGKILL)
            sender.wait(10)
        finally:
            release.set()
            if sender.poll() is None:
                sender.kill()

        [row] = outbox_rows(settings.database_url)
        assert (row["status"], row["attempts"]) == ("pending", 1)
        # Within its lease the message is left alone: the dead sender might still have been at it.
        assert deliver_outbox(settings).run().emails_sent == 0
        time.sleep(max((row["next_attempt_at"] - datetime.now(UTC)).total_seconds(), 0) + 0.2)
        resent = deliver_outbox(settings).run()

        assert resent.emails_sent == 1
        [row] = outbox_rows(settings.database_url)
        assert (row["status"], row["attempts"]) == ("delivered", 2)
        receipts = mail.receipts()
        assert len(receipts) == 2 and receipts[0].message_id == receipts[1].message_id
        assert f"<{receipts[0].message_id}>" == message_id(row["id"])
        assert len(mail.messages()) == 1
    with psycopg.connect(settings.database_url) as connection:
        notified = connection.execute("SELECT count(*) FROM notifications WHERE task_id = %s", (task_id,)).fetchone()
    assert notified == (1,)


def test_concurrent_runs_deliver_each_message_once(settings: Settings) -> None:
    ada, _ = add_user(settings.database_url, "ada")
    events = 240
    with WebhookReceiver() as receiver:
        webhook_use_cases(settings).create(ada, receiver.url, [WebhookEventType.TASK_CREATED])
        with psycopg.connect(settings.database_url, autocommit=True) as connection:
            connection.execute(
                "INSERT INTO outbox_messages (id, channel, user_id, webhook_id, event_type, payload)"
                " SELECT gen_random_uuid(), 'webhook', w.user_id, w.id, 'task.created',"
                " jsonb_build_object('id', gen_random_uuid(), 'type', 'task.created', 'n', n)"
                " FROM webhooks w, generate_series(1, %s) n",
                (events,),
            )
        runs = [replace(settings, outbox_batch_size=25) for _ in range(4)]
        started = time.perf_counter()
        threads = [threading.Thread(target=deliver_outbox(run).run) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        seconds = time.perf_counter() - started

    per_delivery = Counter(delivery.delivery_id for delivery in receiver.received)
    assert len(per_delivery) == events and set(per_delivery.values()) == {1}
    assert {row["status"] for row in outbox_rows(settings.database_url)} == {"delivered"}
    print(f"{events} webhook deliveries by 4 concurrent runs in {seconds:.2f} s: {events / seconds:.0f}/s")
