"""The periodic job `tasktracker.send_reminders` and the worker around it: retries, failures, metrics, heartbeat.
The worker runs the storage settler too (`storage.py`); its failures are logged and counted here as well.

The job's correlation id is its Celery task id: new for every run beat schedules, the same for every retry
of that run, and printed by Celery's own lines about the job too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from billiard.exceptions import WorkerLostError
from celery import Celery, Task, signals
from sqlalchemy import exc as sa_exc

from tasktracker.application.context import set_correlation_id
from tasktracker.application.outbox import DeliveryReport
from tasktracker.application.reminders import ReminderPassReport
from tasktracker.application.storage_changes import StorageSettlementReport
from tasktracker.config import Settings
from tasktracker.domain.errors import ServiceUnavailableError

from .app import DELIVER_OUTBOX_TASK, SEND_REMINDERS_TASK, SETTLE_STORAGE_TASK
from .heartbeat import Heartbeat
from .metrics import MetricsDirectory, WorkerMetrics, serve_metrics

# Worth another attempt: the database or Redis was briefly away. Anything else fails the run at once.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    ServiceUnavailableError,
    sa_exc.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

RunPass = Callable[[str], ReminderPassReport]

logger = logging.getLogger(__name__)


def describe(error: BaseException) -> str:
    """The error and its causes, a line each: enough to act on, without the SQL that SQLAlchemy appends."""
    lines: list[str] = []
    current: BaseException | None = error
    while current is not None and len(lines) < 3:
        text = str(current).strip()
        lines.append(f"{type(current).__name__}: {text.splitlines()[0]}" if text else type(current).__name__)
        current = current.__cause__
    return " <- ".join(lines)


def failure_reason(error: BaseException) -> str:
    if isinstance(error, WorkerLostError):
        return "worker_lost"
    # A transient error ends a run only once its retries are used up.
    if isinstance(error, TRANSIENT_ERRORS):
        return "retries_exhausted"
    return "error"


def settlement_failure_reason(error: BaseException) -> str:
    """The settler is not retried: its next run, a minute later, is the retry."""
    if isinstance(error, WorkerLostError):
        return "worker_lost"
    if isinstance(error, TRANSIENT_ERRORS):
        return "unavailable"
    return "error"


class ReminderWorker:
    """What the worker process adds around its jobs; the receivers below are Celery signal handlers."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics: WorkerMetrics | None = None
        self._metrics_directory: MetricsDirectory | None = None
        self._metrics_server: Any = None
        self._heartbeat: Heartbeat | None = None

    def connect(self) -> None:
        # dispatch_uid: a second app built in the same process must not log every failure twice.
        for signal, receiver in (
            (signals.worker_init, self.on_worker_init),
            (signals.worker_ready, self.on_worker_ready),
            (signals.worker_shutdown, self.on_worker_shutdown),
            (signals.task_prerun, self.on_task_prerun),
            (signals.task_retry, self.on_task_retry),
            (signals.task_failure, self.on_task_failure),
            (signals.task_revoked, self.on_task_revoked),
        ):
            signal.connect(receiver, weak=False, dispatch_uid=f"{SEND_REMINDERS_TASK}.{receiver.__name__}")

    # Main process, before the pool starts: metrics created now are shared with every pool process.
    def on_worker_init(self, **_: Any) -> None:
        self._metrics_directory = MetricsDirectory.prepare()
        self.metrics = WorkerMetrics()

    def on_worker_ready(self, **_: Any) -> None:
        self._heartbeat = Heartbeat(self.settings.redis_url, self.settings.worker_heartbeat_seconds)
        self._heartbeat.start()
        port = self.settings.worker_metrics_port
        if not port or self._metrics_directory is None:
            return
        try:
            self._metrics_server = serve_metrics(port, self._metrics_directory)
        except OSError as error:
            # The worker still does its job; the scrape failing shows the problem too.
            logger.error("worker metrics not served", extra={"port": port, "error": repr(error)})
            return
        logger.info("worker metrics served", extra={"url": f"http://0.0.0.0:{port}/metrics"})

    def on_worker_shutdown(self, **_: Any) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        if self._metrics_directory is not None:
            self._metrics_directory.remove()

    def on_task_prerun(self, sender: Any = None, task_id: str | None = None, **_: Any) -> None:
        if _is_reminder_job(sender) or _is_storage_job(sender) or _is_delivery_job(sender):
            # Before the body runs, so that even a failure to start is logged under this run's id.
            set_correlation_id(task_id)

    def on_task_retry(self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        if not _is_reminder_job(sender):
            return
        set_correlation_id(request.id)
        error = getattr(reason, "exc", None) or reason
        logger.warning(
            "reminder run failed, will retry",
            extra={
                "attempt": request.retries + 1,
                "max_retries": sender.max_retries,
                "retry_in_seconds": getattr(reason, "when", None),
                "error": describe(error),
            },
        )

    def on_task_failure(
        self, sender: Any = None, task_id: str | None = None, exception: BaseException | None = None, **_: Any
    ) -> None:
        if _is_delivery_job(sender) and exception is not None:
            set_correlation_id(task_id)
            # The messages stay in the outbox, each with its attempts; the next run, seconds later, takes them.
            logger.error("outbox delivery run failed", extra={"error": describe(exception)})
            if self.metrics is not None:
                self.metrics.delivery_runs_failed.labels(settlement_failure_reason(exception)).inc()
            return
        if _is_storage_job(sender) and exception is not None:
            set_correlation_id(task_id)
            reason = settlement_failure_reason(exception)
            logger.error("storage settlement failed", extra={"reason": reason, "error": describe(exception)})
            if self.metrics is not None:
                self.metrics.storage_runs_failed.labels(reason).inc()
            return
        if not _is_reminder_job(sender) or exception is None:
            return
        set_correlation_id(task_id)
        reason = failure_reason(exception)
        logger.error("reminder run failed for good", extra={"reason": reason, "error": describe(exception)})
        if self.metrics is not None:
            self.metrics.failed.labels(reason).inc()

    def on_task_revoked(self, sender: Any = None, request: Any = None, expired: bool = False, **_: Any) -> None:
        if _is_storage_job(sender):
            set_correlation_id(request.id if request is not None else None)
            reason = "expired" if expired else "revoked"
            # The next run, a minute later, takes the same changes.
            logger.info("storage settlement dropped before it ran", extra={"reason": reason})
            if self.metrics is not None:
                self.metrics.storage_runs_failed.labels(reason).inc()
            return
        if not _is_reminder_job(sender):
            return
        set_correlation_id(request.id if request is not None else None)
        reason = "expired" if expired else "revoked"
        # Not an error: a newer run is already scheduled and does the same work. Still counted, never silent.
        logger.warning("reminder run dropped before it ran", extra={"reason": reason})
        if self.metrics is not None:
            self.metrics.failed.labels(reason).inc()

    def record(self, report: ReminderPassReport) -> None:
        if self.metrics is not None:
            self.metrics.processed.inc(report.sent)
            for kind, created in report.notifications.items():
                self.metrics.notifications_created.labels(kind).inc(created)
            self.metrics.run_duration.observe(report.duration_seconds)

    def record_delivery(self, report: DeliveryReport) -> None:
        if self.metrics is None:
            return
        self.metrics.emails_sent.inc(report.emails_sent)
        self.metrics.emails_failed.inc(report.emails_failed)
        self.metrics.webhook_deliveries.labels("delivered").inc(report.webhooks_delivered)
        self.metrics.webhook_deliveries.labels("retrying").inc(report.webhooks_failed - report.webhooks_given_up)
        self.metrics.webhook_deliveries.labels("failed").inc(report.webhooks_given_up)
        for seconds in report.latencies:
            self.metrics.delivery_latency.observe(seconds)

    def record_settlement(self, report: StorageSettlementReport) -> None:
        if self.metrics is not None:
            self.metrics.storage_settled.inc(report.settled)
            self.metrics.storage_failed.inc(report.failed)
            self.metrics.storage_abandoned.inc(report.abandoned)


def _is_reminder_job(sender: Any) -> bool:
    return getattr(sender, "name", None) == SEND_REMINDERS_TASK


def _is_storage_job(sender: Any) -> bool:
    return getattr(sender, "name", None) == SETTLE_STORAGE_TASK


def _is_delivery_job(sender: Any) -> bool:
    return getattr(sender, "name", None) == DELIVER_OUTBOX_TASK


def register_reminder_job(app: Celery, settings: Settings, run_pass: RunPass) -> ReminderWorker:
    """Registers the job on `app`; `run_pass(correlation_id)` does one reminder pass. The worker it returns
    records the other jobs' metrics too."""
    worker = ReminderWorker(settings)
    worker.connect()

    @app.task(
        bind=True,
        name=SEND_REMINDERS_TASK,
        autoretry_for=TRANSIENT_ERRORS,
        max_retries=settings.reminder_max_retries,
        retry_backoff=settings.reminder_retry_backoff_seconds,
        retry_backoff_max=settings.reminder_retry_backoff_max_seconds,
        retry_jitter=True,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )
    def send_reminders(self: Task[[], dict[str, Any]]) -> dict[str, Any]:
        report = run_pass(str(self.request.id))
        worker.record(report)
        if report.emails_queued or report.webhook_events_queued:
            # What the pass queued leaves now rather than at the next delivery tick.
            app.send_task(DELIVER_OUTBOX_TASK)
        return report.as_dict()

    return worker
