"""Correlation ids: taken from X-Correlation-ID when it is sane, generated otherwise, echoed back."""

from __future__ import annotations

import logging
import re
from time import perf_counter

from flask import Flask, Response, g, request

from tasktracker.application import context

HEADER = "X-Correlation-ID"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

access_log = logging.getLogger("tasktracker.access")


def install(app: Flask) -> None:
    @app.before_request
    def take_correlation_id() -> None:
        incoming = request.headers.get(HEADER, "")
        context.set_correlation_id(incoming if _ACCEPTABLE.match(incoming) else context.new_correlation_id())
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
