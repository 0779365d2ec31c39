"""Is every backing service and function answering? Checked concurrently, each within a short timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from tasktracker.bootstrap.ops import HealthProbes

from .peers import Peer, call_concurrently

CHECK_TIMEOUT_SECONDS = 2.0
# Client-side socket timeouts stay under the check timeout, so a hung service rarely outlives its check.
SOCKET_TIMEOUT_SECONDS = 1.0

State = Literal["up", "down"]


def _state(is_up: bool | None) -> State:
    return "up" if is_up else "down"


class Readiness:
    def __init__(self, probes: HealthProbes):
        self.probes = probes

    def report(self, peers: list[Peer]) -> tuple[bool, dict[str, Any]]:
        """(ready, body): ready when the database, Redis, S3 and every function are up; the worker is only
        reported (from the heartbeat it writes to Redis), since the API serves requests without it."""
        self.probes.prepare()
        checks: dict[str, Callable[[], object]] = {
            "db": self.probes.database.check,
            "redis": self.probes.redis.check,
            "s3": self.probes.storage.check,
            "worker": self.probes.worker.check,
        }
        for peer in peers:
            checks[f"function:{peer.name}"] = _live_check(peer)
        results = call_concurrently(checks, CHECK_TIMEOUT_SECONDS, kind="ready")
        functions = {peer.name: _state(bool(results[f"function:{peer.name}"])) for peer in peers}
        services = {name: _state(results[name] == "up") for name in ("db", "redis", "s3")}
        ready = all(state == "up" for state in (*services.values(), *functions.values()))
        worker = results["worker"] or "unknown"
        body = {
            "status": "ok" if ready else "degraded",
            "components": {**services, "worker": worker, "functions": functions},
        }
        return ready, body


def _live_check(peer: Peer) -> Callable[[], bool]:
    def is_live() -> bool:
        return peer.get("/health/live", SOCKET_TIMEOUT_SECONDS).status == 200

    return is_live
