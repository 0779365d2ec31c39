"""Reaching people beyond the app: what is queued in the outbox, and the delivery run that empties it.

A change of a user's task queues a webhook event for each of their webhooks subscribed to it, in the change's
own transaction; the reminder pass queues, in its claim's, an e-mail to the owner and a reminder.sent event. So a
message exists exactly when what it tells of committed. A delivery run claims due messages with a lease (one more
attempt counted, not due again until the lease ends), sends them, and records each outcome: delivered, tried
again after an exponential backoff with jitter, or given up after too many attempts or a permanent refusal. A run
that dies after sending and before recording leaves the message to be sent again after its lease, with the same
Message-ID (e-mail) or delivery id (webhook), so the receiver can tell it is the same message: at least once, and
recognisably once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from time import perf_counter
from typing import Any
from uuid import UUID

from tasktracker.domain.entities import Attachment, Task, new_id
from tasktracker.domain.enums import DeliveryChannel, WebhookEventType

from .audit_trail import json_safe
from .context import new_correlation_id, set_correlation_id
from .ports import (
    Clock,
    DeliveryFailed,
    DeliveryOutcome,
    EmailSender,
    OutboxMessage,
    OutgoingEmail,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookEvent,
    WebhookRequest,
    WebhookSender,
)

logger = logging.getLogger(__name__)

EVENT_HEADER = "X-TaskTracker-Event"
DELIVERY_HEADER = "X-TaskTracker-Delivery"
SIGNATURE_HEADER = "X-TaskTracker-Signature"
# What a message keeps of the error that stopped its last attempt.
MAX_ERROR_LENGTH = 300
MESSAGE_ID_DOMAIN = "tasktracker"


def task_data(task: Task) -> dict[str, Any]:
    """A task as webhooks receive it: the fields the API answers with."""
    data: dict[str, Any] = json_safe(
        {
            "id": task.id,
            "title": task.title,
            "description": task.description,
            "status": task.status,
            "priority": task.priority,
            "due_date": task.due_date,
            "tags": list(task.tags),
            "owner_id": task.owner_id,
            "created_at": task.created_at,
            "updated_at": task.updated_at,
            "version": task.version,
        }
    )
    return data


def attachment_data(attachment: Attachment) -> dict[str, Any]:
    """An attachment as webhooks receive it, with its task's id; never where its file is stored."""
    data: dict[str, Any] = json_safe(
        {
            "id": attachment.id,
            "task_id": attachment.task_id,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
            "created_at": attachment.created_at,
        }
    )
    return data


def announce_task(uow: UnitOfWork, event_type: WebhookEventType, task: Task, now: datetime) -> None:
    """Queues the event of a change of `task` for its owner's webhooks, in the change's transaction."""
    uow.outbox.announce(
        task.owner_id,
        WebhookEvent(id=new_id(), type=event_type, occurred_at=now, data=task_data(task), task_id=task.id),
    )


def announce_attachment(
    uow: UnitOfWork, event_type: WebhookEventType, owner_id: UUID, attachment: Attachment, now: datetime
) -> None:
    uow.outbox.announce(
        owner_id,
        WebhookEvent(
            id=new_id(), type=event_type, occurred_at=now, data=attachment_data(attachment), task_id=attachment.task_id
        ),
    )


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed, the same on every attempt: the signature is over them."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """The X-TaskTracker-Signature value: the receiver computes the same HMAC over the raw body with its secret
    and compares in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def message_id(outbox_id: UUID) -> str:
    """Derived from the outbox row, so that a resend of the same message carries the same Message-ID."""
    return f"<{outbox_id}@{MESSAGE_ID_DOMAIN}>"


def reminder_email(message: OutboxMessage, sender: str, app_base_url: str) -> OutgoingEmail:
    payload = message.payload
    title = str(payload["title"])
    lines = [f"{payload['message']}", "", f"Task: {title}", f"Due: {payload['due_date']}"]
    if app_base_url:
        lines.append(f"Open it: {app_base_url}/tasks/{payload['task_id']}")
    lines += ["", "You get this because e-mail reminders are on. Turn them off under Notifications in Task Tracker."]
    return OutgoingEmail(
        message_id=message_id(message.id),
        sender=sender,
        to=str(payload["to"]),
        subject=f"Due soon: {title}",
        text="\n".join(lines) + "\n",
    )


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: exponential from `base_seconds`, capped at `max_seconds`, each with jitter (half of
    it random), so that messages failing together do not all come back together."""

    base_seconds: float
    max_seconds: float
    max_attempts: int

    def retry_at(self, now: datetime, attempts: int) -> datetime | None:
        """When to try again after `attempts` failed ones; None when they are used up."""
        if attempts >= self.max_attempts:
            return None
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempts - 1))
        return now + timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class Sent:
    """One attempt's result before it is recorded."""

    message: OutboxMessage
    delivered: bool
    response_code: int | None
    error: str | None
    permanent: bool
    seconds: float


