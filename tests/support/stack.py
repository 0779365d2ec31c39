"""The real stack for tests: every function in gunicorn behind nginx, started as `make up` starts it
(local/stack.py), on the test's own services and free ports."""

from __future__ import annotations

import os
from pathlib import Path

from local.stack import (
    ROOT,
    TEST_JWT_SECRET,
    TEST_REFRESH_REUSE_GRACE_SECONDS,
    RunningStack,
    function_environment,
    metrics_directory,
)
from local.stack import start_stack as start_local_stack
from tasktracker.routes import FunctionRoute, load_routes

__all__ = [
    "ROOT",
    "TEST_JWT_SECRET",
    "TEST_REFRESH_REUSE_GRACE_SECONDS",
    "RunningStack",
    "function_environment",
    "metrics_directory",
    "selected_routes",
    "start_stack",
]


def selected_routes() -> list[FunctionRoute]:
    """TEST_FUNCTIONS=auth,tasks starts only those functions (handy while building one); default: all."""
    routes = load_routes()
    wanted = {name.strip() for name in os.environ.get("TEST_FUNCTIONS", "").split(",") if name.strip()}
    return [route for route in routes if route.name in wanted] if wanted else routes


def start_stack(
    env: dict[str, str], workdir: Path, routes: list[FunctionRoute] | None = None, spa_root: Path | None = None
) -> RunningStack:
    """The stack on free ports with the functions TEST_FUNCTIONS selects (default: all)."""
    return start_local_stack(env, workdir, routes or selected_routes(), spa_root)
