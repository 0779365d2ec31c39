"""The other functions, as ops reaches them: over HTTP at their own address."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import urlopen

from tasktracker.config import ConfigurationError
from tasktracker.routes import FunctionRoute, load_routes

logger = logging.getLogger("tasktracker.ops")

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


def parse_function_urls(raw: str, routes: list[FunctionRoute]) -> dict[str, str]:
    """`auth=http://127.0.0.1:8101,tasks=http://...` names exactly the functions to watch; empty means
    every function of the route table at its own port on this machine."""
    if not raw.strip():
        return {route.name: f"http://127.0.0.1:{route.port}" for route in routes}
    known = {route.name for route in routes}
    urls: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, separator, url = (piece.strip() for piece in entry.partition("="))
        if not separator or name not in known:
            raise ConfigurationError(f"FUNCTION_URLS: {entry!r} is not <function>=<url> for a function of the routes")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ConfigurationError(f"FUNCTION_URLS: the address of {name} must be an http(s) URL, not {url!r}")
        urls[name] = url.rstrip("/")
    return urls


def function_urls_from_environment() -> dict[str, str]:
    return parse_function_urls(os.environ.get("FUNCTION_URLS", ""), load_routes())


def peers_of(own_name: str, function_urls: Mapping[str, str]) -> list[Peer]:
    """Every function but ops itself, at its URL."""
    return [HttpPeer(name, url) for name, url in function_urls.items() if name != own_name]


def call_concurrently(calls: Mapping[str, Callable[[], T]], timeout: float) -> dict[str, T | None]:
    """Runs every call at once; a call that fails or outlasts `timeout` gives None (and is logged)."""
    # No `with`: leaving it would wait for a hung call. Its thread ends on its own socket timeout.
    pool = ThreadPoolExecutor(max_workers=max(len(calls), 1), thread_name_prefix="ops-check")
    futures = {name: pool.submit(call) for name, call in calls.items()}
    pool.shutdown(wait=False)
    wait_for(futures.values(), timeout=timeout)
    results: dict[str, T | None] = {}
    for name, future in futures.items():
        if not future.done():
            future.cancel()
            logger.warning("check timed out", extra={"check": name, "timeout_seconds": timeout})
            results[name] = None
        elif future.exception() is not None:
            logger.warning("check failed", extra={"check": name, "error": repr(future.exception())})
            results[name] = None
        else:
            results[name] = future.result()
    return results
