"""The outbox's deliveries in containers, on the stack `make compose-test` started: the worker's reminder e-mail
reaching the mailpit service (Mailpit, or its stand-in) once, and a webhook created through the router delivered,
signed, to a receiver container the worker reaches by its service name."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.compose.run import STACK_ENVIRONMENT
from tests.compose.test_containers import create_task, eventually
from tests.support.api import Api, SignedInUser, sign_up
from tests.support.webhook_receiver import ReceivedDelivery

# Reminders run every 5 s here and the outbox is emptied at once after a pass that queued something.
DELIVERY_TIMEOUT = 90


@pytest.fixture
def api() -> Api:
    return Api(os.environ["API_BASE_URL"])


def mailbox() -> list[dict[str, Any]]:
    """Every message mailpit holds, newest first (Mailpit pages its list: the limit asks for all of them)."""
    response = requests.get(f"{os.environ['MAILPIT_API_URL']}/api/v1/messages", params={"limit": 1000}, timeout=10)
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


def sent_to(address: str, subject: str) -> list[dict[str, Any]]:
    return [
        message
        for message in mailbox()
        if message["Subject"] == subject and address in [to["Address"] for to in message["To"]]
    ]


def worker_counter(api: Api, name: str, **labels: str) -> float:
    """A counter of the worker as the router's merged /metrics shows it (what Prometheus and Grafana read)."""
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(key) == value for key, value in labels.items())
    )


def test_a_task_due_soon_gets_one_reminder_e_mail_even_after_later_passes(api: Api) -> None:
    user = sign_up(api, "mailed")
    due = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    first = create_task(api, user, title=f"Mailed {uuid.uuid4().hex[:8]}", due_date=due)

    [message] = eventually(
        lambda: sent_to(user.email, f"Due soon: {first['title']}"), DELIVERY_TIMEOUT, "the reminder e-mail in mailpit"
    )

    detail = requests.get(f"{os.environ['MAILPIT_API_URL']}/api/v1/message/{message['ID']}", timeout=10)
    detail.raise_for_status()
    text = detail.json()["Text"]
    assert f"Task: {first['title']}" in text
    # Its link leads to the SPA the browser reaches through the router.
    assert f"{STACK_ENVIRONMENT['APP_BASE_URL']}/tasks/{first['id']}" in text
    assert message["From"]["Address"] == "reminders@tasktracker.localhost"
    assert message["MessageID"].endswith("@tasktracker")
    # A task that falls due later is reminded by a later pass: once its e-mail is in, that pass has run, and the
    # first task's reminder is still the one e-mail it got.
    second = create_task(api, user, title=f"Mailed later {uuid.uuid4().hex[:8]}", due_date=due)
    eventually(lambda: sent_to(user.email, f"Due soon: {second['title']}"), DELIVERY_TIMEOUT, "the later pass's e-mail")
    assert [found["ID"] for found in sent_to(user.email, f"Due soon: {first['title']}")] == [message["ID"]]
    assert worker_counter(api, "emails_sent_total") >= 2


def deliveries(api: Api, user: SignedInUser, webhook_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/webhooks/{webhook_id}/deliveries", token=user.access_token)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def received(path: str) -> list[ReceivedDelivery]:
    response = requests.get(f"{os.environ['WEBHOOK_RECEIVER_API_URL']}/received", timeout=10)
    response.raise_for_status()
    return [ReceivedDelivery.from_json(item) for item in response.json() if item["path"] == path]


def test_a_webhook_created_through_the_router_is_delivered_signed_to_another_container(api: Api) -> None:
    user = sign_up(api, "hooked")
    path = f"/hooks/{uuid.uuid4().hex}"
    # The receiver's address is a private one of the containers' network: the stack allows such targets, as a
    # development stack does, at creation and at delivery alike.
    created = api.post(
        "/api/v1/webhooks",
        token=user.access_token,
        json={"url": f"http://webhook-receiver:8080{path}", "events": ["task.created"]},
    )
    assert created.status_code == 201, created.text
    webhook = created.json()

    task = create_task(api, user)

    [delivery] = eventually(
        lambda: [item for item in deliveries(api, user, webhook["id"]) if item["status"] == "delivered"],
        DELIVERY_TIMEOUT,
        "the delivery listed as delivered",
    )
    assert (delivery["event"], delivery["attempts"], delivery["last_response_code"]) == ("task.created", 1, 200)
    [request] = received(path)
    assert request.delivery_id == delivery["id"]
    assert request.headers["x-tasktracker-event"] == "task.created"
    assert request.signed_with(webhook["secret"])
    assert not request.signed_with("whsec_someone-elses")
    assert request.json["type"] == "task.created"
    assert request.json["data"]["id"] == task["id"]
    assert worker_counter(api, "webhook_deliveries_total", status="delivered") >= 1
