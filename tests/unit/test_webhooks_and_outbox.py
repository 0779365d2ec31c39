"""The rules of webhooks and the outbox, on in-memory fakes: whose webhook is whose, the secret, the cap, what a
change of a task queues and for whom, the signature, the backoff and the e-mail a reminder becomes."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta

import pytest

from tasktracker.application.outbox import Backoff, message_id, reminder_email, signature, webhook_body
from tasktracker.application.ports import OutboxMessage
from tasktracker.application.tasks import TaskUseCases
from tasktracker.application.webhooks import MAX_WEBHOOKS_PER_USER, WebhookUseCases
from tasktracker.domain.entities import User
from tasktracker.domain.enums import AuditEventType, DeliveryChannel, WebhookEventType
from tasktracker.domain.errors import NotFoundError, ValidationError
from tests.unit.fakes import NOW, FakeClock, FakeUnitOfWork

PUBLIC = "https://hooks.example.com/tasks"


class RecordingPolicy:
    """Refuses the URLs it was told to, as the resolving policy refuses private targets."""

    def __init__(self, refused: tuple[str, ...] = ()) -> None:
        self.refused = refused
        self.checked: list[str] = []

    def check(self, url: str) -> None:
        self.checked.append(url)
        if url in self.refused:
            raise ValidationError("private", code="WEBHOOK_TARGET_NOT_ALLOWED")


@pytest.fixture
def policy() -> RecordingPolicy:
    return RecordingPolicy(refused=("http://10.0.0.1/hook",))


@pytest.fixture
def webhooks(uow: FakeUnitOfWork, clock: FakeClock, policy: RecordingPolicy) -> WebhookUseCases:
    return WebhookUseCases(uow=uow, clock=clock, targets=policy)


def test_a_webhook_gets_a_fresh_secret_and_an_audit_event(
    webhooks: WebhookUseCases, uow: FakeUnitOfWork, alice: User
) -> None:
    first = webhooks.create(alice.id, PUBLIC, [WebhookEventType.TASK_CREATED, WebhookEventType.TASK_CREATED])
    second = webhooks.create(alice.id, PUBLIC, [WebhookEventType.REMINDER_SENT])

    assert first.events == (WebhookEventType.TASK_CREATED,)
    assert first.secret.startswith("whsec_") and first.secret != second.secret
    [created, _] = uow.events(AuditEventType.WEBHOOK_CREATED)
    assert created.user_id == alice.id and created.details["webhook_id"] == str(first.id)
    assert first.secret not in str(created.details)


def test_a_refused_target_or_no_events_writes_nothing(
    webhooks: WebhookUseCases, uow: FakeUnitOfWork, policy: RecordingPolicy, alice: User
) -> None:
    with pytest.raises(ValidationError) as refused:
        webhooks.create(alice.id, "http://10.0.0.1/hook", [WebhookEventType.TASK_CREATED])
    with pytest.raises(ValidationError):
        webhooks.create(alice.id, PUBLIC, [])

    assert refused.value.code == "WEBHOOK_TARGET_NOT_ALLOWED"
    assert uow.committed_state.webhooks == {} and uow.events() == []


def test_a_user_has_at_most_the_cap(webhooks: WebhookUseCases, alice: User) -> None:
    for _ in range(MAX_WEBHOOKS_PER_USER):
        webhooks.create(alice.id, PUBLIC, [WebhookEventType.TASK_CREATED])

    with pytest.raises(ValidationError) as refused:
        webhooks.create(alice.id, PUBLIC, [WebhookEventType.TASK_CREATED])
    assert refused.value.code == "WEBHOOK_LIMIT_REACHED"


def test_another_users_webhook_is_not_found(
    webhooks: WebhookUseCases, uow: FakeUnitOfWork, alice: User, bob: User
) -> None:
    made = webhooks.create(alice.id, PUBLIC, [WebhookEventType.TASK_CREATED])

    with pytest.raises(NotFoundError):
        webhooks.delete(bob.id, made.id)
    with pytest.raises(NotFoundError):
        webhooks.deliveries(bob.id, made.id, 1, 20)
    assert webhooks.list(bob.id, 1, 20).total == 0

    webhooks.delete(alice.id, made.id)
    assert uow.committed_state.webhooks == {}
    assert [event.details["webhook_id"] for event in uow.events(AuditEventType.WEBHOOK_DELETED)] == [str(made.id)]


def test_task_changes_are_announced_to_the_owners_subscribed_webhooks_only(
    webhooks: WebhookUseCases, uow: FakeUnitOfWork, clock: FakeClock, alice: User, bob: User
) -> None:
    everything = webhooks.create(alice.id, PUBLIC, list(WebhookEventType))
    deletions = webhooks.create(alice.id, PUBLIC, [WebhookEventType.TASK_DELETED])
    webhooks.create(bob.id, PUBLIC, list(WebhookEventType))
    tasks = TaskUseCases(uow=uow, clock=clock)

    view = tasks.create(alice.id, title="Plan the offsite")
    tasks.update(alice.id, view.task.id, {"title": "Plan the offsite (v2)"})
    tasks.update(alice.id, view.task.id, {"title": "Plan the offsite (v2)"})  # no change: nothing announced
    tasks.delete(alice.id, view.task.id)

    announced = [(hook, event.type, event.data["title"]) for _, hook, event in uow.committed_state.announced]
    assert announced == [
        (everything.id, WebhookEventType.TASK_CREATED, "Plan the offsite"),
        (everything.id, WebhookEventType.TASK_UPDATED, "Plan the offsite (v2)"),
        (everything.id, WebhookEventType.TASK_DELETED, "Plan the offsite (v2)"),
        (deletions.id, WebhookEventType.TASK_DELETED, "Plan the offsite (v2)"),
    ]
    created = uow.committed_state.announced[0][2]
    assert created.task_id == view.task.id and created.data["id"] == str(view.task.id)
    assert created.data["owner_id"] == str(alice.id) and created.data["version"] == 1


def test_the_signature_is_the_hmac_of_the_exact_body() -> None:
    body = webhook_body({"type": "task.created", "id": "x", "data": {"title": "Café"}})

    assert body == '{"data":{"title":"Café"},"id":"x","type":"task.created"}'.encode()
    expected = hmac.new(b"whsec_key", body, hashlib.sha256).hexdigest()
    assert signature("whsec_key", body) == f"sha256={expected}"


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap_and_ends() -> None:
    backoff = Backoff(base_seconds=10, max_seconds=60, max_attempts=5)
    waits = {
        attempts: [(backoff.retry_at(NOW, attempts) - NOW).total_seconds() for _ in range(50)]
        for attempts in (1, 2, 3, 4)
    }  # type: ignore[operator]

    assert all(5 <= wait <= 10 for wait in waits[1])
    assert all(10 <= wait <= 20 for wait in waits[2])
    assert all(30 <= wait <= 60 for wait in waits[4])
    assert len(set(waits[2])) > 1
    assert backoff.retry_at(NOW, 5) is None


def test_a_reminder_e_mail_says_what_is_due_and_carries_the_rows_message_id() -> None:
    outbox_id = uuid.uuid4()
    task_id = uuid.uuid4()
    message = OutboxMessage(
        id=outbox_id,
        channel=DeliveryChannel.EMAIL,
        event_type="reminder.sent",
        payload={
            "to": "ada@example.com",
            "task_id": str(task_id),
            "title": "Send the invoices",
            "due_date": (NOW + timedelta(hours=3)).isoformat(),
            "message": "This task is due within 24 hours.",
        },
        attempts=1,
        created_at=NOW,
    )

    email = reminder_email(message, "Task Tracker <reminders@example.com>", "https://tasks.example.com")

    assert email.message_id == message_id(outbox_id) == f"<{outbox_id}@tasktracker>"
    assert (email.to, email.subject) == ("ada@example.com", "Due soon: Send the invoices")
    assert "This task is due within 24 hours." in email.text
    assert f"https://tasks.example.com/tasks/{task_id}" in email.text
    assert "https://" not in reminder_email(message, "x@example.com", "").text
