"""HTTP only: the signed-in user's webhooks. Whose webhook is whose is decided by the use case."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import current_app

from tasktracker.application.ports import Page
from tasktracker.application.webhooks import WebhookUseCases
from tasktracker.domain.entities import Webhook, WebhookDelivery
from tasktracker.platform.paging import PageQuerySchema
from tasktracker.platform.security import current_user_id
from tasktracker.platform.smorest import FunctionBlueprint

from .schemas import CreatedWebhookSchema, WebhookCreateSchema, WebhookDeliveryPageSchema, WebhookPageSchema

blp = FunctionBlueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description=(
        "Your webhooks: the events of your own tasks POSTed as signed JSON to a URL of yours, at least once, with "
        "retries and backoff. Each delivery is {id, type, occurred_at, data} with the headers X-TaskTracker-Event, "
        "X-TaskTracker-Delivery (the same id on every retry) and X-TaskTracker-Signature."
    ),
)

NOT_YOURS = "You have no such webhook (another user's is not yours to see)"


def use_cases() -> WebhookUseCases:
    webhooks: WebhookUseCases = current_app.extensions["webhook_use_cases"]
    return webhooks


@blp.route("", methods=["POST"])
@blp.requires_sign_in
@blp.arguments(WebhookCreateSchema)
@blp.response(201, CreatedWebhookSchema)
@blp.error(400, description="The URL or the events are not valid, or the URL's host is a private address")
def create_webhook(body: dict[str, Any]) -> Webhook:
    """Add a webhook; its secret is in this answer only"""
    return use_cases().create(current_user_id(), body["url"], body["events"])


@blp.route("", methods=["GET"])
@blp.requires_sign_in
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, WebhookPageSchema)
def list_webhooks(args: dict[str, Any]) -> Page[Webhook]:
    """Your webhooks, newest first, without their secrets"""
    return use_cases().list(current_user_id(), args["page"], args["page_size"])


@blp.route("/<uuid:webhook_id>", methods=["DELETE"])
@blp.requires_sign_in
@blp.response(204)
@blp.error(404, description=NOT_YOURS)
def delete_webhook(webhook_id: UUID) -> None:
    """Delete a webhook; deliveries not yet made are dropped with it"""
    use_cases().delete(current_user_id(), webhook_id)


@blp.route("/<uuid:webhook_id>/deliveries", methods=["GET"])
@blp.requires_sign_in
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, WebhookDeliveryPageSchema)
@blp.error(404, description=NOT_YOURS)
def list_deliveries(args: dict[str, Any], webhook_id: UUID) -> Page[WebhookDelivery]:
    """A webhook's recent deliveries, newest first: event, status, attempts, last response"""
    return use_cases().deliveries(current_user_id(), webhook_id, args["page"], args["page_size"])
