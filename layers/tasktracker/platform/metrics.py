"""Prometheus metrics with the spec's names, labelled by path template (never the raw path)."""

from __future__ import annotations

from time import perf_counter

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_flask_exporter import PrometheusMetrics

REGISTRY_KEY = "tasktracker_metrics"

# The *_created series double the exposition for no use on dashboards.
disable_created_metrics()  # type: ignore[no-untyped-call]


class FunctionMetrics:
    """One registry per app, so that several functions can share a process without clashing series."""

    def __init__(self, app: Flask, path: str = "/metrics"):
        """`path` serves this app's own exposition (the ops function serves the merged one at /metrics)."""
        self.path = path
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ("path", "method", "status"), registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration",
            ("path", "method"),
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.errors = Counter("errors_total", "Errors answered, by error code", ("type",), registry=self.registry)
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
