"""The outbox on Lambda: the reminders function's schedules send what a reminder pass or a task change queued,
from the built function under the emulator to real servers on loopback (a webhook receiver, an SMTP server)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from functions.reminders.app import DELIVER_OUTBOX_EVENT
from local.lambda_runtime import Emulator, function_emulator, lambda_environment
from local.mail_sink import MailSink
from tests.support.api import sign_up
from tests.support.lambda_api import LambdaApi
from tests.support.stack import ROOT
from tests.support.webhook_receiver import WebhookReceiver

EVENTS = ROOT / "tests" / "fixtures" / "aws-events"


def deliveries(api: LambdaApi, token: str, webhook_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/webhooks/{webhook_id}/deliveries", token=token)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_outbox_schedule_delivers_a_queued_webhook_signed_to_its_receiver(
    api: LambdaApi, emulators: dict[str, Emulator]
) -> None:
    user = sign_up(api, "hooked")
    with WebhookReceiver() as receiver:
        created = api.post(
            "/api/v1/webhooks", token=user.access_token, json={"url": receiver.url, "events": ["task.created"]}
        )
        assert created.status_code == 201, created.text
        webhook = created.json()
        task = api.post("/api/v1/tasks", token=user.access_token, json={"title": "Announced on Lambda"}).json()
        [queued] = deliveries(api, user.access_token, webhook["id"])
        assert (queued["status"], queued["attempts"]) == ("pending", 0)

        # What the template's rule sends every minute.
        report = emulators["reminders"].invoke(DELIVER_OUTBOX_EVENT).result

    assert report["webhooks_delivered"] >= 1, report
    [request] = [request for request in receiver.received if request.delivery_id == queued["id"]]
    assert request.headers["x-tasktracker-event"] == "task.created"
    assert request.signed_with(webhook["secret"])
    assert request.json["data"]["id"] == task["id"]
    [delivered] = deliveries(api, user.access_token, webhook["id"])
    assert (delivered["status"], delivered["attempts"], delivered["last_response_code"]) == ("delivered", 1, 200)


def test_the_reminder_schedule_queues_one_e_mail_and_the_outbox_schedule_sends_it_once(
    api: LambdaApi, db: psycopg.Connection, lambda_values: dict[str, str], tmp_path: Path
) -> None:
    user = sign_up(api, "mailed")
    title = f"Mailed from Lambda {uuid.uuid4().hex[:8]}"
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    task = api.post("/api/v1/tasks", token=user.access_token, json={"title": title, "due_date": due}).json()
    scheduled = json.loads((EVENTS / "eventbridge-scheduled.json").read_text())

    with MailSink(tmp_path / "mail") as sink:
        # The session's reminders function has no SMTP server (the template's default): this one has the sink.
        env = lambda_environment(
            "reminders",
            lambda_values,
            SMTP_URL=f"smtp://127.0.0.1:{sink.smtp_port}",
            APP_BASE_URL="https://tasks.example.com",
        )
        reminders = function_emulator("reminders", env, tmp_path).start()
        try:
            runs = []
            for _ in range(2):
                reminded = reminders.invoke({**scheduled, "id": str(uuid.uuid4())}).result
                runs.append((reminded, reminders.invoke(DELIVER_OUTBOX_EVENT).result))
        finally:
            reminders.stop()
        mine = [message for message in sink.messages() if message.to == (user.email,)]
        receipts = [receipt for receipt in sink.receipts() if receipt.to == (user.email,)]

    (first_pass, first_delivery), _ = runs
    assert first_pass["emails_queued"] >= 1 and first_delivery["emails_sent"] >= 1, runs
    # Two passes and two delivery runs: the task was reminded once, so one e-mail, received once.
    assert [message.subject for message in mine] == [f"Due soon: {title}"]
    assert len(receipts) == 1
    text = mine[0].text
    assert f"https://tasks.example.com/tasks/{task['id']}" in text
    assert mine[0].sender == "reminders@tasktracker.localhost"
    sent = db.execute(
        "SELECT status, attempts FROM outbox_messages WHERE channel = 'email' AND task_id = %s", (task["id"],)
    ).fetchall()
    assert sent == [("delivered", 1)]
