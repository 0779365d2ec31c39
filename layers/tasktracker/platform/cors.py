"""Cross-origin access: closed unless CORS_ORIGINS lists an origin, and then open to exactly those origins.

The SPA is served from the API's own origin and needs none of this; it is for a front end hosted elsewhere."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, X-Correlation-ID"
# What a script on the allowed origin may read besides the simple headers.
EXPOSED_HEADERS = "X-Correlation-ID, X-RateLimit-Limit, X-RateLimit-Remaining, Retry-After, Content-Disposition, ETag"
PREFLIGHT_MAX_AGE_SECONDS = 600


def configure_cors(app: Flask, allowed_origins: Iterable[str]) -> None:
    allowed = frozenset(origin.rstrip("/") for origin in allowed_origins)
    if not allowed:
        return

    @app.after_request
    def allow_listed_origins(response: Response) -> Response:
        response.vary.add("Origin")
        origin = request.headers.get("Origin", "")
        if origin not in allowed:
            return response
        # The origin itself, never "*": tokens travel in the Authorization header, not in cookies.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        return response
