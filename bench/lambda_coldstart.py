"""Cold start on Lambda: each built function's first answer in a fresh environment of the Runtime Interface
Emulator (one emulator process is one execution environment), against a bare Flask + apig-wsgi function under
the same emulator and Python, with the INIT duration the emulator reports and what the first answer took after
INIT: the emulator runs INIT inside the first invoke, and on Lambda the functions import and build their app
during INIT (`lazy_lambda_handler`), so "after INIT" is the first request alone, what an environment restored
from a SnapStart snapshot still pays on top of the restore.

Needs `make lambda-build` (the SAM build, the emulator and awslambdaric); `make bench` builds and runs it as
its lambda part.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.lambda_runtime import (
    Emulator,
    bare_emulator,
    function_emulator,
    http_event,
    lambda_environment,
    lambda_python,
    template_python_version,
)
from tasktracker.routes import load_routes

RUNS = 3
BARE = "bare flask + apig-wsgi"


@dataclass(frozen=True)
class ColdStart:
    """Median over RUNS fresh environments: the first answer's round trip, the INIT duration, the first answer
    less its INIT, a warm answer."""

    first_ms: float
    init_ms: float | None
    warm_ms: float
    status: int
    after_init_ms: float | None = None


def first_request(function: str, token: str, task_id: str) -> dict[str, Any]:
    """What a client's first request to each function typically is: a read that needs the database and a token."""
    paths = {
        "auth": "/api/v1/auth/me",
        "tasks": "/api/v1/tasks",
        "attachments": f"/api/v1/tasks/{task_id}/attachments",
        "audit": "/api/v1/audit-events",
        "reminders": "/api/v1/reminders",
        "notifications": "/api/v1/notifications",
        "ops": "/api/v1/health/live",
    }
    return http_event("GET", paths[function], headers={"authorization": f"Bearer {token}"})


def cold_start(new_emulator: Callable[[], Emulator], event: Mapping[str, Any], runs: int = RUNS) -> ColdStart:
    firsts, inits, after_inits, warms, statuses = [], [], [], [], set()
    for _ in range(runs):
        emulator = new_emulator().start()
        try:
            first = emulator.invoke(event)
            warm = emulator.invoke(event)
        finally:
            emulator.stop()
        firsts.append(first.seconds * 1000)
        warms.append(warm.seconds * 1000)
        statuses.add(int(first.result.get("statusCode", 0)))
        init = emulator.init_milliseconds()
        if init is not None:
            inits.append(init)
            after_inits.append(first.seconds * 1000 - init)
    return ColdStart(
        first_ms=statistics.median(firsts),
        init_ms=statistics.median(inits) if inits else None,
        warm_ms=statistics.median(warms),
        status=max(statuses),
        after_init_ms=statistics.median(after_inits) if after_inits else None,
    )


def bare_cold_start(logs: Path, runs: int = RUNS) -> ColdStart:
    folder = Path(tempfile.mkdtemp(prefix="bare-function-"))
    return cold_start(lambda: bare_emulator(folder, logs), http_event("GET", "/health/live"), runs)


def measure_all(values: Mapping[str, str], token: str, task_id: str, logs: Path) -> dict[str, ColdStart]:
    """The bare function, then every function with the template's variables set from `values`."""
    version = subprocess.run(
        [lambda_python(), "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if version != template_python_version():
        raise RuntimeError(f"LAMBDA_PYTHON is Python {version}, the template's runtime is {template_python_version()}")
    figures = {BARE: bare_cold_start(logs)}
    for route in load_routes():
        env = lambda_environment(route.name, values)
        figures[route.name] = cold_start(
            lambda name=route.name, env=env: function_emulator(name, env, logs),  # type: ignore[misc]
            first_request(route.name, token, task_id),
        )
    return figures


def table(figures: Mapping[str, ColdStart]) -> str:
    bare = figures[BARE].first_ms
    lines = [f"{'function':<24}{'first answer':>14}{'x bare':>8}{'INIT':>10}{'after INIT':>12}{'warm':>9}"]
    for name, figure in figures.items():
        init = f"{figure.init_ms:.0f} ms" if figure.init_ms is not None else "-"
        after = f"{figure.after_init_ms:.0f} ms" if figure.after_init_ms is not None else "-"
        lines.append(
            f"{name:<24}{figure.first_ms:>11.0f} ms{figure.first_ms / bare:>8.2f}{init:>10}{after:>12}"
            f"{figure.warm_ms:>6.1f} ms"
        )
    return "\n".join(lines)
