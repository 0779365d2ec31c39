"""The real stack for tests: PostgreSQL, Redis, moto S3, every function in gunicorn, and nginx in front."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra.router.routing import render_nginx, spa_location
from local.services import free_port, wait_for_port
from local.system_packages import nginx_path
from local.up import gunicorn_command, metrics_environment, request_body_limit
from tasktracker.routes import FunctionRoute, load_routes

ROOT = Path(__file__).resolve().parents[2]
TEST_JWT_SECRET = "test-only-secret-that-is-long-enough-for-hs256"
# Short, so that a test can wait past it; long enough for concurrent requests on a busy machine.
TEST_REFRESH_REUSE_GRACE_SECONDS = 3


def function_environment(database_url: str, redis_url: str, s3_endpoint_url: str, **overrides: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "S3_ENDPOINT_URL": s3_endpoint_url,
        "S3_BUCKET": "tasktracker-test",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "JWT_SECRET_KEY": TEST_JWT_SECRET,
        "RATE_LIMIT_DEFAULT": "100/minute",
        "RATE_LIMIT_LOGIN": "10/minute",
        "REFRESH_REUSE_GRACE_SECONDS": str(TEST_REFRESH_REUSE_GRACE_SECONDS),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


@dataclass
class RunningStack:
    base_url: str
    function_urls: dict[str, str]
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    def logs(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _start(name: str, command: list[str], env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("ab")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_healthy(url: str, stack: RunningStack, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process = stack.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{stack.logs(name)[-4000:]}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not become healthy:\n{stack.logs(name)[-4000:]}")


def metrics_directory(workdir: Path, function: str) -> Path:
    """Where a function's gunicorn workers write their metrics (one directory per function)."""
    return workdir / "metrics" / function


def selected_routes() -> list[FunctionRoute]:
    """TEST_FUNCTIONS=auth,tasks starts only those functions (handy while building one); default: all."""
    routes = load_routes()
    wanted = {name.strip() for name in os.environ.get("TEST_FUNCTIONS", "").split(",") if name.strip()}
    return [route for route in routes if route.name in wanted] if wanted else routes


def start_stack(
    env: dict[str, str],
    workdir: Path,
    routes: list[FunctionRoute] | None = None,
    spa_root: Path | None = None,
) -> RunningStack:
    """`spa_root` (a frontend build) is served at / by nginx."""
    routes = routes or selected_routes()
    workdir.mkdir(parents=True, exist_ok=True)
    nginx = nginx_path()
    router_port = free_port()
    ports = {route.name: free_port() for route in routes}
    # The ops function watches exactly the functions this stack runs.
    env = {**env, "FUNCTION_URLS": ",".join(f"{name}=http://127.0.0.1:{port}" for name, port in ports.items())}
    stack = RunningStack(
        f"http://127.0.0.1:{router_port}",
        {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
        workdir,
    )
    for route in routes:
        stack.processes[route.name] = _start(
            route.name,
            gunicorn_command(f"{route.module}:create_app()", ports[route.name]),
            metrics_environment(env, metrics_directory(workdir, route.name)),
            workdir,
        )
    config = workdir / "nginx.conf"
    config.write_text(
        render_nginx(
            routes,
            hosts={name: f"127.0.0.1:{port}" for name, port in ports.items()},
            listen=f"127.0.0.1:{router_port}",
            max_body_bytes=request_body_limit(env),
            daemon=False,
            pid_file=str(workdir / "nginx.pid"),
            temp_dir=str(workdir),
            access_log=str(workdir / "router-access.log"),
            error_log=str(workdir / "router-error.log"),
            extra=spa_location(str(spa_root.resolve())) if spa_root else "",
        )
    )
    stack.processes["router"] = _start("router", [nginx, "-c", str(config), "-p", str(workdir)], env, workdir)
    wait_for_port("127.0.0.1", router_port)
    for route in routes:
        _wait_healthy(f"{stack.function_urls[route.name]}/health/live", stack, route.name)
    return stack
