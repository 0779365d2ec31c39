"""The ready check's verdict from its probes' answers: the services and functions decide, the worker is reported."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from functions.ops import peers, readiness
from functions.ops.peers import PeerAnswer
from functions.ops.readiness import Readiness
from tasktracker.application.ports import HealthState
from tasktracker.bootstrap.ops import DeferredProbe, HealthProbes


@dataclass
class Answers:
    state: HealthState = "up"
    fails: bool = False

    def check(self) -> HealthState:
        if self.fails:
            raise ConnectionError("no answer")
        return self.state


@dataclass(frozen=True)
class LivePeer:
    name: str
    status: int = 200

    def get(self, path: str, timeout: float) -> PeerAnswer:
        return PeerAnswer(self.status, b"")


@pytest.fixture(autouse=True)
def own_fan_out_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check still running from an earlier test (on a loaded machine) would be joined by this test's check of
    the same name, and answer for it: each test gets a pool of its own."""
    monkeypatch.setattr(peers, "_executor", peers.FanOutExecutor())


def probes(**overrides: Answers) -> HealthProbes:
    return HealthProbes(**{name: overrides.get(name, Answers()) for name in ("database", "redis", "storage", "worker")})


def test_every_service_and_function_up_is_ready() -> None:
    ready, body = Readiness(probes()).report([LivePeer("auth"), LivePeer("tasks")])

    assert ready
    assert body == {
        "status": "ok",
        "components": {
            "db": "up",
            "redis": "up",
            "s3": "up",
            "worker": "up",
            "functions": {"auth": "up", "tasks": "up"},
        },
    }


def test_a_service_that_fails_its_probe_or_answers_down_is_down_and_not_ready() -> None:
    ready, body = Readiness(probes(database=Answers(fails=True), redis=Answers("down"))).report([LivePeer("auth")])

    assert not ready
    assert body["status"] == "degraded"
    assert {name: body["components"][name] for name in ("db", "redis", "s3")} == {
        "db": "down",
        "redis": "down",
        "s3": "up",
    }


def test_a_function_that_is_not_live_is_down_and_not_ready() -> None:
    ready, body = Readiness(probes()).report([LivePeer("auth"), LivePeer("tasks", status=503)])

    assert not ready
    assert body["components"]["functions"] == {"auth": "up", "tasks": "down"}


def test_the_worker_is_reported_but_never_decides() -> None:
    down_ready, down = Readiness(probes(worker=Answers("down"))).report([])
    failing_ready, failing = Readiness(probes(worker=Answers(fails=True))).report([])

    assert down_ready and failing_ready
    assert down["components"]["worker"] == "down"
    assert failing["components"]["worker"] == "unknown"


def test_a_probe_made_at_its_first_check_is_made_outside_the_checks_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Making a deferred probe (SQLAlchemy's import, an engine) slower than the check's deadline, as on a busy
    machine's first ready check, does not make an up service look down."""
    monkeypatch.setattr(readiness, "CHECK_TIMEOUT_SECONDS", 0.2)

    def slow_to_make() -> Answers:
        time.sleep(0.5)
        return Answers()

    ready, body = Readiness(probes(database=DeferredProbe(slow_to_make))).report([LivePeer("auth")])  # type: ignore[arg-type]

    assert ready, body
    assert body["components"]["db"] == "up"
