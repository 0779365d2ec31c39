from __future__ import annotations

import marshmallow as ma

from tasktracker.application.task_queries import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE


class PageArgsSchema(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    page_size = ma.fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE))


class SentReminderSchema(ma.Schema):
    task_id = ma.fields.UUID(required=True)
    reminder_type = ma.fields.String(required=True, metadata={"example": "DUE_SOON"})
    sent_at = ma.fields.AwareDateTime(required=True)
    title = ma.fields.String(required=True, metadata={"description": "The task's title"})
    due_date = ma.fields.AwareDateTime(
        required=True, allow_none=True, metadata={"description": "The due date the reminder was about"}
    )


class SentReminderPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SentReminderSchema), required=True)
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
