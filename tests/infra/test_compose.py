"""docker-compose.yml is valid in every profile and wires every function of the route table the same way.

Validated by Debian's docker-compose (1.29), which needs no Docker engine for `config`.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from typing import Any

import pytest
import yaml

from tests.infra.tooling import ROOT, function_names, require_tool

PROFILES = [None, "moto", "dev"]
ONE_SHOT_SERVICES = {"migrate", "s3-bucket"}


@cache
def _rendered(profile: str | None) -> dict[str, Any]:
    docker_compose = require_tool("docker-compose")
    profile_arguments = ["--profile", profile] if profile else []
    result = subprocess.run(
        [docker_compose, "-f", "docker-compose.yml", *profile_arguments, "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        # No .env of the developer's may change what is checked; the compose file's defaults are.
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "COMPOSE_PROJECT_NAME": "tasktracker"},
    )
    assert result.returncode == 0, result.stderr
    rendered: dict[str, Any] = yaml.safe_load(result.stdout)
    return rendered


def _services(profile: str | None = None) -> dict[str, dict[str, Any]]:
    """The services that run with the profile. docker-compose 1.29 lists every service whatever the profile."""
    services: dict[str, dict[str, Any]] = _rendered(profile)["services"]
    return {
        name: service
        for name, service in services.items()
        if not service.get("profiles") or profile in service["profiles"]
    }


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile or "default")
def test_the_compose_file_is_valid_in_the_profile(profile: str | None) -> None:
    assert _services(profile)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile or "default")
def test_every_long_running_service_has_a_health_check(profile: str | None) -> None:
    unchecked = [
        name
        for name, service in _services(profile).items()
        if name not in ONE_SHOT_SERVICES and "test" not in service.get("healthcheck", {})
    ]

    assert unchecked == []


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile or "default")
def test_every_dependency_runs_in_the_same_profile(profile: str | None) -> None:
    services = _services(profile)
    dangling = {
        f"{name} -> {dependency}"
        for name, service in services.items()
        for dependency in service.get("depends_on", {})
        if dependency not in services
    }

    assert dangling == set()


@pytest.mark.parametrize("function", function_names())
def test_each_function_is_built_from_the_one_dockerfile_with_its_name(function: str) -> None:
    build = _services()[function]["build"]

    assert build["dockerfile"].endswith("infra/docker/function.Dockerfile")
    assert build["args"] == {"FUNCTION": function}


@pytest.mark.parametrize("function", function_names())
def test_each_function_waits_for_the_migration_and_redis(function: str) -> None:
    depends_on = _services()[function]["depends_on"]

    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["redis"]["condition"] == "service_healthy"


@pytest.mark.parametrize("function", function_names())
def test_the_dev_profile_reloads_each_function_from_the_mounted_code(function: str) -> None:
    service = _services("dev")[f"{function}-dev"]

    command = " ".join(service["command"])
    assert "--reload" in command
    assert "--config python:tasktracker.platform.gunicorn_config" in command
    assert "--workers" not in command and "--threads" not in command
    mounted = {volume["target"] if isinstance(volume, dict) else volume.split(":")[1] for volume in service["volumes"]}
    assert {"/app/functions", "/app/layers/tasktracker"} <= mounted


ROUTERS = {None: {"router"}, "moto": {"router"}, "dev": {"router", "router-dev"}}


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile or "default")
def test_browsers_reach_the_product_only_through_a_router_with_nothing_in_front(profile: str | None) -> None:
    """The router serves the SPA and the API and is the one hop, so it sets the client address the per-address
    rate limits key on; a server proxying /api to it would make every browser one address."""
    services = _services(profile)
    dockerfiles = {name: service["build"]["dockerfile"] for name, service in services.items() if "build" in service}
    routers = {name for name, dockerfile in dockerfiles.items() if dockerfile.endswith("infra/router/Dockerfile")}
    built_and_published = {name for name in dockerfiles if services[name].get("ports")}
    referring_to_a_router = {
        name
        for name, service in services.items()
        if name not in routers
        and re.search(r"(?<![\w/.-])router(-dev)?:\d+|//router(-dev)?\b", str(service | {"depends_on": {}}))
    }

    assert routers == ROUTERS[profile]
    # Every other image of ours is a function's: no second web server (an SPA proxy) is built.
    assert all(dockerfiles[name].endswith("infra/docker/function.Dockerfile") for name in set(dockerfiles) - routers)
    assert built_and_published == routers
    published = {name: tuple(str(port["target"]) for port in services[name]["ports"]) for name in routers}
    assert published == dict.fromkeys(routers, ("8000",))
    assert referring_to_a_router == set()


def test_the_router_starts_after_every_function_is_healthy() -> None:
    depends_on = _services()["router"]["depends_on"]

    assert {name: rule["condition"] for name, rule in depends_on.items()} == dict.fromkeys(
        function_names(), "service_healthy"
    )


@pytest.mark.parametrize(("ops", "suffix"), [("ops", ""), ("ops-dev", "-dev")])
def test_ops_watches_every_other_function_at_its_service_name(ops: str, suffix: str) -> None:
    services = _services("dev")
    environment = services[ops]["environment"]
    watched = dict(entry.split("=", 1) for entry in environment["FUNCTION_URLS"].split(","))

    assert watched == {name: f"http://{name}{suffix}:8000" for name in function_names() if name != "ops"}
    assert all(url.split("//")[1].split(":")[0] in services for url in watched.values())
    assert environment["WORKER_METRICS_URL"] == "http://worker:8107"


def test_the_worker_and_beat_run_the_reminders_image_and_beat_runs_alone() -> None:
    services = _services()

    for name in ("worker", "beat"):
        assert services[name]["image"] == services["reminders"]["image"]
        assert services[name]["command"][:3] == ["python", "-m", "functions.reminders.cli"]
    assert services["beat"].get("deploy", {}).get("replicas") == 1
    assert services["beat"].get("scale", 1) == 1


def test_the_bucket_lets_the_browser_upload_from_the_routers_origin_by_default() -> None:
    bucket = _services()["s3-bucket"]
    router_port = str(_services()["router"]["ports"][0]["published"])

    assert bucket["environment"]["ROUTER_PORT"] == router_port
    assert '"$${SPA_ORIGIN:-http://localhost:$$ROUTER_PORT}"' in bucket["command"][0]
    assert "$$SPA_ORIGIN" in bucket["command"][0].split("AllowedOrigins", 1)[1]


def test_the_bucket_gets_the_rule_that_expires_unconfirmed_uploads() -> None:
    bucket = _services()["s3-bucket"]
    # docker-compose renders short volume syntax: source:target:mode.
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in bucket["volumes"]}

    assert mounts["/etc/tasktracker/bucket-lifecycle.json"] == str(ROOT / "infra" / "s3" / "bucket-lifecycle.json")
    assert "put-bucket-lifecycle-configuration" in bucket["command"][0]
    assert "file:///etc/tasktracker/bucket-lifecycle.json" in bucket["command"][0]


def test_s3_is_localstack_by_default_and_moto_in_its_profile() -> None:
    default, moto = _services(), _services("moto")

    assert default["auth"]["environment"]["S3_ENDPOINT_URL"] == "http://localstack:4566"
    assert "moto" not in default
    assert {"moto", "s3-browser"} <= set(moto)
    assert "LOCALSTACK_AUTH_TOKEN" in default["localstack"]["environment"]


def test_no_image_is_given_a_real_secret() -> None:
    for name, service in _services().items():
        arguments = service.get("build", {}).get("args", {})
        assert not any("SECRET" in key or "TOKEN" in key or "PASSWORD" in key for key in arguments), name


def _variables_read_by_the_code() -> set[str]:
    config = (ROOT / "layers" / "tasktracker" / "config.py").read_text()
    return set(re.findall(r"""(?:environ\.get|_int|_float|_flag)\(\s*"([A-Z0-9_]+)\"""", config))


