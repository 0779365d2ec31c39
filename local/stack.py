"""The stack as it runs on one machine: every function in its own gunicorn, behind nginx rendered from the
route table. `make up`, the tests and the bench all start it through `start_stack`, so all three run the
same processes with the same settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

from infra.router.routing import render_nginx, spa_location
from tasktracker.config import DEFAULT_MAX_UPLOAD_BYTES, MULTIPART_OVERHEAD_BYTES
from tasktracker.routes import FunctionRoute, load_routes

from .services import free_port
from .system_packages import nginx_path

ROOT = Path(__file__).resolve().parent.parent
TEST_JWT_SECRET = "test-only-secret-that-is-long-enough-for-hs256"
# Short, so that a test can wait past it; long enough for concurrent requests on a busy machine.
TEST_REFRESH_REUSE_GRACE_SECONDS = 3
STARTUP_SECONDS = 60.0

Announce = Callable[[str, str], None]


class StartupError(RuntimeError):
    """A process of the stack exited, or never answered, while the stack was starting."""


def gunicorn_command(target: str, port: int, *, reload: bool = False) -> list[str]:
    """Workers, threads and the metrics directory come from tasktracker.platform.gunicorn_config, as in the
    containers (WEB_CONCURRENCY and GUNICORN_THREADS override them)."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        target,
        "--config",
        "python:tasktracker.platform.gunicorn_config",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        # Several gunicorns run side by side; the default control socket path would be shared.
        "--no-control-socket",
    ]
    if reload:
        command += ["--reload"]
    return command


def metrics_environment(env: Mapping[str, str], directory: Path) -> dict[str, str]:
    """A function's environment with a metrics directory of its own (emptied by gunicorn as it starts)."""
    return {**env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}


def request_body_limit(env: Mapping[str, str]) -> int:
    """What the router lets through: the functions' own limit (largest upload plus its multipart envelope)."""
    return int(env.get("MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES) + MULTIPART_OVERHEAD_BYTES


def function_environment(database_url: str, redis_url: str, s3_endpoint_url: str, **overrides: str) -> dict[str, str]:
    """The functions' environment for a stack that is not `make up` (the tests, the bench): its own bucket,
    a test secret, quiet logs."""
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
        "RATE_LIMIT_OPS": "60/minute",
        "REFRESH_REUSE_GRACE_SECONDS": str(TEST_REFRESH_REUSE_GRACE_SECONDS),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def ensure_attachments_bucket(env: Mapping[str, str]) -> None:
    """The attachments bucket with its lifecycle rules, made as compose's s3-bucket job and the SAM template
    make it: infrastructure that exists before the functions, which make their S3 clients only on first use."""
    import boto3

    from tasktracker.adapters.s3.storage import S3FileStorage
    from tasktracker.config import Settings

    client = boto3.client(
        "s3",
        endpoint_url=env.get("S3_ENDPOINT_URL") or None,
        region_name=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
    )
    bucket = env.get("S3_BUCKET") or Settings.s3_bucket
    # The adapter's own check: the same bucket and lifecycle rules the functions would have made.
    S3FileStorage(client, bucket).ensure_bucket()


def metrics_directory(workdir: Path, function: str) -> Path:
    """Where a function's gunicorn workers write their metrics (one directory per function)."""
    return workdir / "metrics" / function


@dataclass
class RunningStack:
    base_url: str
    function_urls: dict[str, str]
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def log_directory(self) -> Path:
        return self.workdir / "logs"

    def start(self, name: str, command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Starts one more process of the stack (a function, the router, the worker), logging to logs/<name>."""
        self.log_directory.mkdir(parents=True, exist_ok=True)
        log = (self.log_directory / f"{name}.log").open("ab")
        process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def exited(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def wait_until_answering(self, url: str, name: str, timeout: float = STARTUP_SECONDS) -> None:
        """Until `url` answers below 500; a process that exits meanwhile fails at once, with its log's end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise StartupError(f"{name} exited with {self.processes[name].returncode}:\n{self.logs(name)[-4000:]}")
            try:
                with urlopen(url, timeout=1) as response:  # noqa: S310 - a loopback URL of our own
                    if response.status < 500:
                        return
            except HTTPError as error:
                # An answer all the same (the router's 404 when the stack runs without ops).
                if error.code < 500:
                    return
            except OSError:  # URLError too: nothing listens yet
                pass
            time.sleep(0.1)
        raise StartupError(f"{name} did not answer {url} within {timeout:.0f} s:\n{self.logs(name)[-4000:]}")

    def stop(self) -> None:
        """SIGTERM to every process, then SIGKILL to whatever has not stopped within ten seconds."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()

    def logs(self, name: str) -> str:
        path = self.log_directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_stack(
    env: Mapping[str, str],
    workdir: Path,
    routes: list[FunctionRoute] | None = None,
    spa_root: Path | None = None,
    *,
    listen: str | None = None,
    function_ports: Mapping[str, int] | None = None,
    reload: bool = False,
    announce: Announce = lambda name, detail: None,
) -> RunningStack:
    """Starts every function of `routes` (default: all) and the nginx router in front of them.

    `listen` is nginx's listen address (default: a free port on loopback); `function_ports` fixes the
    functions' ports (default: free ones); `spa_root`, a frontend build, is served at /. The ops function
    watches exactly the functions this stack runs. `announce(name, detail)` hears of each as it is ready.
    """
    routes = routes or load_routes()
    nginx = nginx_path()
    listen = listen or f"127.0.0.1:{free_port()}"
    ports = {route.name: (function_ports or {}).get(route.name) or free_port() for route in routes}
    function_urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {**env, "FUNCTION_URLS": ",".join(f"{name}={url}" for name, url in function_urls.items())}
    router_port = listen.rsplit(":", 1)[-1]
    host = listen.rsplit(":", 1)[0] if ":" in listen else "localhost"
    stack = RunningStack(f"http://{host}:{router_port}", function_urls, workdir)
    for directory in ("logs", "nginx"):
        (workdir / directory).mkdir(parents=True, exist_ok=True)
    try:
        if env.get("S3_ENDPOINT_URL"):
            ensure_attachments_bucket(env)
        for route in routes:
            stack.start(
                route.name,
                gunicorn_command(f"{route.module}:create_app()", ports[route.name], reload=reload),
                metrics_environment(env, metrics_directory(workdir, route.name)),
            )
        config = workdir / "nginx" / "nginx.conf"
        config.write_text(
            render_nginx(
                routes,
                hosts={name: f"127.0.0.1:{port}" for name, port in ports.items()},
                listen=listen,
                max_body_bytes=request_body_limit(env),
                daemon=False,
                pid_file=str(workdir / "nginx" / "nginx.pid"),
                temp_dir=str(workdir / "nginx"),
                access_log=str(workdir / "logs" / "router-access.log"),
                error_log=str(workdir / "logs" / "router-error.log"),
                extra=spa_location(str(spa_root.resolve())) if spa_root else "",
            )
        )
        for name, url in function_urls.items():
            stack.wait_until_answering(f"{url}/health/live", name)
            announce(name, f"function on {url}")
        stack.start("router", [nginx, "-c", str(config), "-p", str(workdir / "nginx")], env)
        stack.wait_until_answering(f"http://127.0.0.1:{router_port}/api/v1/health/live", "router")
        announce("router", f"nginx on {stack.base_url}")
    except BaseException:
        stack.stop()
        raise
    return stack
