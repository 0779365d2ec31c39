"""The SPA in real Chromium against the real stack: nginx serves the production build at / and the API under /api."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from local import system_packages
from tests.support.programs import require_system_program
from tests.support.stack import ROOT, RunningStack, start_stack

FRONTEND = ROOT / "frontend"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# The program make test installs, wherever CHROMIUM_PATH points.
CHROMIUM_PACKAGE = replace(system_packages.CHROMIUM, command=str(CHROMIUM))
BUILD_INPUTS = ("src", "index.html", "vite.config.ts", "package.json", "package-lock.json", "tsconfig.json")
E2E_TIMEOUT_SECONDS = 300


def _newest_mtime(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    return max((child.stat().st_mtime for child in path.rglob("*") if child.is_file()), default=0.0)


def _build_is_stale() -> bool:
    built = FRONTEND / "dist" / "index.html"
    if not built.exists():
        return True
    return max(_newest_mtime(FRONTEND / name) for name in BUILD_INPUTS) > built.stat().st_mtime


def _npm(*args: str) -> None:
    result = subprocess.run(["npm", *args], cwd=FRONTEND, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def spa_build() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed to build and drive the SPA")
    require_system_program(CHROMIUM_PACKAGE)
    if not (FRONTEND / "node_modules").exists():
        _npm("ci")
    if _build_is_stale():
        _npm("run", "build")
    return FRONTEND / "dist"


@pytest.fixture(scope="module")
def spa_stack(
    stack_env: dict[str, str], spa_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    running = start_stack(stack_env, tmp_path_factory.mktemp("spa-stack"), spa_root=spa_build)
    yield running
    running.stop()


def _service_logs(stack: RunningStack) -> str:
    names = sorted(path.stem for path in stack.log_directory.glob("*.log"))
    return "\n".join(f"--- {name} (last lines)\n{stack.logs(name)[-1500:]}" for name in names)


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")


def test_the_spa_flows_work_in_chromium(
    spa_stack: RunningStack, stack_env: dict[str, str], fresh_rate_limits: None
) -> None:
    # The browser run starts a reminder pass (`make reminders`' command) on the stack's database when its steps need
    # one: a task it made due soon must reach its owner's bell.
    reminder_pass = [sys.executable, "-m", "functions.reminders.cli", "run"]
    try:
        result = subprocess.run(
            ["node", str(FRONTEND / "e2e" / "run.mjs")],
            cwd=FRONTEND,
            env={
                **stack_env,
                "BASE_URL": spa_stack.base_url,
                "CHROMIUM_PATH": str(CHROMIUM),
                "REMINDER_PASS_COMMAND": json.dumps(reminder_pass),
                "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers")]),
            },
            capture_output=True,
            text=True,
            timeout=E2E_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"the browser run did not end within {E2E_TIMEOUT_SECONDS} s; what it printed:\n"
            f"{_text(expired.stdout)}\n{_text(expired.stderr)}\n{_service_logs(spa_stack)}"
        )
    print(result.stdout)
    print(result.stderr)
    assert result.returncode == 0, (
        f"the browser run failed (screenshots in test-artifacts/screenshots):\n{result.stdout}\n{result.stderr}\n"
        f"{_service_logs(spa_stack)}"
    )
