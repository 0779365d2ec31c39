"""The router's compose config passes `nginx -t` and serves the SPA with its security headers; Prometheus and
Grafana watch every function."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from infra.router.routing import CORRELATION_ID_PATTERN, render_nginx, spa_location
from local.services import free_port, wait_for_port
from tasktracker.platform import correlation
from tasktracker.routes import load_routes
from tests.infra.tooling import ROOT, ROUTER_DOCKERFILE, function_names, require_tool

COMPOSE_HOST_SUFFIX = ":8000"
COMPOSE_SPA_ROOT = "/usr/share/nginx/html"
COMPOSE_LISTEN = "8000"


def _compose_router_config() -> str:
    """What infra/router/Dockerfile renders: the same CLI with the same arguments."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.router.routing",
            "--host-suffix",
            COMPOSE_HOST_SUFFIX,
            "--spa-root",
            COMPOSE_SPA_ROOT,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout


def _without_upstream_hosts(config: str) -> str:
    return re.sub(r"server \S+;", "server UPSTREAM;", config).strip()


def _compose_config_at(workdir: Path, *, listen: str = COMPOSE_LISTEN, spa_root: str = COMPOSE_SPA_ROOT) -> str:
    """The compose router's config runnable here: each function at loopback instead of its service name (which
    exists only on the compose network), temp and pid paths under workdir, and the given address and SPA build.
    It first proves the rest of the text identical to what the image renders."""
    routes = load_routes()
    config = render_nginx(
        routes,
        hosts={route.name: f"127.0.0.1{COMPOSE_HOST_SUFFIX}" for route in routes},
        listen=listen,
        pid_file=str(workdir / "nginx.pid"),
        temp_dir=str(workdir),
        extra=spa_location(spa_root),
    )
    checked = (
        config.replace(f"pid {workdir}/nginx.pid;\n", "")
        .replace(f"root {spa_root};", f"root {COMPOSE_SPA_ROOT};")
        .replace(str(workdir), "/var/cache/nginx")
        .replace(f"listen {listen};", f"listen {COMPOSE_LISTEN};")
    )
    assert _without_upstream_hosts(checked) == _without_upstream_hosts(_compose_router_config())
    return config


def test_the_compose_router_addresses_each_function_by_its_service_name() -> None:
    upstream_servers = set(re.findall(r"^\s*server (\S+);", _compose_router_config(), re.MULTILINE))

    assert upstream_servers == {f"{name}{COMPOSE_HOST_SUFFIX}" for name in function_names()}


def test_the_router_dockerfile_renders_with_the_compose_host_suffix_and_the_spa_build() -> None:
    dockerfile = ROUTER_DOCKERFILE.read_text()

    assert f"ARG HOST_SUFFIX={COMPOSE_HOST_SUFFIX}" in dockerfile
    assert '--host-suffix "${HOST_SUFFIX}"' in dockerfile
    assert f"--spa-root {COMPOSE_SPA_ROOT} " in dockerfile
    # The build lands where the rendered config serves it from, out of a stage that builds frontend/.
    build_stage = re.search(rf"^COPY --from=(\S+) /\S+/dist {re.escape(COMPOSE_SPA_ROOT)}$", dockerfile, re.MULTILINE)
    assert build_stage is not None
    stage = dockerfile.split(f" AS {build_stage[1]}\n", 1)[1].split("\nFROM ", 1)[0]
    assert "npm ci" in stage
    assert "RUN npm run build" in stage


