"""The router for machines without nginx: one process, every function, the same route table."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.middleware.shared_data import SharedDataMiddleware

from functions.ops.peers import IN_PROCESS_APPS_KEY
from infra.router.routing import FunctionRoute, load_routes, route_for

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Dispatcher:
    def __init__(self, routes: list[FunctionRoute], apps: dict[str, WsgiApp], fallback: WsgiApp | None = None):
        self.routes = routes
        self.apps = apps
        self.fallback = fallback

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        route = route_for(path, self.routes)
        # Like the nginx router, replace whatever X-Forwarded-For the client sent with the real peer.
        environ["HTTP_X_FORWARDED_FOR"] = environ.get("REMOTE_ADDR", "")
        environ["HTTP_X_FORWARDED_PROTO"] = environ.get("wsgi.url_scheme", "http")
        # The functions have no ports of their own here: the ops function finds its peers in the environ.
        environ[IN_PROCESS_APPS_KEY] = self.apps
        if route is not None and route.name in self.apps:
            return self.apps[route.name](environ, start_response)
        if self.fallback is not None and not path.startswith("/api/"):
            return self.fallback(environ, start_response)
        body = json.dumps(
            {
                "error": {
                    "code": "NOT_FOUND",
                    "message": "No function serves this path",
                    "details": {},
                    "correlation_id": environ.get("HTTP_X_CORRELATION_ID"),
                }
            }
        ).encode()
        start_response("404 Not Found", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def build_dispatcher(fallback: WsgiApp | None = None) -> Dispatcher:
    routes = load_routes()
    apps = {route.name: importlib.import_module(route.module).create_app() for route in routes}
    return Dispatcher(routes, apps, fallback)


SPA_DIST = Path(__file__).resolve().parent.parent / "frontend" / "dist"


def spa_app(dist: Path) -> WsgiApp:
    """The built SPA: files as they are, and index.html for any other path so client-side routes load."""

    def index(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = (dist / "index.html").read_bytes()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    served: WsgiApp = SharedDataMiddleware(index, {"/": str(dist)})
    return served


def create_app() -> Dispatcher:
    return build_dispatcher(spa_app(SPA_DIST) if (SPA_DIST / "index.html").exists() else None)
