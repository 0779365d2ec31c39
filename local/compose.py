"""The stack in containers from the real docker-compose.yml: `make compose-up`, `compose-down`, `compose-test`.

    python -m local.compose up [--dev]     build every image, start the stack, return once every service is healthy
    python -m local.compose down [--volumes]  remove containers and networks (named volumes stay unless asked)
    python -m local.compose status         each service's state and health
    python -m local.compose figures        image sizes and each container's memory

S3 is the moto profile (LocalStack needs a token) unless COMPOSE_S3=localstack. Docker (`docker compose`) when its
daemon answers: it builds, starts and waits on health itself (`up --wait`). podman otherwise: the images are
built with `podman build`, and Debian's docker-compose talks to podman's Docker API socket. podman runs health
checks from systemd timers, which a machine without systemd lacks, so a container's health would stay
`starting` and no `depends_on: condition: service_healthy` would resolve; while `up` runs, a health pump runs
each container's own health check (`podman healthcheck run`) until it is healthy.

Settings (environment): COMPOSE_PROJECT_NAME (tasktracker), ROUTER_PORT (8000), COMPOSE_FILES (extra compose
files, colon-separated), COMPOSE_HEALTH_TIMEOUT (seconds, 600).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from local.containers import ROOT, Engine, base_images, detect_engine, ensure_images, qualified, say

COMPOSE_FILE = ROOT / "docker-compose.yml"
STATE = ROOT / ".local" / "compose"
ONE_SHOT = {"migrate", "s3-bucket"}
DEFAULT_PROJECT = "tasktracker"
# The pump sees a container start a moment after it did: its start period is taken as this much shorter.
START_PERIOD_MARGIN = 3.0
# Docker's defaults for a health check that names no interval or start period.
DEFAULT_INTERVAL = 30.0


def podman_socket() -> Path:
    if os.geteuid() == 0:
        return Path("/run/podman/podman.sock")
    return Path(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")) / "podman" / "podman.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(self.path))


def _socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    connection = _UnixConnection(path)
    try:
        connection.request("GET", "/_ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def podman_service_answers() -> bool:
    return _socket_answers(podman_socket())


def ensure_podman_service() -> Path:
    """podman's Docker API, which docker-compose drives; started once and left running for later calls."""
    path = podman_socket()
    if _socket_answers(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    STATE.mkdir(parents=True, exist_ok=True)
    log = (STATE / "podman-service.log").open("ab")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{path}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (STATE / "podman-service.pid").write_text(str(service.pid))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _socket_answers(path):
            return path
        if service.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit(f"podman system service did not answer on {path}: see {STATE / 'podman-service.log'}")


def stop_podman_service() -> None:
    pid_file = STATE / "podman-service.pid"
    if not pid_file.exists():
        return
    with suppress(ProcessLookupError, ValueError):
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    pid_file.unlink()


@dataclass
class Stack:
    """One compose project: which engine runs it, its files, profiles and environment."""

    engine: Engine
    project: str = DEFAULT_PROJECT
    profiles: list[str] = field(default_factory=lambda: ["moto"])
    extra_files: list[Path] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    # The health pump's memory, per container run (name, start time): when it was first seen, last checked.
    _first_seen: dict[tuple[str, str], float] = field(default_factory=dict, repr=False, compare=False)
    _last_check: dict[tuple[str, str], float] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_environment(cls, *, dev: bool = False, overrides: Mapping[str, str] | None = None) -> Stack:
        extra = [Path(name) for name in os.environ.get("COMPOSE_FILES", "").split(":") if name]
        stack = cls(
            engine=detect_engine(),
            project=os.environ.get("COMPOSE_PROJECT_NAME", DEFAULT_PROJECT),
            extra_files=extra,
            overrides=dict(overrides or {}),
        )
        if os.environ.get("COMPOSE_S3", "moto") == "localstack":
            stack.profiles = []
        if dev:
            stack.profiles.append("dev")
        return stack

    @property
    def uses_moto(self) -> bool:
        return "moto" in self.profiles

    def environment(self) -> dict[str, str]:
        env = {**os.environ, "COMPOSE_PROJECT_NAME": self.project}
        if self.uses_moto:
            env.setdefault("S3_ENDPOINT_URL", "http://moto:5000")
            env.setdefault("S3_PUBLIC_ENDPOINT_URL", f"http://localhost:{env.get('MOTO_PORT', '5000')}")
        env.update(self.overrides)
        if self.engine.is_podman:
            env["DOCKER_HOST"] = f"unix://{ensure_podman_service()}"
        return env

    def compose_command(self, profiles: Sequence[str] | None = None) -> list[str]:
        command = ["docker", "compose"] if not self.engine.is_podman else ["docker-compose"]
        for path in [COMPOSE_FILE, *self.extra_files]:
            command += ["-f", str(path)]
        command += ["--project-name", self.project, "--project-directory", str(ROOT)]
        for profile in self.profiles if profiles is None else profiles:
            command += ["--profile", profile]
        return command

    def compose(self, *arguments: str, check: bool = True, profiles: Sequence[str] | None = None) -> int:
        command = [*self.compose_command(profiles), *arguments]
        return subprocess.run(command, cwd=ROOT, env=self.environment(), check=check).returncode

    def config(self) -> dict[str, Any]:
        result = subprocess.run(
            [*self.compose_command(), "config"],
            cwd=ROOT,
            env=self.environment(),
            check=True,
            capture_output=True,
            text=True,
        )
        rendered: dict[str, Any] = yaml.safe_load(result.stdout)
        return rendered

    def services(self) -> dict[str, dict[str, Any]]:
        """The services of the active profiles (docker-compose 1.29 renders all of them), LocalStack left out
        when S3 is moto."""
        services: dict[str, dict[str, Any]] = self.config()["services"]
        return {
            name: service
            for name, service in services.items()
            if (not service.get("profiles") or set(service["profiles"]) & set(self.profiles))
            and not (self.uses_moto and name == "localstack")
        }

    # --- images -------------------------------------------------------------------------------------------------

    def build(self, services: Mapping[str, dict[str, Any]]) -> None:
        """Each image built once, from the repository's Dockerfiles, with the compose file's build settings."""
        started = time.monotonic()
        built = [name for name, service in services.items() if "build" in service]
        if not self.engine.is_podman:
            self.compose("build", *built)
        else:
            done: set[str] = set()
            for name in built:
                service = services[name]
                image = qualified(service["image"])
                if image in done:
                    continue
                settings = service["build"]
                context = Path(settings.get("context", ROOT))
                dockerfile = context / settings.get("dockerfile", "Dockerfile")
                say(f"building {image} (service {name})")
                step = time.monotonic()
                self.engine.build(
                    image, dockerfile, context, target=settings.get("target"), build_args=settings.get("args") or {}
                )
                say(f"built {image} in {time.monotonic() - step:.0f} s")
                done.add(image)
        say(f"images built in {time.monotonic() - started:.0f} s")

    def upstream_images(self, services: Mapping[str, dict[str, Any]]) -> list[str]:
        images: list[str] = []
        for service in services.values():
            if "build" in service:
                settings = service["build"]
                dockerfile = Path(settings.get("context", ROOT)) / settings.get("dockerfile", "Dockerfile")
                images += base_images(dockerfile)
            else:
                images.append(service["image"])
        return list(dict.fromkeys(images))

    def runnable(self, services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Pulls or stands in for every upstream image; services whose image is missing (and what depends on
        them) are left out, named."""
        outcome = ensure_images(self.engine, self.upstream_images(services))
        missing = {image for image, state in outcome.items() if state == "missing"}
        left_out = {
            name for name, service in services.items() if "build" not in service and service["image"] in missing
        }
        changed = True
        while changed:
            changed = False
            for name, service in services.items():
                if name not in left_out and set(service.get("depends_on") or {}) & left_out:
                    left_out.add(name)
                    changed = True
        for name in sorted(left_out):
            say(f"left out: {name} (image {services[name].get('image')} cannot be pulled and has no stand-in)")
        return {name: service for name, service in services.items() if name not in left_out}

    # --- containers ---------------------------------------------------------------------------------------------

    def containers(self) -> list[dict[str, Any]]:
        ids = self.engine.output(
            "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={self.project}"
        ).split()
        if not ids:
            return []
        inspected: list[dict[str, Any]] = json.loads(self.engine.output("inspect", *ids))
        return inspected

    def states(self) -> dict[str, ContainerState]:
        found: dict[str, ContainerState] = {}
        for container in self.containers():
            state = ContainerState.of(container)
            found.setdefault(state.service, state)
        return found

    def container_name(self, service: str) -> str:
        return self.states()[service].name

    def pump_once(self) -> None:
        """One round of health checks, for every running container whose health is not yet known good, at the
        pace its own settings give: every second during its start period (a failure there does not count, so
        this only finds it healthy sooner), then once per interval, so that a slow start turns a container
        unhealthy only after `retries` intervals, as under Docker, not after `retries` seconds."""
        now = time.monotonic()
        due: list[str] = []
        for state in self.states().values():
            if not (state.running and state.health in {"starting", "unhealthy"}):
                continue
            run = (state.name, state.started_at)
            first_seen = self._first_seen.setdefault(run, now)
            starting = now < first_seen + state.start_period - START_PERIOD_MARGIN
            last = self._last_check.get(run)
            if last is None or now - last >= (1.0 if starting else state.interval):
                self._last_check[run] = now
                due.append(state.name)
        if not due:
            return
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self._check, due))

    def _check(self, name: str) -> None:
        with suppress(subprocess.TimeoutExpired):
            subprocess.run(["podman", "healthcheck", "run", name], capture_output=True, timeout=60)

    @contextmanager
    def health_pump(self) -> Iterator[None]:
        """podman only: runs the containers' health checks while the block runs."""
        if not self.engine.is_podman:
            yield
            return
        stop = threading.Event()

        def pump() -> None:
            while not stop.is_set():
                with suppress(subprocess.SubprocessError, json.JSONDecodeError, OSError):
                    self.pump_once()
                stop.wait(1.0)

        thread = threading.Thread(target=pump, name="health-pump", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=60)

    def wait_healthy(self, services: Sequence[str], timeout: float | None = None) -> float:
        """Until every named long-running service is healthy and every one-shot has exited 0; seconds taken."""
        limit = timeout if timeout is not None else float(os.environ.get("COMPOSE_HEALTH_TIMEOUT", "600"))
        started = time.monotonic()
        deadline = started + limit
        with self.health_pump():
            while True:
                states = self.states()
                waiting = [name for name in services if not (name in states and states[name].ready(name in ONE_SHOT))]
                failed = [name for name in services if name in ONE_SHOT and name in states and states[name].failed]
                if failed:
                    raise SystemExit(f"{', '.join(failed)} failed: `{self.engine.name} logs` tells why")
                if not waiting:
                    return time.monotonic() - started
                if time.monotonic() > deadline:
                    summary = ", ".join(
                        f"{name}: {states[name].summary if name in states else 'absent'}" for name in waiting
                    )
                    raise SystemExit(f"not healthy after {limit:.0f} s: {summary}")
                time.sleep(1.0)

    def up(self, *, build: bool = True) -> float:
        """Images (pulled, stood in for, built), then every runnable service, until healthy; seconds taken."""
        started = time.monotonic()
        services = self.runnable(self.services())
        if build:
            self.build(services)
        names = list(services)
        say(f"starting {len(names)} services: {' '.join(names)}")
        up_started = time.monotonic()
        if self.engine.is_podman:
            with self.health_pump():
                self.compose("up", "--detach", "--no-build", *names)
        else:
            self.compose("up", "--detach", "--no-build", "--wait", *names)
        self.wait_healthy(names)
        took = time.monotonic() - up_started
        say(f"healthy {took:.0f} s after `up` ({time.monotonic() - started:.0f} s with the images)")
        return took

    def down(self, *, volumes: bool = False) -> None:
        arguments = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
        # Every profile, so the dev services and the S3 browser go too.
        self.compose(*arguments, profiles=["moto", "dev"])

    def status(self) -> list[str]:
        return [f"{service:<16} {state.summary}" for service, state in sorted(self.states().items())]


@dataclass(frozen=True)
class ContainerState:
    service: str
    name: str
    status: str
    exit_code: int
    health: str
    restarts: int
    started_at: str = ""
    interval: float = DEFAULT_INTERVAL
    start_period: float = 0.0

    @classmethod
    def of(cls, container: Mapping[str, Any]) -> ContainerState:
        state = container.get("State", {})
        health = state.get("Health") or state.get("Healthcheck") or {}
        check = (container.get("Config") or {}).get("Healthcheck") or {}
        has_check = bool(check) or bool(health)
        labels = (container.get("Config") or {}).get("Labels") or {}
        return cls(
            service=labels.get("com.docker.compose.service", container.get("Name", "?")),
            name=str(container.get("Name", "")).lstrip("/"),
            status=str(state.get("Status", "")),
            exit_code=int(state.get("ExitCode") or 0),
            health=str(health.get("Status") or ("starting" if has_check else "none")),
            restarts=int(container.get("RestartCount") or 0),
            started_at=str(state.get("StartedAt", "")),
            # Durations in nanoseconds, as both engines' inspect gives them.
            interval=int(check.get("Interval") or 0) / 1e9 or DEFAULT_INTERVAL,
            start_period=int(check.get("StartPeriod") or 0) / 1e9,
        )

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def failed(self) -> bool:
        return self.status in {"exited", "stopped"} and self.exit_code != 0

    def ready(self, one_shot: bool) -> bool:
        if one_shot:
            return self.status in {"exited", "stopped"} and self.exit_code == 0
        return self.running and self.health in {"healthy", "none"}

    @property
    def summary(self) -> str:
        health = "" if self.health == "none" else f" ({self.health})"
        code = f" exit {self.exit_code}" if self.status in {"exited", "stopped"} else ""
        return f"{self.status}{code}{health}"


def figures(stack: Stack) -> list[str]:
    """Each image's size and each running container's memory."""
    lines = ["image sizes:"]
    seen: set[str] = set()
    for service in stack.services().values():
        image = qualified(service["image"])
        if image in seen or not stack.engine.has_image(image):
            continue
        seen.add(image)
        size = int(json.loads(stack.engine.output("image", "inspect", image))[0].get("Size", 0))
        lines.append(f"  {image:<48} {size / 1e6:7.0f} MB")
    lines.append("memory of each container:")
    names = [state.name for state in stack.states().values() if state.running]
    if names:
        output = stack.engine.output("stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *names)
        lines += [f"  {line}" for line in output.splitlines() if line.strip()]
    return lines


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"up", "down", "status", "figures"}:
        print(__doc__)
        return 2
    command, options = argv[0], set(argv[1:])
    stack = Stack.from_environment(dev="--dev" in options)
    if command == "up":
        stack.up(build="--no-build" not in options)
        port = os.environ.get("ROUTER_PORT", "8000")
        say(f"the stack answers at http://localhost:{port}/ (the SPA) and http://localhost:{port}/api/v1/")
    elif command == "down":
        stack.down(volumes="--volumes" in options)
        # The API socket this started goes once no container of any project runs.
        if stack.engine.is_podman and not stack.engine.output("ps", "--quiet").strip():
            stop_podman_service()
    elif command == "status":
        print("\n".join(stack.status()))
    elif command == "figures":
        print("\n".join(figures(stack)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
