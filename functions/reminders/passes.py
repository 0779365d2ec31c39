"""The scheduled work of the reminders function: the reminder pass, the storage settler and the outbox's
deliveries. The Celery jobs, the Lambda schedules and the CLI all run these, so they cannot drift."""

from __future__ import annotations

from tasktracker.application.outbox import DeliveryReport
from tasktracker.application.reminders import ReminderPassReport
from tasktracker.application.storage_changes import StorageSettlementReport
from tasktracker.bootstrap.reminders import deliver_outbox, send_reminders, settle_storage_changes
from tasktracker.config import Settings


def run_reminder_pass(settings: Settings, correlation_id: str | None = None) -> ReminderPassReport:
    return send_reminders(settings).run_pass(correlation_id)


def run_storage_settlement(
    settings: Settings, correlation_id: str | None = None, grace_seconds: float | None = None
) -> StorageSettlementReport:
    """Carries out the storage changes requests left behind; `grace_seconds` overrides STORAGE_SETTLE_GRACE_SECONDS."""
    return settle_storage_changes(settings).run(correlation_id, grace_seconds)


def run_outbox_delivery(settings: Settings, correlation_id: str | None = None) -> DeliveryReport:
    """Sends the e-mails and webhook deliveries that are due, until none is left."""
    return deliver_outbox(settings).run(correlation_id)