@dataclass
class DeliveryReport:
    """What one delivery run did, for the worker's logs and metrics, the Lambda's answer and the CLI."""

    correlation_id: str
    emails_sent: int = 0
    emails_failed: int = 0
    webhooks_delivered: int = 0
    webhooks_failed: int = 0
    # Of the failed attempts, the messages given up on (no attempt left, or refused for good).
    emails_given_up: int = 0
    webhooks_given_up: int = 0
    duration_seconds: float = 0.0
    # Seconds from each delivered message's creation to its delivery, for the latency histogram.
    latencies: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report.pop("latencies")
        return report


@dataclass
class DeliverOutbox:
    uow: UnitOfWorkFactory
    clock: Clock
    # Loaded at the first message of their kind: a run with nothing to send never imports them.
    email_sender: Callable[[], EmailSender] | None
    webhook_sender: Callable[[], WebhookSender]
    backoff: Backoff
    mail_from: str
    app_base_url: str = ""
    batch_size: int = 100
    concurrency: int = 8
    lease_seconds: float = 60

    def run(self, correlation_id: str | None = None, max_batches: int | None = None) -> DeliveryReport:
        """Sends what is due until nothing is left (or `max_batches` were taken), under one correlation id: the one
        entry point of every trigger (Celery job, Lambda schedule, CLI)."""
        run_id = correlation_id or new_correlation_id()
        set_correlation_id(run_id)
        started = perf_counter()
        report = DeliveryReport(correlation_id=run_id)
        batches = 0
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="outbox") as senders:
            while max_batches is None or batches < max_batches:
                now = self.clock.now()
                with self.uow() as uow:
                    claimed = uow.outbox.claim(now, now + timedelta(seconds=self.lease_seconds), self.batch_size)
                    uow.commit()
                if not claimed:
                    break
                batches += 1
                # A slow receiver holds one sender, not the batch: the others go on.
                results = list(senders.map(self._attempt, claimed))
                self._record(results, report)
                if len(claimed) < self.batch_size:
                    break
        report.duration_seconds = round(perf_counter() - started, 6)
        if batches:
            logger.info("outbox delivered", extra={**report.as_dict(), "batches": batches})
        return report

    def _attempt(self, message: OutboxMessage) -> Sent:
        started = perf_counter()
        try:
            code = self._send(message)
        except DeliveryFailed as failure:
            return Sent(message, False, failure.status, failure.reason[:MAX_ERROR_LENGTH], failure.permanent, 0.0)
        except Exception as error:
            logger.exception("delivery attempt failed unexpectedly", extra={"outbox_id": str(message.id)})
            return Sent(message, False, None, f"{type(error).__name__}"[:MAX_ERROR_LENGTH], False, 0.0)
        elapsed = perf_counter() - started
        if message.channel is DeliveryChannel.EMAIL or 200 <= code < 300:
            return Sent(message, True, code, None, False, elapsed)
        # An answer other than 2xx is not a delivery. A redirect is never followed (it could lead anywhere, a
        # private address included), and neither it nor a 4xx other than 408 and 429 changes by trying again.
        permanent = 300 <= code < 400 or (400 <= code < 500 and code not in (408, 429))
        return Sent(message, False, code, f"HTTP {code}", permanent, elapsed)

    def _send(self, message: OutboxMessage) -> int:
        if message.channel is DeliveryChannel.EMAIL:
            if self.email_sender is None:
                raise DeliveryFailed("e-mail is not set up (SMTP_URL)", permanent=False)
            return self.email_sender().send(reminder_email(message, self.mail_from, self.app_base_url))
        if message.webhook_url is None or message.webhook_secret is None:
            raise DeliveryFailed("the webhook is gone", permanent=True)
        body = webhook_body(message.payload)
        return self.webhook_sender().post(
            WebhookRequest(
                url=message.webhook_url,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "TaskTracker-Webhooks/1",
                    EVENT_HEADER: message.event_type,
                    DELIVERY_HEADER: str(message.id),
                    SIGNATURE_HEADER: signature(message.webhook_secret, body),
                },
            )
        )

    def _record(self, results: list[Sent], report: DeliveryReport) -> None:
        now = self.clock.now()
        outcomes: list[DeliveryOutcome] = []
        for result in results:
            email = result.message.channel is DeliveryChannel.EMAIL
            if result.delivered:
                outcomes.append(DeliveryOutcome(result.message.id, True, result.response_code))
                report.latencies.append(max((now - result.message.created_at).total_seconds(), 0.0))
                if email:
                    report.emails_sent += 1
                else:
                    report.webhooks_delivered += 1
                continue
            retry_at = None if result.permanent else self.backoff.retry_at(now, result.message.attempts)
            outcomes.append(DeliveryOutcome(result.message.id, False, result.response_code, result.error, retry_at))
            if email:
                report.emails_failed += 1
            else:
                report.webhooks_failed += 1
            if retry_at is None and email:
                report.emails_given_up += 1
            elif retry_at is None:
                report.webhooks_given_up += 1
            logger.warning(
                "delivery attempt failed" if retry_at else "delivery given up",
                extra={
                    "outbox_id": str(result.message.id),
                    "channel": result.message.channel.value,
                    "attempt": result.message.attempts,
                    "response_code": result.response_code,
                    "error": result.error,
                    "retry_at": retry_at.isoformat() if retry_at else None,
                },
            )
        with self.uow() as uow:
            uow.outbox.record(outcomes, now)
            uow.commit()
