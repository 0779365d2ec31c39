from __future__ import annotations

import marshmallow as ma

from tasktracker.domain.enums import AuditEventType
from tasktracker.platform.paging import PageQuerySchema, page_of
from tasktracker.platform.query_fields import EnumValues


class AuditEventQuerySchema(PageQuerySchema):
    user_id = ma.fields.UUID(metadata={"description": "Only events of this user"})
    task_id = ma.fields.UUID(metadata={"description": "Only events about this task"})
    event_type = EnumValues(AuditEventType)
    created_from = ma.fields.AwareDateTime(
        data_key="from", metadata={"description": "Created at or after (ISO 8601 with timezone)"}
    )
    created_to = ma.fields.AwareDateTime(
        data_key="to", metadata={"description": "Created at or before (ISO 8601 with timezone)"}
    )


class AuditEventSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    event_type = ma.fields.Enum(AuditEventType, required=True)
    user_id = ma.fields.UUID(required=True, allow_none=True)
    task_id = ma.fields.UUID(required=True, allow_none=True)
    attachment_id = ma.fields.UUID(required=True, allow_none=True)
    details = ma.fields.Dict(required=True, metadata={"description": "What changed, due dates, and the like"})
    created_at = ma.fields.AwareDateTime(required=True)


AuditEventPageSchema = page_of(AuditEventSchema)
