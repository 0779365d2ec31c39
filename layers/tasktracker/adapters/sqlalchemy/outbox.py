"""The delivery outbox: messages queued in the transaction of what they tell of, claimed by delivery runs with a
lease, and their outcomes recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB

from tasktracker.application.ports import DeliveryOutcome, OutboxMessage, WebhookEvent
from tasktracker.domain.enums import DeliveryChannel, DeliveryStatus

from .base import SqlRepository
from .models import OUTBOX_MESSAGES, WEBHOOKS, OutboxMessageRow, WebhookRow


def event_body(event: WebhookEvent) -> dict[str, Any]:
    """What a webhook receives, kept as the message's payload so every attempt sends the same body."""
    return {
        "id": str(event.id),
        "type": event.type.value,
        "occurred_at": event.occurred_at.isoformat(),
        "data": event.data,
    }


_OCCURRED_AT = bindparam("occurred_at", type_=OUTBOX_MESSAGES.c.created_at.type)
# A message for each of the owner's webhooks subscribed to the event, made once with the event as parameters.
_ANNOUNCE = insert(OUTBOX_MESSAGES).from_select(
    ["id", "channel", "user_id", "webhook_id", "event_type", "task_id", "payload", "next_attempt_at", "created_at"],
    select(
        func.gen_random_uuid(),
        literal(DeliveryChannel.WEBHOOK.value),
        WEBHOOKS.c.user_id,
        WEBHOOKS.c.id,
        bindparam("event_type", type_=OUTBOX_MESSAGES.c.event_type.type),
        bindparam("task_id", type_=OUTBOX_MESSAGES.c.task_id.type),
        bindparam("payload", type_=JSONB),
        # Due at once, and made when the event happened.
        _OCCURRED_AT,
        _OCCURRED_AT,
    ).where(
        WEBHOOKS.c.user_id == bindparam("owner_id"),
        WEBHOOKS.c.events.contains(bindparam("event_types", type_=WEBHOOKS.c.events.type)),
    ),
)


class SqlOutboxRepository(SqlRepository):
    def announce(self, owner_id: UUID, event: WebhookEvent) -> int:
        # One statement whatever the number of webhooks, and none of them read into Python: a user without
        # webhooks costs one index probe.
        result = self.connection().execute(
            _ANNOUNCE,
            {
                "owner_id": owner_id,
                "event_type": event.type.value,
                "event_types": [event.type.value],
                "task_id": event.task_id,
                "payload": event_body(event),
                "occurred_at": event.occurred_at,
            },
        )
        return int(result.rowcount)

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[OutboxMessage]:
        due = (
            select(OutboxMessageRow.id)
            .where(OutboxMessageRow.status == DeliveryStatus.PENDING.value, OutboxMessageRow.next_attempt_at <= now)
            .order_by(OutboxMessageRow.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = (
            update(OutboxMessageRow)
            .where(OutboxMessageRow.id.in_(due))
            .values(
                attempts=OutboxMessageRow.attempts + 1,
                last_attempt_at=now,
                next_attempt_at=lease_until,
            )
            .returning(
                OutboxMessageRow.id,
                OutboxMessageRow.channel,
                OutboxMessageRow.webhook_id,
                OutboxMessageRow.event_type,
                OutboxMessageRow.payload,
                OutboxMessageRow.attempts,
                OutboxMessageRow.created_at,
                OutboxMessageRow.next_attempt_at,
            )
            .cte("claimed")
        )
        rows = self.session.execute(
            select(claimed, WebhookRow.url, WebhookRow.secret)
            .select_from(claimed.outerjoin(WebhookRow, WebhookRow.id == claimed.c.webhook_id))
            .order_by(claimed.c.created_at)
        ).all()
        return [
            OutboxMessage(
                id=row.id,
                channel=DeliveryChannel(row.channel),
                event_type=row.event_type,
                payload=row.payload,
                attempts=row.attempts,
                created_at=row.created_at,
                webhook_url=row.url,
                webhook_secret=row.secret,
            )
            for row in rows
        ]

    def record(self, outcomes: Sequence[DeliveryOutcome], at: datetime) -> None:
        if not outcomes:
            return
        rows = [
            {
                "message_id": outcome.message_id,
                "new_status": (
                    DeliveryStatus.DELIVERED.value
                    if outcome.delivered
                    else DeliveryStatus.PENDING.value
                    if outcome.retry_at is not None
                    else DeliveryStatus.FAILED.value
                ),
                "retry_at": outcome.retry_at or at,
                "delivered_at": at if outcome.delivered else None,
                "response_code": outcome.response_code,
                "error": outcome.error,
            }
            for outcome in outcomes
        ]
        # One statement for the whole batch (executemany); a message is only ever recorded by the run that
        # claimed it, whose lease keeps the others away.
        table = OUTBOX_MESSAGES
        self.session.execute(
            update(table)
            .where(table.c.id == bindparam("message_id"))
            .values(
                status=bindparam("new_status"),
                next_attempt_at=bindparam("retry_at"),
                delivered_at=bindparam("delivered_at"),
                last_response_code=bindparam("response_code"),
                last_error=bindparam("error"),
            ),
            rows,
        )
