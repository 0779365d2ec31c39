"""Every function group (a folder of functions/ with an app.py) is wired into every place a group needs, and
every group those places name has its folder. README.md's "Adding a function group" lists the same places, in
the order to touch them; a failure here names the folder and the place.

The other infra tests check each place against the route table; this one anchors the route table, and the
places the route table does not reach, to the folders themselves.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.aws.bundle import function_names as function_folders
from infra.aws.bundle import layer_extras
from tasktracker.routes import load_routes, route_for
from tests.infra.test_aws_template import _functions as template_functions
from tests.infra.test_compose import _services as compose_services
from tests.infra.tooling import ROOT

FUNCTIONS = ROOT / "functions"
BOOTSTRAP = ROOT / "layers" / "tasktracker" / "bootstrap"
OPS = "ops"
# The reminders function's Celery worker is scraped on a port of its own; it is a process, not a folder.
WORKER_SCRAPE_LABEL = "reminders-worker"
# What a function that does not install the layer's s3 extra must never import (its cold start, and its image,
# lack boto3): a forbidden contract in pyproject.toml with the function among its source modules holds it.
COLD_START_FORBIDDEN = {"boto3", "botocore", "tasktracker.adapters.s3"}


@dataclass(frozen=True)
class Place:
    key: str
    where: str
    names: Callable[[], set[str]]
    # Which folders must appear (default: every one), and names that may appear without a folder.
    required: Callable[[str], bool] = lambda _name: True
    not_folders: frozenset[str] = field(default_factory=frozenset)
    # The message for a folder missing from the place, where "functions/<name>/ is missing from <where>" reads badly.
    missing: str | None = None

    def missing_message(self, name: str) -> str:
        return self.missing.format(name=name) if self.missing else f"functions/{name}/ is missing from {self.where}"


def _routes_by_name() -> set[str]:
    return {route.name for route in load_routes()}


def _routes_serving_their_docs() -> set[str]:
    """Functions whose /api/v1/<name>/docs (the docs index links each there) the router sends to them."""
    routes = load_routes()
    return {
        route.name
        for route in routes
        if (chosen := route_for(f"/api/v1/{route.name}/docs", routes)) is not None and chosen.name == route.name
    }


def _routes_with_their_module() -> set[str]:
    return {route.name for route in load_routes() if route.module == f"functions.{route.name}.app"}


def _bootstrap_modules() -> set[str]:
    return {path.stem for path in BOOTSTRAP.glob("*.py") if path.stem != "__init__"}


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved within its package)."""
    package = ".".join(path.relative_to(ROOT / "layers" if ROOT / "layers" in path.parents else ROOT).parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _shared_bootstrap_modules() -> frozenset[str]:
    """Bootstrap modules the per-function ones import (storage): helpers, not a group's own."""
    imported = {
        module.removeprefix("tasktracker.bootstrap.").split(".")[0]
        for path in BOOTSTRAP.glob("*.py")
        for module in _imports(path)
        if module.startswith("tasktracker.bootstrap.")
    }
    return frozenset(imported & _bootstrap_modules())


def _functions_importing_their_bootstrap() -> set[str]:
    return {
        name
        for name in function_folders()
        if any(f"tasktracker.bootstrap.{name}" in _imports(path) for path in (FUNCTIONS / name).rglob("*.py"))
    }


def _function_services(profile: str | None, suffix: str) -> set[str]:
    """Functions with a service `<name><suffix>` built from the function Dockerfile with FUNCTION=<name>."""
    found = set()
    for service_name, service in compose_services(profile).items():
        built_as = service.get("build", {}).get("args", {}).get("FUNCTION")
        if (
            built_as
            and service_name == f"{built_as}{suffix}"
            and (not suffix or profile in service.get("profiles", []))
        ):
            found.add(built_as)
    return found


def _compose_build_arguments() -> set[str]:
    """Every FUNCTION build argument of any service, in any profile (worker and beat build the reminders image)."""
    return {
        service["build"]["args"]["FUNCTION"]
        for service in compose_services("dev").values()
        if "FUNCTION" in service.get("build", {}).get("args", {})
    }


def _router_depends_on(router: str, suffix: str) -> set[str]:
    return {name.removesuffix(suffix) for name in compose_services("dev")[router]["depends_on"]}


def _watched_by(ops: str) -> set[str]:
    environment = compose_services("dev")[ops]["environment"]
    return {entry.split("=", 1)[0] for entry in environment["FUNCTION_URLS"].split(",") if entry}


def _template_http_functions() -> set[str]:
    return {
        name
        for name, properties in template_functions().items()
        if any(event["Type"] == "HttpApi" for event in properties.get("Events", {}).values())
    }


def _scraped_functions() -> set[str]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
    return {group["labels"]["function"] for job in config["scrape_configs"] for group in job["static_configs"]}


def _contracts() -> list[dict[str, Any]]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        contracts: list[dict[str, Any]] = tomllib.load(handle)["tool"]["importlinter"]["contracts"]
    return contracts


def _functions_with_a_cold_start_contract() -> set[str]:
    return {
        module.removeprefix("functions.")
        for contract in _contracts()
        if contract["type"] == "forbidden" and set(contract["forbidden_modules"]) >= COLD_START_FORBIDDEN
        for module in contract["source_modules"]
        if module.startswith("functions.")
    }


def _functions_named_by_contracts() -> set[str]:
    modules = [
        module
        for contract in _contracts()
        for key in ("source_modules", "modules", "layers")
        for entry in contract.get(key, [])
        for module in entry.split("|")
    ]
    return {module.strip().split(".")[1] for module in modules if module.strip().startswith("functions.")}


def _installs_boto3(name: str) -> bool:
    requirements = FUNCTIONS / name / "requirements.txt"
    return requirements.is_file() and "s3" in layer_extras(requirements)


def _with_layer_requirements() -> set[str]:
    found = set()
    for name in function_folders():
        try:
            layer_extras(FUNCTIONS / name / "requirements.txt")
        except (OSError, ValueError):
            continue
        found.add(name)
    return found


def _with_entry_points() -> set[str]:
    """Folders whose app.py defines create_app (gunicorn's target everywhere) and handler (Lambda's)."""
    found = set()
    for name in function_folders():
        tree = ast.parse((FUNCTIONS / name / "app.py").read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)} | {
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        if {"create_app", "handler"} <= defined:
            found.add(name)
    return found


def _readme_section(title: str) -> str:
    return (ROOT / "README.md").read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _readme_docs_urls() -> set[str]:
    match = re.search(r"/api/v1/\{([a-z_,-]+)\}/docs", _readme_section("URLs (with `make up`)"))
    return set(match[1].split(",")) if match else set()


def _readme_api_table() -> set[str]:
    rows = re.findall(r"^\| ([a-z_][a-z_-]*) \|", _readme_section("The API at a glance"), re.MULTILINE)
    return set(rows) - {"function"}


PLACES = [
    Place(
        "app",
        "app.py's entry points",
        _with_entry_points,
        missing="functions/{name}/app.py defines no create_app (gunicorn's entry) or no handler (Lambda's)",
    ),
    Place(
        "requirements",
        "requirements.txt",
        _with_layer_requirements,
        missing="functions/{name}/requirements.txt is missing or names no ../../layers[<extras>] line",
    ),
    Place(
        "bootstrap",
        "layers/tasktracker/bootstrap/",
        _bootstrap_modules,
        not_folders=_shared_bootstrap_modules(),
        missing="functions/{name}/ has no builder layers/tasktracker/bootstrap/{name}.py",
    ),
    Place(
        "bootstrap-import",
        "the function's imports",
        _functions_importing_their_bootstrap,
        missing="functions/{name}/ never imports its builder tasktracker.bootstrap.{name}",
    ),
    Place("routes", "the route table (layers/tasktracker/routes.toml)", _routes_by_name),
    Place("routes-module", "the route table's module = functions.<name>.app", _routes_with_their_module),
    Place("routes-docs", "the route table's patterns for /api/v1/<name>/docs", _routes_serving_their_docs),
    Place(
        "compose",
        "docker-compose.yml's services (<name>, built with FUNCTION=<name>)",
        lambda: _function_services(None, ""),
    ),
    # Only the reverse: a folder missing here is already missing from its service.
    Place(
        "compose-build",
        "docker-compose.yml's FUNCTION build arguments",
        _compose_build_arguments,
        required=lambda _name: False,
    ),
    Place("compose-router", "docker-compose.yml's router depends_on", lambda: _router_depends_on("router", "")),
    Place(
        "compose-ops",
        "docker-compose.yml's ops FUNCTION_URLS",
        lambda: _watched_by("ops"),
        required=lambda name: name != OPS,
    ),
    Place(
        "compose-dev",
        "docker-compose.yml's dev profile (<name>-dev, built with FUNCTION=<name>)",
        lambda: _function_services("dev", "-dev"),
    ),
    Place(
        "compose-dev-router",
        "docker-compose.yml's router-dev depends_on",
        lambda: _router_depends_on("router-dev", "-dev"),
    ),
    Place(
        "compose-dev-ops",
        "docker-compose.yml's ops-dev FUNCTION_URLS",
        lambda: _watched_by("ops-dev"),
        required=lambda name: name != OPS,
    ),
    Place(
        "sam",
        "the SAM template's AWS::Serverless::Function (infra/aws/template.yaml)",
        lambda: set(template_functions()),
    ),
    Place("sam-events", "the SAM template's HttpApi events (infra/aws/template.yaml)", _template_http_functions),
    Place(
        "prometheus",
        "Prometheus's scrape targets (infra/prometheus/prometheus.yml)",
        _scraped_functions,
        not_folders=frozenset({WORKER_SCRAPE_LABEL}),
    ),
    Place(
        "cold-start-contract",
        "pyproject.toml's import-linter contracts (a function without the s3 extra never loads boto3)",
        _functions_with_a_cold_start_contract,
        required=lambda name: not _installs_boto3(name),
    ),
    # Only the reverse: which functions need a contract of their own is the cold-start rule above.
    Place(
        "contracts",
        "pyproject.toml's import-linter contracts",
        _functions_named_by_contracts,
        required=lambda _name: False,
    ),
    Place("readme-docs", "README.md's Swagger UI URLs (## URLs)", _readme_docs_urls),
    Place("readme-api", "README.md's API table (## The API at a glance)", _readme_api_table),
]


@pytest.mark.parametrize("place", PLACES, ids=lambda place: place.key)
def test_every_function_folder_is_in_the_place_and_the_place_names_no_other(place: Place) -> None:
    folders = set(function_folders())
    found = place.names()

    problems = [
        place.missing_message(name) for name in sorted(folders) if place.required(name) and name not in found
    ] + [
        f"{place.where} names {name!r}, but there is no functions/{name}/app.py"
        for name in sorted(found - folders - place.not_folders)
    ]
    assert not problems, "\n".join(problems)


def test_the_folders_are_found() -> None:
    """The folders are the reference: an empty list would make every check above pass."""
    assert {"auth", "tasks", "ops"} <= set(function_folders())


def test_each_function_listens_on_a_port_of_its_own() -> None:
    """`make up` runs each function at its route table port; the worker's metrics port is taken too."""
    worker_port = int(compose_services()["worker"]["environment"]["WORKER_METRICS_PORT"])
    ports = [route.port for route in load_routes()]

    assert len(set(ports)) == len(ports), ports
    assert worker_port not in ports
