from __future__ import annotations

import marshmallow as ma

from tasktracker.domain.enums import NotificationType
from tasktracker.platform.paging import PageQuerySchema, page_of


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
