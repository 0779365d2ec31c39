from __future__ import annotations

import marshmallow as ma

from tasktracker.domain.enums import DeliveryStatus, NotificationType, WebhookEventType
from tasktracker.platform.paging import PageQuerySchema, page_of

MAX_WEBHOOK_URL_LENGTH = 2048


class NotificationQuerySchema(PageQuerySchema):
    unread = ma.fields.Boolean(
        load_default=False, metadata={"description": "true: only the notifications not yet marked read"}
    )


class NotificationSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    type = ma.fields.Enum(NotificationType, required=True)
    task_id = ma.fields.UUID(required=True, allow_none=True, metadata={"description": "The task it is about"})
    title = ma.fields.String(required=True, metadata={"description": "The task's title when it was written"})
    message = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    read_at = ma.fields.AwareDateTime(
        required=True, allow_none=True, metadata={"description": "When it was first marked read; null while unread"}
    )


NotificationPageSchema = page_of(
    NotificationSchema,
    unread=ma.fields.Integer(
        required=True, metadata={"description": "The user's unread notifications, on all pages, whatever the filter"}
    ),
)


class AllMarkedReadSchema(ma.Schema):
    marked = ma.fields.Integer(required=True, metadata={"description": "How many were unread and are now read"})
    unread = ma.fields.Integer(required=True, metadata={"description": "How many are unread now"})


class NotificationSettingsSchema(ma.Schema):
    email = ma.fields.Boolean(
        required=True,
        metadata={"description": "Whether due-soon reminders also go to your e-mail address (on by default)"},
    )
    email_address = ma.fields.String(
        dump_only=True, metadata={"description": "Where they go: the address you signed up with"}
    )


class NotificationSettingsChangeSchema(ma.Schema):
    email = ma.fields.Boolean(required=True, metadata={"description": "true: e-mail reminders on; false: off"})


WEBHOOK_EVENTS = (
    "Any of task.created, task.updated, task.deleted, attachment.added, attachment.removed, reminder.sent: "
    "events of your own tasks"
)


class WebhookCreateSchema(ma.Schema):
    url = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_WEBHOOK_URL_LENGTH),
        metadata={
            "description": "An http(s) URL. One whose host resolves to a loopback, private, link-local or "
            "cloud-metadata address is refused (400 WEBHOOK_TARGET_NOT_ALLOWED)."
        },
    )
    events = ma.fields.List(
        ma.fields.Enum(WebhookEventType, by_value=True),
        required=True,
        validate=ma.validate.Length(min=1, max=len(WebhookEventType)),
        metadata={"description": WEBHOOK_EVENTS},
    )


class WebhookSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    url = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.Enum(WebhookEventType, by_value=True), required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class CreatedWebhookSchema(WebhookSchema):
    secret = ma.fields.String(
        required=True,
        metadata={
            "description": "Signs every delivery: X-TaskTracker-Signature is sha256=<hex HMAC-SHA256 of the raw body, "
            "keyed with this>. Shown only in this answer: keep it now."
        },
    )


class WebhookDeliverySchema(ma.Schema):
    id = ma.fields.UUID(
        required=True, metadata={"description": "The X-TaskTracker-Delivery header: the same on every attempt"}
    )
    event = ma.fields.Enum(WebhookEventType, by_value=True, required=True)
    status = ma.fields.Enum(
        DeliveryStatus,
        by_value=True,
        required=True,
        metadata={"description": "pending (waiting for an attempt, or for a retry), delivered, or failed (given up)"},
    )
    attempts = ma.fields.Integer(required=True)
    last_response_code = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "The receiver's last HTTP status; null without one"}
    )
    last_error = ma.fields.String(required=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
    last_attempt_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    delivered_at = ma.fields.AwareDateTime(required=True, allow_none=True)


WebhookPageSchema = page_of(WebhookSchema)
WebhookDeliveryPageSchema = page_of(WebhookDeliverySchema)
