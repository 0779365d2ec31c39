"""Every file a Dockerfile copies from the build context exists, for every function's build argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.tooling import DOCKERFILES, FUNCTION_DOCKERFILE, ROOT, copies, function_names


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
def test_the_router_and_spa_images_copy_only_existing_files(dockerfile: Path) -> None:
    assert _missing_sources(dockerfile, {}) == []


def test_the_function_image_copies_the_function_named_by_its_build_argument() -> None:
    sources = {source for copy in copies(FUNCTION_DOCKERFILE, {"FUNCTION": "audit"}) for source in copy.sources}

    assert "functions/audit/" in sources
    assert not any(source.startswith(("functions/auth", "functions/tasks")) for source in sources)


def test_no_env_file_or_local_state_reaches_an_image() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".env", ".local", ".venv", ".git", "frontend/node_modules"} <= ignored
