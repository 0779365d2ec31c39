"""The Celery entry point of the reminders function: `celery -A functions.reminders.worker worker|beat`.

Beat publishes `tasktracker.send_reminders` every REMINDER_INTERVAL_SECONDS,
`tasktracker.settle_storage_changes` every STORAGE_SETTLE_INTERVAL_SECONDS and `tasktracker.deliver_outbox` every
OUTBOX_INTERVAL_SECONDS; the worker runs them.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from tasktracker.bootstrap.reminders import reminder_scheduler
from tasktracker.config import settings as environment_settings
from tasktracker.platform.logs import configure_logging

from .passes import run_outbox_delivery, run_reminder_pass, run_storage_settlement

settings = environment_settings()
app = reminder_scheduler(
    settings,
    lambda correlation_id: run_reminder_pass(settings, correlation_id),
    lambda correlation_id: run_storage_settlement(settings, correlation_id),
    lambda correlation_id: run_outbox_delivery(settings, correlation_id),
)


@signals.setup_logging.connect(weak=False)
def json_logs(**_: Any) -> None:
    """The worker and beat log like the functions: JSON lines with the correlation id, at LOG_LEVEL."""
    configure_logging(settings.log_level)
