from __future__ import annotations

import marshmallow as ma

from tasktracker.platform.paging import page_of


class SentReminderSchema(ma.Schema):
    task_id = ma.fields.UUID(required=True)
    reminder_type = ma.fields.String(required=True, metadata={"example": "DUE_SOON"})
    sent_at = ma.fields.AwareDateTime(required=True)
    title = ma.fields.String(required=True, metadata={"description": "The task's title"})
    due_date = ma.fields.AwareDateTime(
        required=True, allow_none=True, metadata={"description": "The due date the reminder was about"}
    )


SentReminderPageSchema = page_of(SentReminderSchema)
