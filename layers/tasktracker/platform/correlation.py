"""Correlation ids: taken from X-Correlation-ID when it is a short token, generated otherwise, echoed back.

The router applies the same rule before it hands the header on (infra/router/routing.py), so behind it the id
arrives clean; called directly (under Lambda there is no router), a function applies it itself."""

from __future__ import annotations

import logging
import re
from time import perf_counter

from flask import Flask, Response, g, request

from tasktracker.application import context

HEADER = "X-Correlation-ID"
# Letters, digits, dot, underscore and hyphen, at most 128: safe in a header, a JSON string and a log line.
PATTERN = r"^[A-Za-z0-9._-]{1,128}$"
_ACCEPTABLE = re.compile(PATTERN)

access_log = logging.getLogger("tasktracker.access")


def install(app: Flask) -> None:
    @app.before_request
    def take_correlation_id() -> None:
        incoming = request.headers.get(HEADER, "")
        context.set_correlation_id(incoming if _ACCEPTABLE.fullmatch(incoming) else context.new_correlation_id())
        context.set_user_id(None)
        g.access_started = perf_counter()

    @app.after_request
    def echo_correlation_id(response: Response) -> Response:
        response.headers[HEADER] = context.correlation_id() or ""
        started = g.get("access_started")
        if request.path not in ("/metrics", "/health/live"):
            access_log.info(
                "request",
                extra={
                    "path": request.path,
                    "method": request.method,
                    "status": response.status_code,
                    "latency_ms": round((perf_counter() - started) * 1000, 2) if started else None,
                },
            )
        return response
