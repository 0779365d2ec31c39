"""The outbox's delivery job in a real Celery worker: a reminder reaches the owner's mailbox (a real SMTP server)
and webhook (a real HTTP receiver) once, right after the pass that queued it; and a worker killed after the SMTP
server accepted the e-mail but before the commit leaves it to be sent again with the same Message-ID, so the
mailbox keeps one and the owner has one notification."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery import Celery

from local.mail_sink import MailSink, StoredMessage
from tasktracker.adapters.celery.app import DELIVER_OUTBOX_TASK, SEND_REMINDERS_TASK
from tasktracker.application.outbox import message_id
from tests.support.webhook_receiver import WebhookReceiver

from .conftest import Seeder, reminded, worker_metric
from .processes import CeleryProcess

SECRET = "whsec_test-secret"


def subscribe(db: psycopg.Connection[Any], owner: uuid.UUID, url: str) -> uuid.UUID:
    webhook_id = uuid.uuid4()
    db.execute(
        "INSERT INTO webhooks (id, user_id, url, events, secret) VALUES (%s, %s, %s, ARRAY['reminder.sent'], %s)",
        (webhook_id, owner, url, SECRET),
    )
    return webhook_id


def outbox(db: psycopg.Connection[Any]) -> list[tuple[str, str, int]]:
    rows = db.execute("SELECT channel, status, attempts FROM outbox_messages ORDER BY channel").fetchall()
    return [(channel, status, attempts) for channel, status, attempts in rows]


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def delivery_run_succeeded(record: dict[str, Any]) -> bool:
    """Celery's own line for a finished job."""
    said = str(record.get("message"))
    return DELIVER_OUTBOX_TASK in said and "succeeded" in said


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail") as sink:
        yield sink


def test_the_pass_starts_a_delivery_that_reaches_the_mailbox_and_the_webhook_once(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    mail: MailSink,
    start_worker: Callable[..., CeleryProcess],
    producer: Celery,
) -> None:
    owner = seed.user()
    task_id = seed.task(owner, "Pay the rent", timedelta(hours=2))
    with WebhookReceiver() as receiver:
        subscribe(rdb, owner, receiver.url)
        worker = start_worker(SMTP_URL=f"smtp://127.0.0.1:{mail.smtp_port}", WEBHOOK_ALLOW_PRIVATE_TARGETS="true")

        producer.send_task(SEND_REMINDERS_TASK)
        wait_until(lambda: len(receiver.received) == 1 and len(mail.receipts()) == 1)
        producer.send_task(SEND_REMINDERS_TASK)
        worker.wait_for(lambda record: record.get("message") == "reminder pass finished" and record.get("sent") == 0)
        producer.send_task(DELIVER_OUTBOX_TASK)
        time.sleep(1)

        [delivery] = receiver.received
        assert delivery.signed_with(SECRET) and delivery.json["data"]["id"] == str(task_id)
        [kept] = mail.messages()
        assert kept.subject == "Due soon: Pay the rent" and len(mail.receipts()) == 1
        wait_until(lambda: outbox(rdb) == [("email", "delivered", 1), ("webhook", "delivered", 1)])
        assert reminded(rdb).notified == {task_id: [(owner, "Pay the rent")]}
        wait_until(lambda: worker_metric(worker, "emails_sent_total") == 1)
        assert worker_metric(worker, "webhook_deliveries_total", status="delivered") == 1
        assert worker_metric(worker, "emails_failed_total") == 0
        assert worker_metric(worker, "notifications_created_total", type="DUE_SOON") == 1
        assert worker_metric(worker, "outbox_delivery_latency_seconds_count") == 2


def test_a_worker_killed_between_the_smtp_answer_and_its_commit_resends_the_same_message_id(
    seed: Seeder,
    rdb: psycopg.Connection[Any],
    tmp_path: Path,
    start_worker: Callable[..., CeleryProcess],
    producer: Celery,
) -> None:
    stored, release = threading.Event(), threading.Event()

    def hold_the_answer(_: StoredMessage) -> None:
        stored.set()
        release.wait(60)

    owner = seed.user()
    task_id = seed.task(owner, "Renew the passport", timedelta(hours=5))
    with MailSink(tmp_path / "held-mail", on_stored=hold_the_answer) as mail:
        settings = {"SMTP_URL": f"smtp://127.0.0.1:{mail.smtp_port}", "OUTBOX_LEASE_SECONDS": "12"}
        first = start_worker(**settings)
        producer.send_task(SEND_REMINDERS_TASK)
        try:
            assert stored.wait(30), "the worker never handed the e-mail over"
            # The server has the message; the worker, main process and pool alike, dies before hearing so.
            first.kill_everything()
        finally:
            release.set()
        assert outbox(rdb) == [("email", "pending", 1)]

        second = start_worker(**settings)
        # Within its lease the message is left alone: the dead worker might still have been sending it.
        producer.send_task(DELIVER_OUTBOX_TASK)
        second.wait_for(
            lambda record: "deliver_outbox" in str(record.get("message")) and "succeeded" in str(record.get("message"))
        )
        assert outbox(rdb) == [("email", "pending", 1)]
        lease_end = rdb.execute("SELECT next_attempt_at FROM outbox_messages").fetchone()[0]  # type: ignore[index]
        time.sleep(max((lease_end - rdb.execute("SELECT now()").fetchone()[0]).total_seconds(), 0) + 0.5)  # type: ignore[index]
        producer.send_task(DELIVER_OUTBOX_TASK)
        wait_until(lambda: outbox(rdb) == [("email", "delivered", 2)])

        receipts = mail.receipts()
        [row_id] = rdb.execute("SELECT id FROM outbox_messages").fetchone()  # type: ignore[misc]
        assert [f"<{receipt.message_id}>" for receipt in receipts] == [message_id(row_id)] * 2
        assert len(mail.messages()) == 1
    assert reminded(rdb).logs == {task_id: 1}
    assert reminded(rdb).notified == {task_id: [(owner, "Renew the passport")]}
