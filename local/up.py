"""`make up`: the whole product on one machine without Docker.

Embedded PostgreSQL, Redis and a moto S3 unless DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL name real ones;
migrations; every function in its own gunicorn process behind nginx (or the in-process dispatcher when
nginx is not installed). Ctrl-C stops everything; data stays in .local/ for the next start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

from infra.router.routing import load_routes, render_nginx, spa_location
from tasktracker.config import DEFAULT_MAX_UPLOAD_BYTES, MULTIPART_OVERHEAD_BYTES

from .dispatcher import SPA_DIST
from .services import LocalServices, start_local_services, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local"


class Processes:
    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = (STATE / "logs" / f"{name}.log").open("ab")
        self.running.append((name, subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)))

    def failed(self) -> list[str]:
        return [name for name, process in self.running if process.poll() is not None]

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


def gunicorn_command(target: str, port: int, *, reload: bool = False, workers: int | None = None) -> list[str]:
    """Workers, threads and the metrics directory come from tasktracker.platform.gunicorn_config, as in the
    containers (WEB_CONCURRENCY and GUNICORN_THREADS override them); `workers` pins the count, e.g. to one for
    the in-process dispatcher, whose apps share a process and so must keep their metrics in memory."""
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
    if workers is not None:
        command += ["--workers", str(workers)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ROUTER_PORT", "8000")))
    parser.add_argument("--no-reload", action="store_true", help="do not restart functions when code changes")
    parser.add_argument("--dispatcher", action="store_true", help="use the in-process dispatcher even if nginx exists")
    args = parser.parse_args()

    for folder in ("logs", "nginx", "beat"):
        (STATE / folder).mkdir(parents=True, exist_ok=True)
    print("Starting backing services...", flush=True)
    services: LocalServices = start_local_services(
        STATE,
        database_url=os.environ.get("DATABASE_URL"),
        redis_url=os.environ.get("REDIS_URL"),
        s3_endpoint_url=os.environ.get("S3_ENDPOINT_URL"),
        redis_port=int(os.environ.get("LOCAL_REDIS_PORT", "6390")),
        s3_port=int(os.environ.get("LOCAL_S3_PORT", "9000")),
    )
    env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "S3_ENDPOINT_URL": services.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "PYTHONUNBUFFERED": "1",
    }
    # The ops function folds the reminder worker's own metrics into the merged /metrics.
    env.setdefault("WORKER_METRICS_URL", f"http://127.0.0.1:{env.get('WORKER_METRICS_PORT', '8107')}")
    processes = Processes()

    def shut_down(signum: int | None = None, frame: FrameType | None = None) -> None:
        print("\nStopping...", flush=True)
        processes.stop()
        services.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shut_down)
    try:
        print("Migrating the database...", flush=True)
        migrate(services.database_url)
        routes = load_routes()
        use_nginx = shutil.which("nginx") is not None and not args.dispatcher
        if use_nginx:
            for route in routes:
                processes.start(
                    route.name,
                    gunicorn_command(f"{route.module}:create_app()", route.port, reload=not args.no_reload),
                    metrics_environment(env, STATE / "metrics" / route.name),
                )
            config = STATE / "nginx" / "nginx.conf"
            config.write_text(
                render_nginx(
                    routes,
                    listen=str(args.port),
                    max_body_bytes=request_body_limit(env),
                    extra=spa_location(str(SPA_DIST)) if (SPA_DIST / "index.html").exists() else "",
                    daemon=False,
                    pid_file=str(STATE / "nginx" / "nginx.pid"),
                    temp_dir=str(STATE / "nginx"),
                    access_log=str(STATE / "logs" / "router.log"),
                    error_log=str(STATE / "logs" / "router-error.log"),
                )
            )
            processes.start("router", ["nginx", "-c", str(config), "-p", str(STATE / "nginx")], env)
            for route in routes:
                wait_for_port("127.0.0.1", route.port, timeout=60)
        else:
            processes.start(
                "router",
                gunicorn_command("local.dispatcher:create_app()", args.port, reload=not args.no_reload, workers=1),
                env,
            )
        reminders = [sys.executable, "-m", "functions.reminders.cli"]
        processes.start("reminders-worker", [*reminders, "worker", "--concurrency", "1"], env)
        # Exactly one beat per schedule: a second one would publish every run twice (harmless, but wasted).
        beat_schedule = STATE / "beat" / "celerybeat-schedule"
        processes.start("reminders-beat", [*reminders, "beat", "--schedule", str(beat_schedule)], env)
        wait_for_port("127.0.0.1", args.port, timeout=60)
        base = f"http://localhost:{args.port}"
        print(f"\nTask Tracker is up ({'nginx router' if use_nginx else 'in-process dispatcher'}):")
        if (SPA_DIST / "index.html").exists():
            print(f"  SPA            {base}/")
        else:
            print("  SPA            not built (needs Node: make spa)")
        print(f"  API            {base}/api/v1")
        print(f"  API docs       {base}/api/v1/docs")
        for route in routes:
            print(f"  {route.name:<14} {base}/api/v1/{route.name}/docs   (function on 127.0.0.1:{route.port})")
        print(f"  PostgreSQL     {services.database_url}")
        print(f"  Redis          {services.redis_url}")
        print(f"  S3 (moto)      {services.s3_endpoint_url}   dashboard {services.s3_endpoint_url}/moto-api/")
        metrics_port = env.get("WORKER_METRICS_PORT", "8107")
        print(f"  Reminders      Celery worker and beat (worker metrics http://127.0.0.1:{metrics_port}/metrics)")
        print(f"  Logs           {STATE / 'logs'}")
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(1)
            failed = processes.failed()
            if failed:
                print(f"Stopped unexpectedly: {', '.join(failed)} (see {STATE / 'logs'})", flush=True)
                shut_down()
    except KeyboardInterrupt:
        shut_down()
    except BaseException:
        processes.stop()
        services.stop()
        raise


if __name__ == "__main__":
    main()
