"""end sessions at once

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

users.session_epoch: every access token carries the epoch it was issued in, and each authenticated
request already reads the user row, so bumping the epoch ends every earlier token at once. A password
change bumps it; so does any deactivation, whoever makes it (an UPDATE in SQL included): a trigger bumps
it when is_active turns false, unless the same statement already did.

refresh_tokens keeps the epoch each token was issued in, why and when it was revoked, and, once rotated,
its successor: the id and the raw token sealed under the rotated one, so that the same token sent twice
within a short grace (two tabs refreshing at once) is answered with the same successor.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.execute("""
CREATE FUNCTION users_end_sessions_on_deactivation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.is_active AND NOT NEW.is_active AND NEW.session_epoch = OLD.session_epoch THEN
        NEW.session_epoch := OLD.session_epoch + 1;
    END IF;
    RETURN NEW;
END
$$
""")
    op.execute(
        "CREATE TRIGGER users_end_sessions_on_deactivation BEFORE UPDATE OF is_active ON users"
        " FOR EACH ROW EXECUTE FUNCTION users_end_sessions_on_deactivation()"
    )

    op.add_column(
        "refresh_tokens", sa.Column("session_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("refresh_tokens", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("refresh_tokens", sa.Column("revoked_reason", sa.String(length=20), nullable=True))
    op.add_column("refresh_tokens", sa.Column("successor_id", sa.UUID(), nullable=True))
    op.add_column("refresh_tokens", sa.Column("successor_sealed", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_refresh_tokens_revoked_reason_known"),
        "refresh_tokens",
        "revoked_reason IN ('ROTATED', 'REUSE_DETECTED', 'PASSWORD_CHANGED')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_refresh_tokens_revoked_reason_known"), "refresh_tokens", type_="check")
    for column in ("successor_sealed", "successor_id", "revoked_reason", "revoked_at", "session_epoch"):
        op.drop_column("refresh_tokens", column)
    op.execute("DROP TRIGGER users_end_sessions_on_deactivation ON users")
    op.execute("DROP FUNCTION users_end_sessions_on_deactivation()")
    op.drop_column("users", "session_epoch")