def test_the_compose_router_config_passes_nginx_t(tmp_path: Path) -> None:
    """nginx -t resolves every upstream host, so it checks the compose config with the functions at loopback."""
    nginx = require_tool("nginx")
    (tmp_path / "logs").mkdir()
    config_file = tmp_path / "nginx.conf"
    config_file.write_text(_compose_config_at(tmp_path))

    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(config_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_the_router_keeps_a_correlation_id_by_the_functions_rule() -> None:
    """One rule for both: an id the router hands on is one the functions keep, and the other way round."""
    assert CORRELATION_ID_PATTERN == correlation.PATTERN
    assert f'"~{correlation.PATTERN}" $http_x_correlation_id;' in _compose_router_config()
    assert "proxy_set_header X-Correlation-ID $correlation_id;" in _compose_router_config()


def test_the_prometheus_config_passes_promtool() -> None:
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "config", "infra/prometheus/prometheus.yml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_scrapes_every_function_once_and_the_worker() -> None:
    config = yaml.safe_load((ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
    scraped = {
        group["labels"]["function"]: (job["metrics_path"], target)
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }

    expected = {name: ("/metrics", f"{name}:8000") for name in function_names()}
    # ops's /metrics merges every function's series: its own are apart, so nothing is counted twice.
    expected["ops"] = ("/metrics/self", "ops:8000")
    expected["reminders-worker"] = ("/metrics", "worker:8107")
    assert scraped == expected


@pytest.mark.parametrize(
    "metric",
    [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "reminders_processed_total",
        "notifications_created_total",
        "storage_changes_settled_total",
        "storage_changes_failed_total",
        "emails_sent_total",
        "emails_failed_total",
        "webhook_deliveries_total",
        "outbox_delivery_latency_seconds_bucket",
        "outbox_delivery_runs_failed_total",
    ],
)
def test_the_grafana_dashboard_charts_the_metric(metric: str) -> None:
    dashboard = json.loads((ROOT / "infra" / "grafana" / "dashboards" / "tasktracker.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]

    assert any(metric in expression for expression in expressions)


def test_the_grafana_dashboard_charts_every_metric_of_the_worker() -> None:
    from prometheus_client import Metric

    from tasktracker.adapters.celery.metrics import WorkerMetrics

    dashboard = json.loads((ROOT / "infra" / "grafana" / "dashboards" / "tasktracker.json").read_text())
    expressions = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    families: list[Metric] = [family for metric in vars(WorkerMetrics()).values() for family in metric.describe()]

    assert [family.name for family in families if family.name not in expressions] == []


SPA_INDEX = '<!doctype html><div id="root"></div><script type="module" src="/assets/index-3f2a9c.js"></script>'
SPA_SCRIPT = "document.getElementById('root').textContent = 'Task Tracker';"


@pytest.fixture(scope="module")
def compose_router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The compose router's nginx config, running, serving a small stand-in for the SPA build."""
    nginx = require_tool("nginx")
    workdir = tmp_path_factory.mktemp("compose-router")
    (workdir / "logs").mkdir()
    # Started as root, nginx reads files as an unprivileged worker: the build sits outside pytest's private
    # temp directory, readable by all, as in the image.
    build = Path(tempfile.mkdtemp(prefix="spa-build-"))
    build.chmod(0o755)
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text(SPA_INDEX)
    (build / "assets" / "index-3f2a9c.js").write_text(SPA_SCRIPT)
    port = free_port()
    config_file = workdir / "nginx.conf"
    config_file.write_text(
        "daemon off;\n" + _compose_config_at(workdir, listen=f"127.0.0.1:{port}", spa_root=str(build))
    )
    with (workdir / "nginx.out").open("wb") as output:
        process = subprocess.Popen(
            [nginx, "-p", str(workdir), "-e", "stderr", "-c", str(config_file)], stdout=output, stderr=output
        )
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(build, ignore_errors=True)


def _assert_spa_security_headers(response: requests.Response) -> None:
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("Referrer-Policy") == "no-referrer"
    policy = response.headers.get("Content-Security-Policy", "")
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        assert directive in policy


@pytest.mark.parametrize("path", ["/", "/tasks/42"], ids=["entry", "client-side route"])
def test_the_compose_router_serves_the_spa_page_uncached_with_its_content_security_policy(
    compose_router: str, path: str
) -> None:
    response = requests.get(f"{compose_router}{path}", timeout=30)

    assert response.status_code == 200
    assert response.text == SPA_INDEX
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers.get("Cache-Control") == "no-cache"
    _assert_spa_security_headers(response)


def test_the_compose_router_serves_spa_assets_with_nosniff_and_long_caching(compose_router: str) -> None:
    response = requests.get(f"{compose_router}/assets/index-3f2a9c.js", timeout=30)

    assert response.status_code == 200
    assert response.text == SPA_SCRIPT
    assert "javascript" in response.headers["Content-Type"]
    assert "immutable" in response.headers.get("Cache-Control", "")
    _assert_spa_security_headers(response)


def test_the_compose_router_answers_a_missing_asset_with_404_not_the_page(compose_router: str) -> None:
    response = requests.get(f"{compose_router}/assets/index-0000.js", timeout=30)

    assert response.status_code == 404
    assert response.text != SPA_INDEX


def test_the_compose_router_serves_the_api_on_the_spas_origin(compose_router: str) -> None:
    """The SPA's /api calls reach this same server: an unknown API path gets the API's JSON error, not the page."""
    response = requests.get(f"{compose_router}/api/v1/no-such-function", timeout=30)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
