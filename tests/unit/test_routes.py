"""The route table reader: the table ships with the layer and reads with the standard library alone."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tasktracker.routes import load_routes, route_for

LAYER = Path(__file__).resolve().parents[2] / "layers"


def test_each_function_is_listed_once_with_its_own_port() -> None:
    routes = load_routes()
    names = [route.name for route in routes]

    assert sorted(names) == ["attachments", "audit", "auth", "notifications", "ops", "reminders", "tasks"]
    assert len({route.port for route in routes}) == len(routes)
    assert all(route.module == f"functions.{route.name}.app" for route in routes)


def _function_for(path: str) -> str | None:
    route = route_for(path, load_routes())
    return route.name if route else None


def test_the_first_matching_function_takes_the_path() -> None:
    assert _function_for("/api/v1/tasks/abc/attachments") == "attachments"
    assert _function_for("/api/v1/tasks/abc") == "tasks"
    assert _function_for("/api/v1/tasksx") is None
    assert _function_for("/metrics") == "ops"
    assert _function_for("/api/v1/notifications/abc/read") == "notifications"


def test_the_table_is_package_data_of_the_layer() -> None:
    with (LAYER / "pyproject.toml").open("rb") as handle:
        package_data = tomllib.load(handle)["tool"]["setuptools"]["package-data"]

    assert "routes.toml" in package_data["tasktracker"]


def test_the_reader_works_from_a_zipped_layer_with_no_site_packages(tmp_path: Path) -> None:
    """As from a Lambda layer or a wheel: no file path to the table, and nothing beyond the standard library."""
    archive = tmp_path / "layer.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in ("__init__.py", "routes.py", "routes.toml"):
            zipped.write(LAYER / "tasktracker" / name, f"tasktracker/{name}")
    program = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(archive)!r})\n"
        "before = set(sys.modules)\n"
        "from tasktracker.routes import load_routes\n"
        "names = [route.name for route in load_routes()]\n"
        "loaded = sorted({m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names))\n"
        "print(json.dumps({'names': names, 'loaded': loaded}))\n"
    )
    # -S: no site-packages, so a third-party import would fail; -I: neither PYTHONPATH nor the working directory.
    ran = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program], capture_output=True, text=True, timeout=60, check=False
    )

    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    assert answer["names"] == [route.name for route in load_routes()]
    assert answer["loaded"] == ["tasktracker"]
