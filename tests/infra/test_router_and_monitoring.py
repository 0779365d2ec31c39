"""The router's compose config passes `nginx -t`; Prometheus and Grafana watch every function."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.router.routing import load_routes, render_nginx
from tests.infra.tooling import ROOT, function_names, require_tool

COMPOSE_HOST_SUFFIX = ":8000"


def _compose_router_config() -> str:
    """What infra/router/Dockerfile renders: the same CLI with the same arguments."""
    result = subprocess.run(
        [sys.executable, "-m", "infra.router.routing", "--host-suffix", COMPOSE_HOST_SUFFIX],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout


def _without_upstream_hosts(config: str) -> str:
    return re.sub(r"server \S+;", "server UPSTREAM;", config).strip()


def test_the_compose_router_addresses_each_function_by_its_service_name() -> None:
    upstream_servers = set(re.findall(r"^\s*server (\S+);", _compose_router_config(), re.MULTILINE))

    assert upstream_servers == {f"{name}{COMPOSE_HOST_SUFFIX}" for name in function_names()}


def test_the_router_dockerfile_renders_with_the_compose_host_suffix() -> None:
    dockerfile = (ROOT / "infra" / "router" / "Dockerfile").read_text()

    assert f"ARG HOST_SUFFIX={COMPOSE_HOST_SUFFIX}" in dockerfile
    assert '--host-suffix "${HOST_SUFFIX}"' in dockerfile


def test_the_compose_router_config_passes_nginx_t(tmp_path: Path) -> None:
    """nginx -t resolves every upstream host, and the service names exist only on the compose network: the
    config is rendered as the compose one with each function at loopback instead of its service name, and
    with its temp and pid paths under a scratch prefix; the test first proves the rest of the text identical."""
    nginx = require_tool("nginx")
    routes = load_routes()
    (tmp_path / "logs").mkdir()
    config = render_nginx(
        routes,
        hosts={route.name: f"127.0.0.1{COMPOSE_HOST_SUFFIX}" for route in routes},
        pid_file=str(tmp_path / "nginx.pid"),
        temp_dir=str(tmp_path),
    )
    config_file = tmp_path / "nginx.conf"
    config_file.write_text(config)
    checked = config.replace(f"pid {tmp_path}/nginx.pid;\n", "").replace(str(tmp_path), "/var/cache/nginx")
    assert _without_upstream_hosts(checked) == _without_upstream_hosts(_compose_router_config())

    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(config_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


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
    ["http_requests_total", "http_request_duration_seconds_bucket", "reminders_processed_total"],
)
def test_the_grafana_dashboard_charts_the_metric(metric: str) -> None:
    dashboard = json.loads((ROOT / "infra" / "grafana" / "dashboards" / "tasktracker.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]

    assert any(metric in expression for expression in expressions)


def test_the_spa_server_config_passes_nginx_t(tmp_path: Path) -> None:
    """The SPA's server block inside a minimal main config, the router's service name mapped to loopback."""
    nginx = require_tool("nginx")
    server = (ROOT / "infra" / "spa" / "nginx.conf").read_text()
    assert "proxy_pass http://router:8000;" in server
    (tmp_path / "logs").mkdir()
    config_file = tmp_path / "nginx.conf"
    config_file.write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n"
        f"client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"{server.replace('http://router:8000', 'http://127.0.0.1:8000')}\n}}\n"
    )

    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", "stderr", "-c", str(config_file)],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
