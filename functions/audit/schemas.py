from __future__ import annotations

import marshmallow as ma

from tasktracker.application.task_queries import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE
from tasktracker.domain.enums import AuditEventType

_EVENT_TYPES = ", ".join(member.value for member in AuditEventType)


class AuditEventQuerySchema(ma.Schema):
    user_id = ma.fields.UUID(metadata={"description": "Only events of this user"})
    task_id = ma.fields.UUID(metadata={"description": "Only events about this task"})
    # A list so that both `event_type=LOGIN,TASK_CREATED` and repeated `event_type=` work; the use case's
    # parser splits and validates the names.
    event_type = ma.fields.List(
        ma.fields.String(),
        metadata={"description": f"One or more of {_EVENT_TYPES}, comma-separated or repeated"},
    )
    created_from = ma.fields.AwareDateTime(
        data_key="from", metadata={"description": "Created at or after (ISO 8601 with timezone)"}
    )
    created_to = ma.fields.AwareDateTime(
        data_key="to", metadata={"description": "Created at or before (ISO 8601 with timezone)"}
    )
    page = ma.fields.Integer(
        load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE), metadata={"description": "1-based"}
    )
    page_size = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE),
        metadata={"description": f"Between 1 and {MAX_PAGE_SIZE}"},
    )


class AuditEventSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    event_type = ma.fields.Enum(AuditEventType, required=True)
    user_id = ma.fields.UUID(required=True, allow_none=True)
    task_id = ma.fields.UUID(required=True, allow_none=True)
    attachment_id = ma.fields.UUID(required=True, allow_none=True)
    details = ma.fields.Dict(required=True, metadata={"description": "What changed, due dates, and the like"})
    created_at = ma.fields.AwareDateTime(required=True)


class AuditEventPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuditEventSchema), required=True)
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
