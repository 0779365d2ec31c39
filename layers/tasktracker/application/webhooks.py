"""A user's webhooks: made with a secret shown once, listed without it, deleted, and their recent deliveries.
Another user's webhook is not found, as a missing one is."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from tasktracker.domain.entities import Webhook, WebhookDelivery, new_id
from tasktracker.domain.enums import AuditEventType, WebhookEventType
from tasktracker.domain.errors import NotFoundError, ValidationError

from . import audit_trail
from .ports import Clock, Page, UnitOfWorkFactory, WebhookTargetPolicy

# Enough for every integration a person runs; a cap keeps one account from fanning every change out to thousands.
MAX_WEBHOOKS_PER_USER = 20
SECRET_PREFIX = "whsec_"


def webhook_not_found() -> NotFoundError:
    return NotFoundError("Webhook not found", code="WEBHOOK_NOT_FOUND")


@dataclass
class WebhookUseCases:
    uow: UnitOfWorkFactory
    clock: Clock
    targets: WebhookTargetPolicy

    def create(self, user_id: UUID, url: str, events: Sequence[WebhookEventType]) -> Webhook:
        chosen = tuple(dict.fromkeys(events))
        if not chosen:
            raise ValidationError.for_field("events", "Choose at least one event.")
        # Before the transaction: resolving the host may take a while, and a refused target writes nothing.
        self.targets.check(url)
        now = self.clock.now()
        webhook = Webhook(
            id=new_id(),
            user_id=user_id,
            url=url,
            events=chosen,
            secret=SECRET_PREFIX + secrets.token_urlsafe(32),
            created_at=now,
        )
        with self.uow() as uow:
            # The user's row, locked: two creations at once cannot both pass the cap.
            uow.users.get_for_update(user_id)
            if uow.webhooks.count_for_user(user_id) >= MAX_WEBHOOKS_PER_USER:
                raise ValidationError(
                    f"You can have at most {MAX_WEBHOOKS_PER_USER} webhooks; delete one first.",
                    code="WEBHOOK_LIMIT_REACHED",
                )
            uow.webhooks.add(webhook)
            audit_trail.record(
                uow,
                AuditEventType.WEBHOOK_CREATED,
                now=now,
                user_id=user_id,
                details={"webhook_id": webhook.id, "url": url, "events": [kind.value for kind in chosen]},
            )
            uow.commit()
        return webhook

    def list(self, user_id: UUID, page: int, page_size: int) -> Page[Webhook]:
        with self.uow(read_only=True) as uow:
            return uow.webhooks.list_for_user(user_id, page, page_size)

    def delete(self, user_id: UUID, webhook_id: UUID) -> None:
        with self.uow() as uow:
            webhook = uow.webhooks.get_for_user(user_id, webhook_id)
            if webhook is None:
                raise webhook_not_found()
            uow.webhooks.delete(webhook_id)
            audit_trail.record(
                uow,
                AuditEventType.WEBHOOK_DELETED,
                now=self.clock.now(),
                user_id=user_id,
                details={"webhook_id": webhook.id, "url": webhook.url},
            )
            uow.commit()

    def deliveries(self, user_id: UUID, webhook_id: UUID, page: int, page_size: int) -> Page[WebhookDelivery]:
        with self.uow(read_only=True) as uow:
            if uow.webhooks.get_for_user(user_id, webhook_id) is None:
                raise webhook_not_found()
            return uow.webhooks.deliveries(webhook_id, page, page_size)
