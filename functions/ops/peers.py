"""The other functions, as ops reaches them.

Where each function listens on an address of its own (make up, compose) ops asks it over HTTP
(FUNCTION_URLS). On Lambda a function has no address: ops invokes it with an API Gateway v2 event for the
path it wants, by its function name through the Lambda Invoke API (FUNCTION_NAMES, on AWS), or at the Invoke
API of an emulated environment (FUNCTION_INVOKE_URLS, the Lambda tests).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from tasktracker.application.ports import FunctionInvoker
from tasktracker.config import ConfigurationError
from tasktracker.routes import FunctionRoute, load_routes

logger = logging.getLogger("tasktracker.ops")

# The Invoke API path of an emulated Lambda environment (the Runtime Interface Emulator takes any name here).
EMULATOR_INVOCATIONS_PATH = "/2015-03-31/functions/function/invocations"

T = TypeVar("T")


@dataclass(frozen=True)
class PeerAnswer:
    status: int
    body: bytes


class Peer(Protocol):
    @property
    def name(self) -> str: ...

    def get(self, path: str, timeout: float) -> PeerAnswer: ...


@dataclass(frozen=True)
class HttpPeer:
    name: str
    base_url: str

    def get(self, path: str, timeout: float) -> PeerAnswer:
        try:
            # The scheme was checked to be http(s) when FUNCTION_URLS was read.
            with urlopen(f"{self.base_url}{path}", timeout=timeout) as response:  # noqa: S310
                return PeerAnswer(response.status, response.read())
        except HTTPError as error:
            return PeerAnswer(error.code, error.read())


def peer_event(path: str) -> dict[str, object]:
    """An API Gateway HTTP API (payload 2.0) GET of `path`, as the peer's Lambda handler takes it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "*/*", "host": "ops.internal", "user-agent": "tasktracker-ops"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def peer_answer(name: str, payload: bytes) -> PeerAnswer:
    """A peer's API Gateway v2 answer as a status and body; anything else (a function error) raises."""
    result = json.loads(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        raise RuntimeError(f"{name} answered no HTTP response: {payload[:300]!r}")
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return PeerAnswer(int(result["statusCode"]), raw)


@dataclass(frozen=True)
class LambdaPeer:
    """A function deployed on Lambda, invoked by its function name."""

    name: str
    function_name: str
    invoker: FunctionInvoker

    def get(self, path: str, timeout: float) -> PeerAnswer:
        # The invoker's own socket timeouts bound the call; `timeout` is the caller's wait.
        return peer_answer(self.name, self.invoker.invoke(self.function_name, json.dumps(peer_event(path)).encode()))


@dataclass(frozen=True)
class InvokeUrlPeer:
    """A function's emulated Lambda environment, invoked at its Invoke API address."""

    name: str
    invoke_url: str

    def get(self, path: str, timeout: float) -> PeerAnswer:
        # The scheme was checked to be http(s) when FUNCTION_INVOKE_URLS was read.
        request = Request(  # noqa: S310
            f"{self.invoke_url}{EMULATOR_INVOCATIONS_PATH}", data=json.dumps(peer_event(path)).encode(), method="POST"
        )
        with urlopen(request, timeout=timeout) as response:  # noqa: S310
            return peer_answer(self.name, response.read())


def parse_function_urls(raw: str, routes: list[FunctionRoute], variable: str = "FUNCTION_URLS") -> dict[str, str]:
    """`auth=http://127.0.0.1:8101,tasks=http://...` names exactly the functions to watch; empty means
    every function of the route table at its own port on this machine."""
    if not raw.strip():
        return {route.name: f"http://127.0.0.1:{route.port}" for route in routes}
    known = {route.name for route in routes}
    urls: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, separator, url = (piece.strip() for piece in entry.partition("="))
        if not separator or name not in known:
            raise ConfigurationError(f"{variable}: {entry!r} is not <function>=<url> for a function of the routes")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ConfigurationError(f"{variable}: the address of {name} must be an http(s) URL, not {url!r}")
        urls[name] = url.rstrip("/")
    return urls


def parse_function_names(raw: str, routes: list[FunctionRoute], variable: str = "FUNCTION_NAMES") -> dict[str, str]:
    """`auth=stack-AuthFunction-1A2B,tasks=...`: each function of the route table by its deployed name."""
    known = {route.name for route in routes}
    names: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, separator, value = (piece.strip() for piece in entry.partition("="))
        if not separator or name not in known or not value:
            raise ConfigurationError(f"{variable}: {entry!r} is not <function>=<name> for a function of the routes")
        names[name] = value
    return names


def peers_from_environment(own_name: str, invoker: Callable[[], FunctionInvoker]) -> list[Peer]:
    """Every function but ops itself, reached the way the environment says: FUNCTION_NAMES (on Lambda, through
    `invoker()`), FUNCTION_INVOKE_URLS (emulated Lambda environments), else FUNCTION_URLS (HTTP)."""
    routes = load_routes()
    if os.environ.get("FUNCTION_NAMES", "").strip():
        names = parse_function_names(os.environ["FUNCTION_NAMES"], routes)
        lambda_invoker = invoker()
        return [LambdaPeer(name, deployed, lambda_invoker) for name, deployed in names.items() if name != own_name]
    if os.environ.get("FUNCTION_INVOKE_URLS", "").strip():
        urls = parse_function_urls(os.environ["FUNCTION_INVOKE_URLS"], routes, "FUNCTION_INVOKE_URLS")
        return [InvokeUrlPeer(name, url) for name, url in urls.items() if name != own_name]
    return peers_of(own_name, parse_function_urls(os.environ.get("FUNCTION_URLS", ""), routes))


def peers_of(own_name: str, function_urls: Mapping[str, str]) -> list[Peer]:
    """Every function but ops itself, at its URL."""
    return [HttpPeer(name, url) for name, url in function_urls.items() if name != own_name]


# One call per check of readiness (four services and five functions), per function and the worker for the
# merged metrics, and per function for the merged document: all three fan-outs at once fit without queueing.
FAN_OUT_THREADS = 20


class FanOutExecutor:
    """The process's one pool for fan-outs: a fixed number of threads, and each call (by kind and name) in at
    most one thread at a time.

    A call still running from an earlier fan-out (a hung peer waiting out its socket timeout) is waited for
    again rather than started twice, so a peer that hangs holds one thread, and repeated fan-outs never add
    threads or queue behind it.
    """

    def __init__(self, threads: int = FAN_OUT_THREADS):
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ops-fan-out")
        self._running: dict[tuple[str, str], Future[Any]] = {}
        self._lock = threading.Lock()

    def submit(self, kind: str, name: str, call: Callable[[], T]) -> Future[T]:
        key = (kind, name)
        with self._lock:
            running = self._running.get(key)
            if running is not None:
                return running
            future = self._pool.submit(call)
            self._running[key] = future
        future.add_done_callback(lambda done: self._finished(key, done))
        return future

    def _finished(self, key: tuple[str, str], future: Future[Any]) -> None:
        with self._lock:
            if self._running.get(key) is future:
                del self._running[key]


_executor: FanOutExecutor | None = None
_executor_lock = threading.Lock()


def fan_out_executor() -> FanOutExecutor:
    """Created on first use, so that a forked gunicorn worker makes its own."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = FanOutExecutor()
        return _executor


def call_concurrently(
    calls: Mapping[str, Callable[[], T]], timeout: float, *, kind: str = "", executor: FanOutExecutor | None = None
) -> dict[str, T | None]:
    """Runs every call at once in the process's fan-out pool and waits at most `timeout` for them; a call that
    fails or outlasts it gives None (and is logged). `kind` names the fan-out: a call of the same kind and
    name still running from an earlier one is waited for instead of started again."""
    pool = executor or fan_out_executor()
    futures = {name: pool.submit(kind, name, call) for name, call in calls.items()}
    # The caller's wait is bounded; a hung call keeps its one thread until its own socket timeout.
    wait_for(futures.values(), timeout=timeout)
    results: dict[str, T | None] = {}
    for name, future in futures.items():
        if not future.done():
            logger.warning("check timed out", extra={"check": name, "timeout_seconds": timeout})
            results[name] = None
        elif future.cancelled() or future.exception() is not None:
            error = "cancelled" if future.cancelled() else repr(future.exception())
            logger.warning("check failed", extra={"check": name, "error": error})
            results[name] = None
        else:
            results[name] = future.result()
    return results