def test_every_setting_the_functions_read_is_given_to_them() -> None:
    environment = _services()["auth"]["environment"]
    # AWS_DEFAULT_REGION is only the fallback of AWS_REGION.
    missing = _variables_read_by_the_code() - set(environment) - {"AWS_DEFAULT_REGION"}

    assert missing == set()


def test_e_mail_goes_to_mailpit_which_keeps_one_message_per_message_id() -> None:
    services = _services()
    mailpit = services["mailpit"]

    assert mailpit["image"].startswith("axllent/mailpit:")
    # A resend after a lost answer carries the same Message-ID: Mailpit shows it once.
    assert mailpit["environment"]["MP_IGNORE_DUPLICATE_IDS"] == "true"
    assert [str(port["target"]) for port in mailpit["ports"]] == ["8025"]
    assert services["worker"]["environment"]["SMTP_URL"] == "smtp://mailpit:1025"
    assert services["worker"]["depends_on"]["mailpit"]["condition"] == "service_healthy"
    assert services["worker"]["environment"]["APP_BASE_URL"] == "http://localhost:8000"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile or "default")
def test_webhooks_are_checked_at_creation_as_they_are_at_delivery(profile: str | None) -> None:
    """The development stack lets webhooks aim at other containers and the host; the notifications function (which
    checks a target when a webhook is created) and the worker (which checks it again at each delivery) must agree,
    or a webhook would be accepted and then never delivered."""
    services = _services(profile)
    checking = [name for name in services if name.startswith("notifications") or name == "worker"]

    assert {services[name]["environment"]["WEBHOOK_ALLOW_PRIVATE_TARGETS"] for name in checking} == {"true"}


def test_env_example_lists_every_variable_the_compose_file_reads() -> None:
    # $${NAME} is the container's own variable, escaped from compose.
    compose_variables = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    example_lines = (ROOT / ".env.example").read_text().splitlines()
    example = {line.split("=", 1)[0] for line in example_lines if re.match(r"[A-Z0-9_]+=", line)}

    assert compose_variables - example == set()
