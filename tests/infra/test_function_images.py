"""Each image's dependency list installs into a fresh venv and its entry points import, with nothing but
what its Dockerfile stage copies: proof that an image holds only its function's libraries and still starts.

Slow (a pip install per image, all at once, sharing pip's cache): deselect with `-m "not slow_install"`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.infra.tooling import FUNCTION_DOCKERFILE, ROOT, copies, function_names

pytestmark = pytest.mark.slow_install

MIGRATE = "migrate"
# The modules each container runs: the WSGI app, plus the worker's command line for the reminders image and the
# storage adapter its settler loads when it has a file to keep or delete.
ENTRY_MODULES = {
    name: [f"functions.{name}.app", "gunicorn", "tasktracker.platform.gunicorn_config"] for name in function_names()
}
ENTRY_MODULES["reminders"] += ["functions.reminders.cli", "celery", "tasktracker.adapters.s3.storage"]
ENTRY_MODULES[MIGRATE] = ["tasktracker.adapters.sqlalchemy.migrate"]
# Every function reads the route table from the layer it installs; none carries infra/ to find it.
ROUTE_TABLE_CHECK = "from tasktracker.routes import load_routes; assert load_routes()"
# Libraries an image must not carry: each function installs only its own extras.
FORBIDDEN_MODULES = {
    "auth": ["boto3", "celery"],
    "audit": ["boto3", "celery", "argon2"],
    "notifications": ["boto3", "celery", "argon2"],
    MIGRATE: ["flask"],
}


@dataclass(frozen=True)
class Outcome:
    step: str
    returncode: int
    output: str


def _copy_like_docker(image: str, app_dir: Path) -> None:
    stage = MIGRATE if image == MIGRATE else "function"
    # The migrate stage uses no build argument; the function stage's copies are filtered out for it.
    for copy in copies(FUNCTION_DOCKERFILE, {"FUNCTION": image}):
        if copy.stage != stage:
            continue
        for source in copy.sources:
            origin, target = ROOT / source, app_dir / copy.destination
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.egg-info"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def _run(step: str, command: list[str], cwd: Path) -> Outcome:
    # Nothing of the repository or the test venv may leak in (no PYTHONPATH); pip keeps its own settings.
    environment = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME") or key.startswith("PIP_")}
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=900)
    return Outcome(step, result.returncode, (result.stdout + result.stderr)[-4000:])


def _build(image: str, workspace: Path) -> list[Outcome]:
    app_dir, environment_dir = workspace / image / "app", workspace / image / "venv"
    _copy_like_docker(image, app_dir)
    venv.create(environment_dir, with_pip=False)
    python = str(environment_dir / "bin" / "python")
    # The pip of this interpreter installs into the fresh venv: no pip bootstrap per image, one shared cache.
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--disable-pip-version-check"]
    if image == MIGRATE:
        installed = _run("install", [*pip, "./layers[db]"], app_dir)
    else:
        installed = _run("install", [*pip, "-r", "requirements.txt", "gunicorn>=23"], app_dir / "functions" / image)
    if installed.returncode != 0:
        return [installed]
    imports = "; ".join(f"import {module}" for module in ENTRY_MODULES[image])
    absent = FORBIDDEN_MODULES.get(image, []) + ([] if image == MIGRATE else ["infra"])
    if image != MIGRATE:
        imports = f"{imports}; {ROUTE_TABLE_CHECK}"
    check_absent = (
        f"import importlib.util as u; missing = [m for m in {absent!r} if u.find_spec(m)]; "
        "assert not missing, f'installed but not needed: {missing}'"
    )
    return [installed, _run("import", [python, "-c", f"{imports}; {check_absent}"], app_dir)]


@pytest.fixture(scope="module")
def built_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[Outcome]]]:
    workspace = tmp_path_factory.mktemp("images")
    images = [*function_names(), MIGRATE]
    with ThreadPoolExecutor(max_workers=len(images)) as pool:
        outcomes = dict(zip(images, pool.map(lambda image: _build(image, workspace), images), strict=True))
    yield outcomes
    shutil.rmtree(workspace, ignore_errors=True)


@pytest.mark.parametrize("image", [*function_names(), MIGRATE])
def test_the_image_dependencies_install_and_its_entry_points_import(
    image: str, built_images: dict[str, list[Outcome]]
) -> None:
    failures = [f"{outcome.step} failed:\n{outcome.output}" for outcome in built_images[image] if outcome.returncode]

    assert failures == []
    assert [outcome.step for outcome in built_images[image]] == ["install", "import"]
