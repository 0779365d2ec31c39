"""sign out

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

POST /auth/logout ends a sign-in on purpose: its refresh-token family is revoked with the reason LOGGED_OUT
(answered REFRESH_TOKEN_REVOKED, never REFRESH_TOKEN_REUSED), and a LOGOUT audit event is written in the same
transaction. Both check constraints learn the new value; nothing else changes.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_EVENT_TYPES = (
    "'TASK_CREATED', 'TASK_UPDATED', 'TASK_DELETED', 'ATTACHMENT_ADDED', 'ATTACHMENT_REMOVED', 'REMINDER_SENT',"
    " 'LOGIN', 'PASSWORD_CHANGED'"
)
_REVOCATIONS = "'ROTATED', 'REUSE_DETECTED', 'PASSWORD_CHANGED'"


def _replace_checks(event_types: str, revocations: str) -> None:
    op.drop_constraint(op.f("ck_audit_events_event_type_known"), "audit_events", type_="check")
    op.create_check_constraint(
        op.f("ck_audit_events_event_type_known"), "audit_events", f"event_type IN ({event_types})"
    )
    op.drop_constraint(op.f("ck_refresh_tokens_revoked_reason_known"), "refresh_tokens", type_="check")
    op.create_check_constraint(
        op.f("ck_refresh_tokens_revoked_reason_known"), "refresh_tokens", f"revoked_reason IN ({revocations})"
    )


def upgrade() -> None:
    _replace_checks(f"{_EVENT_TYPES}, 'LOGOUT'", f"{_REVOCATIONS}, 'LOGGED_OUT'")


def downgrade() -> None:
    # The rows that only the new values allow go first, or the old checks cannot be put back; a signed-out token
    # stays refused under the old code's nearest reason.
    op.execute("DELETE FROM audit_events WHERE event_type = 'LOGOUT'")
    op.execute("UPDATE refresh_tokens SET revoked_reason = 'REUSE_DETECTED' WHERE revoked_reason = 'LOGGED_OUT'")
    _replace_checks(_EVENT_TYPES, _REVOCATIONS)
