"""Health, merged metrics, merged OpenAPI document and the docs index: public, without a token.

Liveness and the docs index are never rate-limited. Readiness, the merged metrics and the merged document ask
every function, so each is computed at most once per OPS_CACHE_SECONDS per process (requests arriving during
a computation wait for it), in a bounded pool with a deadline, and the three share a generous limit per
address (RATE_LIMIT_OPS) apart from the API's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from typing import Any

from flask import Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import Metric

from tasktracker.platform.metrics import REGISTRY_KEY
from tasktracker.platform.rate_limits import monitoring_limit
from tasktracker.platform.smorest import FunctionBlueprint

from .cache import SingleFlightCache
from .merged_metrics import merged_exposition, parse_exposition
from .merged_openapi import merge_documents
from .peers import HttpPeer, Peer, call_concurrently
from .readiness import CHECK_TIMEOUT_SECONDS, Readiness
from .schemas import LivenessSchema, ReadinessSchema

# Scrapes and documents may take a little longer than a health check, but a hung function must not hold
# the answer for long.
FETCH_TIMEOUT_SECONDS = 3.0
# The merged document changes only when a function is deployed: kept longer than the other answers, unless
# a function was missing from it.
DOCUMENT_CACHE_SECONDS = 60.0
# A request waiting for another's computation waits past its deadline only by this much, then answers with
# the last answer rather than wait on.
WAIT_MARGIN_SECONDS = 1.0

blp = FunctionBlueprint(
    "ops", __name__, description="Health, metrics and documentation of the whole API.", rate_limited=False
)
fan_out_limit = blp.limited_by(
    monitoring_limit,
    "Too many requests from this address to the endpoints that ask every function (readiness, merged metrics"
    " and merged document share one window per address, apart from the API's)",
)

Readied = tuple[bool, dict[str, Any]]


@dataclass(frozen=True)
class Operations:
    own_name: str
    # Every other function, however it is reached (functions/ops/peers.py).
    watched: tuple[Peer, ...]
    readiness: Readiness
    # Processes that are not functions but have metrics of their own: the reminder worker.
    extra_metrics_urls: dict[str, str] = field(default_factory=dict)
    # How long readiness and the merged metrics are kept (Prometheus scrapes every 15 s: a couple of seconds
    # old is fresh enough); 0 keeps nothing, but requests arriving during a computation still share it.
    cache_seconds: float = 2.0
    ready_cache: SingleFlightCache[Readied] = field(init=False, repr=False, compare=False)
    metrics_cache: SingleFlightCache[bytes] = field(init=False, repr=False, compare=False)
    document_cache: SingleFlightCache[dict[str, Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def short(_: object) -> float:
            return self.cache_seconds

        def document_ttl(document: dict[str, Any]) -> float:
            return self.cache_seconds if "x-unavailable-functions" in document else DOCUMENT_CACHE_SECONDS

        caches = {
            "ready_cache": SingleFlightCache(
                self._ready, short, wait_seconds=CHECK_TIMEOUT_SECONDS + WAIT_MARGIN_SECONDS
            ),
            "metrics_cache": SingleFlightCache(
                self._merged_metrics, short, wait_seconds=FETCH_TIMEOUT_SECONDS + WAIT_MARGIN_SECONDS
            ),
            "document_cache": SingleFlightCache(
                self._merged_document, document_ttl, wait_seconds=FETCH_TIMEOUT_SECONDS + WAIT_MARGIN_SECONDS
            ),
        }
        for name, cache in caches.items():
            object.__setattr__(self, name, cache)

    def peers(self) -> list[Peer]:
        return list(self.watched)

    def function_names(self) -> list[str]:
        """Every function of the API: the ones ops watches, then ops itself."""
        return [*(peer.name for peer in self.peers()), self.own_name]

    def _ready(self) -> Readied:
        return self.readiness.report(self.peers())

    def _merged_metrics(self) -> bytes:
        targets: list[Peer] = [*self.peers(), *(HttpPeer(name, url) for name, url in self.extra_metrics_urls.items())]
        scrapes = call_concurrently(
            {peer.name: _scrape(peer) for peer in targets}, FETCH_TIMEOUT_SECONDS, kind="metrics"
        )
        own = list(current_app.extensions[REGISTRY_KEY].registry.collect())
        return merged_exposition({self.own_name: own, **scrapes})

    def _merged_document(self) -> dict[str, Any]:
        fetched = call_concurrently(
            {peer.name: _document(peer) for peer in self.peers()}, FETCH_TIMEOUT_SECONDS, kind="openapi"
        )
        own = current_app.extensions["tasktracker_api"].spec.to_dict()
        documents = {name: own if name == self.own_name else fetched.get(name) for name in self.function_names()}
        available = {name: document for name, document in documents.items() if document is not None}
        merged = merge_documents(
            available,
            title="Task Tracker API",
            description="The whole API: every function's operations in one document.",
        )
        missing = sorted(set(documents) - set(available))
        if missing:
            merged["x-unavailable-functions"] = missing
        return merged


def operations() -> Operations:
    ops: Operations = current_app.extensions["operations"]
    return ops


@blp.route("/api/v1/health/live", methods=["GET"])
@blp.response(200, LivenessSchema)
def live() -> dict[str, str]:
    """The ops function answers"""
    return {"status": "ok"}


@blp.route("/api/v1/health/ready", methods=["GET"])
@fan_out_limit
@blp.response(200, ReadinessSchema, description="Every required component is up")
@blp.alt_response(503, schema=ReadinessSchema, description="A required component is down (same body)")
def ready() -> tuple[dict[str, Any], int]:
    """The database, Redis, S3 and every function answer (the worker is reported, not required)

    Each ops process checks at most once every OPS_CACHE_SECONDS (2 s by default): the answer may be that old.
    """
    is_ready, body = operations().ready_cache.get()
    return body, 200 if is_ready else 503


@blp.route("/metrics", methods=["GET"])
@fan_out_limit
@blp.response(200, content_type="text/plain", description="Prometheus text exposition")
def metrics() -> Response:
    """Every function's metrics, each series labelled function="<name>"; function_up is 0 for one that is down

    Each ops process scrapes the functions at most once every OPS_CACHE_SECONDS (2 s by default): the series
    may be that old, which a scrape every 15 s does not notice.
    """
    return Response(operations().metrics_cache.get(), content_type=CONTENT_TYPE_LATEST)


@blp.route("/api/v1/openapi.json", methods=["GET"])
@fan_out_limit
@blp.response(200, description="An OpenAPI 3.0.3 document")
def openapi_document() -> Response:
    """Every function's OpenAPI document merged into one

    It changes only when a function is deployed: each ops process keeps it for a minute (as long as readiness
    when a function was missing from it).
    """
    merged = operations().document_cache.get()
    return current_app.response_class(json.dumps(merged), mimetype="application/json")


@blp.route("/api/v1/docs", methods=["GET"], strict_slashes=False)
@blp.response(200, content_type="text/html", description="An HTML page")
def docs_index() -> Response:
    """Links to every function's Swagger UI and to the merged document"""
    links = "\n".join(
        f'    <li><a href="/api/v1/{escape(name)}/docs">{escape(name)}</a></li>'
        for name in operations().function_names()
    )
    page = _DOCS_PAGE.format(links=links)
    return Response(page, content_type="text/html; charset=utf-8")


def _scrape(peer: Peer) -> Callable[[], list[Metric]]:
    def scrape() -> list[Metric]:
        answer = peer.get("/metrics", FETCH_TIMEOUT_SECONDS)
        if answer.status != 200:
            raise RuntimeError(f"{peer.name} answered its metrics scrape with {answer.status}")
        return parse_exposition(answer.body)

    return scrape


def _document(peer: Peer) -> Callable[[], dict[str, Any]]:
    def fetch() -> dict[str, Any]:
        answer = peer.get(f"/api/v1/{peer.name}/openapi.json", FETCH_TIMEOUT_SECONDS)
        if answer.status != 200:
            raise RuntimeError(f"{peer.name} answered its OpenAPI document with {answer.status}")
        document: dict[str, Any] = json.loads(answer.body)
        return document

    return fetch


_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Task Tracker API documentation</title>
  <style>body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; line-height: 1.6; }}</style>
</head>
<body>
  <h1>Task Tracker API</h1>
  <p>Each function documents its own operations; try them in its Swagger UI.</p>
  <ul>
{links}
  </ul>
  <p>The whole API in one document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.0.3).</p>
</body>
</html>
"""
