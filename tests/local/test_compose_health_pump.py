"""The compose health pump (local/compose.py) paces each container's checks as its health check's settings say."""

from __future__ import annotations

from typing import Any

import pytest

from local import compose
from local.compose import ContainerState, Stack
from local.containers import Engine


def inspected(interval_s: int, start_period_s: int, started_at: str = "t0") -> dict[str, Any]:
    return {
        "Name": "/p_worker_1",
        "Config": {
            "Labels": {"com.docker.compose.service": "worker"},
            "Healthcheck": {"Interval": interval_s * 10**9, "StartPeriod": start_period_s * 10**9, "Retries": 5},
        },
        "State": {"Status": "running", "StartedAt": started_at, "Health": {"Status": "starting"}},
    }


def checks_at(monkeypatch: pytest.MonkeyPatch, container: dict[str, Any], seconds: list[float]) -> list[float]:
    stack = Stack(engine=Engine("podman"))
    clock = iter(seconds)
    now = [0.0]
    ran: list[float] = []
    monkeypatch.setattr(compose.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(stack, "states", lambda: {"worker": ContainerState.of(container)})
    monkeypatch.setattr(stack, "_check", lambda name: ran.append(now[0]))
    for now[0] in clock:
        stack.pump_once()
    return ran


def test_inspect_durations_are_read_in_seconds() -> None:
    state = ContainerState.of(inspected(15, 20))
    assert (state.interval, state.start_period, state.started_at) == (15.0, 20.0, "t0")


def test_every_second_during_the_start_period_then_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = checks_at(monkeypatch, inspected(15, 20), [float(second) for second in range(60)])
    assert ran[:17] == [float(second) for second in range(17)]
    assert ran[17:] == [31.0, 46.0]


def test_without_a_start_period_only_once_per_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = checks_at(monkeypatch, inspected(5, 0), [float(second) for second in range(12)])
    assert ran == [0.0, 5.0, 10.0]
