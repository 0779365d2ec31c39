"""Webhooks and their deliveries. Every lookup names the user, so no one reaches another's webhook."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select

from tasktracker.application.ports import Page
from tasktracker.domain.entities import Webhook, WebhookDelivery
from tasktracker.domain.enums import DeliveryStatus, WebhookEventType

from .base import SqlRepository, page_of
from .models import OutboxMessageRow, WebhookRow


def _webhook(row: Any) -> Webhook:
    return Webhook(
        id=row.id,
        user_id=row.user_id,
        url=row.url,
        events=tuple(WebhookEventType(kind) for kind in row.events),
        secret=row.secret,
        created_at=row.created_at,
    )


class SqlWebhookRepository(SqlRepository):
    def add(self, webhook: Webhook) -> None:
        self.session.execute(
            insert(WebhookRow).values(
                id=webhook.id,
                user_id=webhook.user_id,
                url=webhook.url,
                events=[kind.value for kind in webhook.events],
                secret=webhook.secret,
                created_at=webhook.created_at,
            )
        )

    def count_for_user(self, user_id: UUID) -> int:
        count = self.session.execute(
            select(func.count()).select_from(WebhookRow).where(WebhookRow.user_id == user_id)
        ).scalar_one()
        return int(count)

    def list_for_user(self, user_id: UUID, page: int, page_size: int) -> Page[Webhook]:
        rows = self.session.scalars(
            page_of(
                select(WebhookRow)
                .where(WebhookRow.user_id == user_id)
                .order_by(WebhookRow.created_at.desc(), WebhookRow.id.desc()),
                page,
                page_size,
            )
        ).all()
        return Page(
            items=[_webhook(row) for row in rows], page=page, page_size=page_size, total=self.count_for_user(user_id)
        )

    def get_for_user(self, user_id: UUID, webhook_id: UUID) -> Webhook | None:
        row = self.session.scalars(
            select(WebhookRow).where(WebhookRow.id == webhook_id, WebhookRow.user_id == user_id)
        ).one_or_none()
        return None if row is None else _webhook(row)

    def delete(self, webhook_id: UUID) -> None:
        # Its deliveries go with it (the foreign key cascades).
        self.session.execute(delete(WebhookRow).where(WebhookRow.id == webhook_id))

    def deliveries(self, webhook_id: UUID, page: int, page_size: int) -> Page[WebhookDelivery]:
        rows = self.session.execute(
            page_of(
                select(
                    OutboxMessageRow.id,
                    OutboxMessageRow.event_type,
                    OutboxMessageRow.status,
                    OutboxMessageRow.attempts,
                    OutboxMessageRow.last_response_code,
                    OutboxMessageRow.last_error,
                    OutboxMessageRow.created_at,
                    OutboxMessageRow.last_attempt_at,
                    OutboxMessageRow.delivered_at,
                )
                .where(OutboxMessageRow.webhook_id == webhook_id)
                .order_by(OutboxMessageRow.created_at.desc(), OutboxMessageRow.id.desc()),
                page,
                page_size,
            )
        ).all()
        total = self.session.execute(
            select(func.count()).select_from(OutboxMessageRow).where(OutboxMessageRow.webhook_id == webhook_id)
        ).scalar_one()
        items = [
            WebhookDelivery(
                id=row.id,
                event=WebhookEventType(row.event_type),
                status=DeliveryStatus(row.status),
                attempts=row.attempts,
                last_response_code=row.last_response_code,
                last_error=row.last_error,
                created_at=row.created_at,
                last_attempt_at=row.last_attempt_at,
                delivered_at=row.delivered_at,
            )
            for row in rows
        ]
        return Page(items=items, page=page, page_size=page_size, total=int(total))
