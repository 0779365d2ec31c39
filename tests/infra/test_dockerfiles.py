"""Every file a Dockerfile copies from the build context exists, for every function's build argument."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

import pytest

from tests.infra.tooling import DOCKERFILES, FUNCTION_DOCKERFILE, ROOT, ROUTER_DOCKERFILE, copies, function_names


def _missing_sources(dockerfile: Path, build_args: dict[str, str]) -> list[str]:
    missing = []
    for copy in copies(dockerfile, build_args):
        for source in copy.sources:
            # A glob must match something: `COPY frontend/package*.json` with no package.json fails the build.
            if not any(ROOT.glob(source.rstrip("/"))):
                missing.append(f"{copy.stage}: {source}")
    return missing


@pytest.mark.parametrize("function", function_names())
def test_the_function_image_copies_only_existing_files(function: str) -> None:
    assert _missing_sources(FUNCTION_DOCKERFILE, {"FUNCTION": function}) == []


@pytest.mark.parametrize("dockerfile", [path for path in DOCKERFILES if path != FUNCTION_DOCKERFILE], ids=str)
def test_the_router_image_copies_only_existing_files(dockerfile: Path) -> None:
    assert _missing_sources(dockerfile, {}) == []


def test_the_function_image_copies_the_function_named_by_its_build_argument() -> None:
    sources = {source for copy in copies(FUNCTION_DOCKERFILE, {"FUNCTION": "audit"}) for source in copy.sources}

    assert "functions/audit/" in sources
    assert not any(source.startswith(("functions/auth", "functions/tasks")) for source in sources)


def test_no_env_file_or_local_state_reaches_an_image() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".env", ".local", ".venv", ".git", "frontend/node_modules", "frontend/dist"} <= ignored


def _ignored_by_dockerignore(path: str) -> bool:
    """Whether .dockerignore keeps the path (or a folder above it) out of the build context."""
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    ignored = False
    for pattern in (pattern for pattern in patterns if pattern and not pattern.startswith("#")):
        negated, pattern = pattern.startswith("!"), pattern.removeprefix("!").rstrip("/")
        parts = path.rstrip("/").split("/")
        if any(fnmatch("/".join(parts[:depth]), pattern) for depth in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


def test_the_router_image_builds_the_spa_from_sources_in_the_build_context() -> None:
    sources = {source for copy in copies(ROUTER_DOCKERFILE) for source in copy.sources}

    assert {"frontend/package.json", "frontend/package-lock.json", "frontend/"} <= sources
    assert [source for source in sources if _ignored_by_dockerignore(source)] == []
    assert _ignored_by_dockerignore("frontend/node_modules/react/index.js")
    assert _ignored_by_dockerignore("frontend/dist/index.html")
    assert not _ignored_by_dockerignore("frontend/src/main.tsx")


def test_the_function_image_runs_gunicorn_with_the_shared_settings_and_metrics_in_its_own_tmpfs() -> None:
    dockerfile = FUNCTION_DOCKERFILE.read_text()
    # The last stage is the function's (the first is the migration).
    command = [line for line in dockerfile.splitlines() if line.startswith("CMD")][-1]

    assert "--config python:tasktracker.platform.gunicorn_config" in command
    # The settings file decides the workers and threads (overridable by the environment), not the command.
    assert "--workers" not in command and "--threads" not in command
    assert re.search(r"PROMETHEUS_MULTIPROC_DIR=/dev/shm/\S+", dockerfile)
