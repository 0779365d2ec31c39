"""The Celery app of the scheduler: Redis as broker, no result backend, three periodic jobs (the reminder pass,
the storage settler and the outbox's deliveries).

Producers (beat, tests, tools) need only this module; the worker side registers the jobs itself with
`tasktracker.adapters.celery.reminders.register_reminder_job` and `register_storage_job`.
"""

from __future__ import annotations

from celery import Celery

from tasktracker.config import ConfigurationError, Settings

SEND_REMINDERS_TASK = "tasktracker.send_reminders"
SETTLE_STORAGE_TASK = "tasktracker.settle_storage_changes"
DELIVER_OUTBOX_TASK = "tasktracker.deliver_outbox"
# A queue of its own, so that another Celery app on the same Redis never takes these jobs.
REMINDERS_QUEUE = "tasktracker.reminders"
BEAT_ENTRY = "send-reminders"
STORAGE_BEAT_ENTRY = "settle-storage-changes"
DELIVERY_BEAT_ENTRY = "deliver-outbox"


def check_retry_budget(settings: Settings) -> None:
    """On Redis, a job whose retry countdown outlives the visibility timeout is delivered twice."""
    if settings.reminder_retry_backoff_max_seconds * 2 > settings.broker_visibility_timeout_seconds:
        raise ConfigurationError(
            "REMINDER_RETRY_BACKOFF_MAX_SECONDS must stay well below BROKER_VISIBILITY_TIMEOUT_SECONDS "
            f"(at most half of it): {settings.reminder_retry_backoff_max_seconds}s is too long for "
            f"{settings.broker_visibility_timeout_seconds}s"
        )
    if settings.reminder_interval_seconds < 1:
        raise ConfigurationError("REMINDER_INTERVAL_SECONDS must be at least 1")
    if settings.storage_settle_interval_seconds < 1:
        raise ConfigurationError("STORAGE_SETTLE_INTERVAL_SECONDS must be at least 1")
    if settings.storage_settle_grace_seconds < 0:
        raise ConfigurationError("STORAGE_SETTLE_GRACE_SECONDS must not be negative")


def create_celery_app(settings: Settings) -> Celery:
    check_retry_budget(settings)
    interval = float(settings.reminder_interval_seconds)
    settle_interval = float(settings.storage_settle_interval_seconds)
    delivery_interval = float(settings.outbox_interval_seconds)
    app = Celery("tasktracker", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        # Nobody reads results: the job's outcome is in the database, the logs and the metrics.
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=REMINDERS_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        # A job is acknowledged only once it finished; a pool process dying mid-run puts it back on the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # With late acks a prefetched job would wait behind a long run; take one at a time.
        worker_prefetch_multiplier=1,
        # On a lost broker connection the message of a running job is redelivered anyway: stop the old copy.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # Logging is the project's JSON logging (configured by the worker's entry point), not Celery's.
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            BEAT_ENTRY: {
                "task": SEND_REMINDERS_TASK,
                "schedule": interval,
                # A run still queued when the next one is due is stale: the next one does its work.
                "options": {"expires": interval},
            },
            STORAGE_BEAT_ENTRY: {
                "task": SETTLE_STORAGE_TASK,
                "schedule": settle_interval,
                "options": {"expires": settle_interval},
            },
            DELIVERY_BEAT_ENTRY: {
                "task": DELIVER_OUTBOX_TASK,
                "schedule": delivery_interval,
                "options": {"expires": delivery_interval},
            },
        },
    )
    return app
