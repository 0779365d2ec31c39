"""Prometheus metrics with the spec's names, labelled by path template (never the raw path).

Under gunicorn with several workers, PROMETHEUS_MULTIPROC_DIR is set (tasktracker.platform.gunicorn_config):
every worker writes its values to files there and an app's registry collects the files of all of them, so
whichever worker answers a scrape reports the whole function. Without it (one process: the Lambda handler,
tests) each app keeps its values in memory in a registry of its own.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from time import perf_counter
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, multiprocess, values
from prometheus_flask_exporter import PrometheusMetrics

REGISTRY_KEY = "tasktracker_metrics"
MULTIPROCESS_DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# The *_created series double the exposition for no use on dashboards.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _WorkersFilesCollector(multiprocess.MultiProcessCollector):
    """Every worker's values, skipping a file a starting worker has created but not yet sized.

    prometheus_client creates a worker's file empty and then sizes it; reading it in between fails, which
    at registration stopped a worker booting beside another, and at a scrape would answer 500.
    """

    def collect(self) -> Iterable[Any]:
        files = [name for name in glob.glob(os.path.join(self._path, "*.db")) if os.path.getsize(name) > 0]
        merged: Iterable[Any] = self.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        return merged


class FunctionMetrics:
    """One registry per app, so that several functions can share a process without clashing series.

    Only counters and histograms: they add up across workers as they are. A gauge would need a
    multiprocess_mode (e.g. "livesum") to say how its workers' values combine.
    """

    def __init__(self, app: Flask, path: str = "/metrics"):
        """`path` serves this app's own exposition (the ops function serves the merged one at /metrics)."""
        self.path = path
        directory = os.environ.get(MULTIPROCESS_DIRECTORY_VARIABLE)
        # With the workers' files, registering must not read them: a file may be mid-creation.
        self.registry = CollectorRegistry(auto_describe=not directory)
        if directory:
            if values.ValueClass is values.MutexValue:
                # prometheus_client chose in-memory values when it was first imported: nothing would reach the files.
                raise RuntimeError(f"{MULTIPROCESS_DIRECTORY_VARIABLE} was set after prometheus_client was imported")
            _WorkersFilesCollector(self.registry, path=directory)  # type: ignore[no-untyped-call]
        # In multiprocess mode the metrics are registered nowhere: the collector reads every worker's files, and
        # registering them as well would expose this worker's values a second time.
        own_registry = None if directory else self.registry
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ("path", "method", "status"), registry=own_registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ("path", "method"),
            registry=own_registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.errors = Counter("errors_total", "Errors answered, by error code", ("type",), registry=own_registry)
        # prometheus-flask-exporter serves the exposition (content negotiation, /metrics route, multiprocess
        # support); the request metrics above are ours because its defaults lack the spec's names and labels.
        self.exporter = PrometheusMetrics(
            app, registry=self.registry, export_defaults=False, path=path, excluded_paths=[path]
        )
        app.extensions[REGISTRY_KEY] = self
        app.before_request(self._start)
        app.after_request(self._observe)

    @staticmethod
    def _start() -> None:
        g.request_started = perf_counter()

    def _observe(self, response: Response) -> Response:
        if request.path == self.path:
            return response
        path = request.url_rule.rule if request.url_rule is not None else "unmatched"
        self.requests.labels(path, request.method, str(response.status_code)).inc()
        started = g.get("request_started")
        if started is not None:
            self.duration.labels(path, request.method).observe(perf_counter() - started)
        return response


def count_error(code: str) -> None:
    from flask import current_app, has_app_context

    if has_app_context():
        function_metrics = current_app.extensions.get(REGISTRY_KEY)
        if function_metrics is not None:
            function_metrics.errors.labels(code).inc()
