"""The worker's Prometheus metrics, served by its main process on WORKER_METRICS_PORT at /metrics.

Jobs run in prefork pool processes while the main process serves the scrape, so the values go through
prometheus_client's multiprocess mode: each process writes its own files in one directory and the
collector adds them up. Counters of a pool process that died stay in the sum.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server, values

from tasktracker.domain.enums import NotificationType

MULTIPROCESS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
RUN_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# From a message's creation (the reminder or change it tells of) to its delivery: seconds at the next tick, far
# longer while a receiver is down and the backoff grows.
DELIVERY_LATENCY_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


class WorkerMetrics:
    def __init__(self) -> None:
        # Registered nowhere: in multiprocess mode the values live in files, which the collector reads.
        self.processed = Counter(
            "reminders_processed_total", "Reminders sent: one per task and due date", registry=None
        )
        self.failed = Counter(
            "reminders_failed_total",
            "Reminder runs given up on, by reason (error, retries_exhausted, worker_lost, expired, revoked)",
            ("reason",),
            registry=None,
        )
        self.notifications_created = Counter(
            "notifications_created_total",
            "In-app notifications written, by type: a DUE_SOON one for the owner of each task reminded",
            ("type",),
            registry=None,
        )
        # Every type is exposed from the start, at 0, so a rate over it exists before the first notification.
        for kind in NotificationType:
            self.notifications_created.labels(kind.value)
        self.run_duration = Histogram(
            "reminder_run_duration_seconds",
            "Duration of completed reminder runs",
            registry=None,
            buckets=RUN_DURATION_BUCKETS,
        )
        self.emails_sent = Counter(
            "emails_sent_total", "E-mails the SMTP server accepted (reminders to task owners)", registry=None
        )
        self.emails_failed = Counter(
            "emails_failed_total",
            "E-mail attempts that failed; each is tried again with backoff until its attempts are used up",
            registry=None,
        )
        self.webhook_deliveries = Counter(
            "webhook_deliveries_total",
            "Webhook delivery attempts, by outcome (delivered; retrying: failed, to be tried again; failed: given up)",
            ("status",),
            registry=None,
        )
        for outcome in ("delivered", "retrying", "failed"):
            self.webhook_deliveries.labels(outcome)
        self.delivery_latency = Histogram(
            "outbox_delivery_latency_seconds",
            "From an e-mail's or webhook delivery's creation to its delivery",
            registry=None,
            buckets=DELIVERY_LATENCY_BUCKETS,
        )
        self.delivery_runs_failed = Counter(
            "outbox_delivery_runs_failed_total",
            "Delivery runs that ended before finishing, by reason (error, unavailable, worker_lost)",
            ("reason",),
            registry=None,
        )
        self.storage_settled = Counter(
            "storage_changes_settled_total",
            "Storage changes the settler carried out: files kept or deleted after their rows' commit",
            registry=None,
        )
        self.storage_failed = Counter(
            "storage_changes_failed_total",
            "Storage changes the settler tried and failed; each waits for the next run",
            registry=None,
        )
        self.storage_abandoned = Counter(
            "storage_changes_abandoned_total",
            "Files the settler could not delete and left pending, for the bucket to expire",
            registry=None,
        )
        self.storage_runs_failed = Counter(
            "storage_settlements_failed_total",
            "Settler runs that ended without settling, by reason (error, unavailable, worker_lost, expired, revoked)",
            ("reason",),
            registry=None,
        )


@dataclass
class MetricsDirectory:
    path: Path
    owned: bool

    @classmethod
    def prepare(cls) -> MetricsDirectory:
        """Call in the worker's main process before any metric exists and before the pool starts."""
        given = os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE)
        if given:
            path = Path(given)
            path.mkdir(parents=True, exist_ok=True)
            # Files of an earlier worker would be added to this one's counts.
            for stale in path.glob("*.db"):
                stale.unlink()
        else:
            path = Path(tempfile.mkdtemp(prefix="tasktracker-worker-metrics-"))
            os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = str(path)
        # prometheus_client chooses how to store values when it is first imported, which may have been
        # before the directory was known: choose again, so the metrics created from now on use the files.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        return cls(path, owned=not given)

    def remove(self) -> None:
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


def serve_metrics(port: int, directory: MetricsDirectory) -> WSGIServer:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory.path))  # type: ignore[no-untyped-call]
    # Every interface: the ops function scrapes the worker from another container.
    server, _thread = start_http_server(port, addr="0.0.0.0", registry=registry)
    return server
