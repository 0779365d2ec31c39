"""HTTP only: parse, call the use case, answer. Who may see which event is decided by the use case."""

from __future__ import annotations

from typing import Any

from flask import current_app

from tasktracker.application.audit import AuditUseCases
from tasktracker.application.ports import AuditQuery, Page
from tasktracker.domain.entities import AuditEvent
from tasktracker.platform.security import current_user_id
from tasktracker.platform.smorest import FunctionBlueprint

from .schemas import AuditEventPageSchema, AuditEventQuerySchema

blp = FunctionBlueprint(
    "audit", __name__, url_prefix="/api/v1/audit-events", description="The audit trail, newest first, read-only."
)


def use_cases() -> AuditUseCases:
    audit: AuditUseCases = current_app.extensions["audit_use_cases"]
    return audit


@blp.route("", methods=["GET"])
@blp.requires_sign_in
@blp.arguments(AuditEventQuerySchema, location="query")
@blp.response(200, AuditEventPageSchema)
@blp.error(400, description="A filter or paging parameter is not valid")
def list_audit_events(args: dict[str, Any]) -> Page[AuditEvent]:
    """Audit events, newest first; sign-ins, sign-outs and password changes are shown only to their own user"""
    return use_cases().search(
        AuditQuery(
            viewer_id=current_user_id(),
            user_id=args.get("user_id"),
            task_id=args.get("task_id"),
            event_types=args.get("event_type", ()),
            created_from=args.get("created_from"),
            created_to=args.get("created_to"),
            page=args["page"],
            page_size=args["page_size"],
        )
    )
