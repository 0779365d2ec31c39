"""What `make up`, `make test` and `make bench` need from the system, installed from Debian when it can be.

`python3 -m local.system_packages up|test|bench` checks the programs its target runs. Missing ones are
installed with apt-get when this is root on Debian; otherwise it stops at once with one line naming the
packages. Standard library only: it runs before the virtualenv exists.

SKIP_BROWSER=1 leaves Chromium out and SKIP_INFRA=1 the infra checkers (docker-compose, promtool): the
test suite then reports those suites as skipped on request instead of failing them.

`compose` (make compose-up / compose-test) needs nothing where a Docker daemon answers; otherwise podman with
runc, debootstrap (for the stand-in images) and docker-compose, and podman configured for a machine without
systemd (CONTAINERS_CONF: cgroupfs, runc, file events, no default ulimits), merged into an existing file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Program:
    command: str
    package: str
    why: str
    skipped_by: str = ""

    def locate(self) -> str | None:
        return locate(self.command)

    def present(self) -> bool:
        return self.locate() is not None


# Debian installs servers such as nginx in sbin, which a user's PATH may leave out.
SYSTEM_DIRECTORIES = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")


def locate(command: str) -> str | None:
    """The program's path: on PATH, or where Debian puts it when PATH leaves that out."""
    if os.path.isabs(command):
        return command if os.access(command, os.X_OK) else None
    return shutil.which(command) or shutil.which(command, path=os.pathsep.join(SYSTEM_DIRECTORIES))


NGINX = Program("nginx", "nginx", "the router in front of every function")
CHROMIUM = Program("/usr/bin/chromium", "chromium", "the SPA's end-to-end tests", skipped_by="SKIP_BROWSER")
COMPOSE = Program("docker-compose", "docker-compose", "checks of docker-compose.yml", skipped_by="SKIP_INFRA")
PROMTOOL = Program("promtool", "prometheus", "checks of the Prometheus config", skipped_by="SKIP_INFRA")
WRK = Program("wrk", "wrk", "the load generator of the benchmarks")
PODMAN = Program("podman", "podman", "the container engine where no Docker daemon answers")
RUNC = Program("runc", "runc", "podman's runtime (crun fails on cgroups v1 hybrid machines)")
DEBOOTSTRAP = Program("debootstrap", "debootstrap", "the Debian base of images that cannot be pulled")
DOCKER_COMPOSE = Program("docker-compose", "docker-compose", "docker-compose.yml on podman's Docker API")

NEEDS: dict[str, list[Program]] = {
    "up": [NGINX],
    "test": [NGINX, CHROMIUM, COMPOSE, PROMTOOL],
    "bench": [NGINX, WRK],
    "compose": [PODMAN, RUNC, DEBOOTSTRAP, DOCKER_COMPOSE],
}

CONTAINERS_CONF = Path(os.environ.get("CONTAINERS_CONF", "/etc/containers/containers.conf"))
# What podman needs on a machine without systemd and with cgroups v1: cgroupfs instead of systemd's cgroup
# manager and journal, runc, and no default RLIMIT_NOFILE (which every container start fails to set).
PODMAN_SETTINGS: dict[str, dict[str, str]] = {
    "containers": {"default_ulimits": "[]"},
    "engine": {"runtime": '"runc"', "cgroup_manager": '"cgroupfs"', "events_logger": '"file"'},
}


def docker_daemon_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run([docker, "info"], capture_output=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and b"podman" not in result.stdout.lower()


def merged_containers_conf(existing: str) -> tuple[str, list[str]]:
    """`existing` with every setting of PODMAN_SETTINGS it lacks added under its table; settings it has are
    kept as they are (returned as conflicts when they differ)."""
    parsed = tomllib.loads(existing) if existing.strip() else {}
    lines = existing.splitlines()
    conflicts: list[str] = []
    for table, settings in PODMAN_SETTINGS.items():
        present = parsed.get(table, {})
        missing = [f"{key} = {value}" for key, value in settings.items() if key not in present]
        conflicts += [
            f"[{table}] {key}"
            for key, value in settings.items()
            if key in present and present[key] != tomllib.loads(f"v = {value}")["v"]
        ]
        if not missing:
            continue
        header = next((index for index, line in enumerate(lines) if line.strip() == f"[{table}]"), None)
        if header is None:
            lines += ["", f"[{table}]", *missing]
        else:
            lines[header + 1 : header + 1] = missing
    return "\n".join(lines).lstrip("\n") + "\n", conflicts


def configure_podman() -> None:
    existing = CONTAINERS_CONF.read_text() if CONTAINERS_CONF.exists() else ""
    merged, conflicts = merged_containers_conf(existing)
    if merged != existing:
        CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
        CONTAINERS_CONF.write_text(merged)
        print(f"podman configured for this machine in {CONTAINERS_CONF}", flush=True)
    for conflict in conflicts:
        print(f"{CONTAINERS_CONF}: {conflict} is set otherwise and kept; podman may fail to start containers")


def nginx_path() -> str:
    """nginx, which the router runs on; `make up` and `make test` install it before they need it."""
    path = NGINX.locate()
    if path is None:
        raise RuntimeError("nginx is not installed: `make up` / `make test` install it, or apt-get install -y nginx")
    return path


def missing_for(target: str) -> list[Program]:
    if target == "compose" and docker_daemon_answers():
        return []
    wanted = [program for program in NEEDS[target] if not (program.skipped_by and os.environ.get(program.skipped_by))]
    return [program for program in wanted if not program.present()]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in NEEDS:
        print(f"usage: python3 -m local.system_packages {'|'.join(NEEDS)}", file=sys.stderr)
        return 2
    target = argv[0]
    status = install(target)
    if status == 0 and target == "compose" and not docker_daemon_answers() and os.geteuid() == 0:
        configure_podman()
    return status


def install(target: str) -> int:
    missing = missing_for(target)
    if not missing:
        return 0
    packages = sorted({program.package for program in missing})
    reasons = "; ".join(f"{program.package}: {program.why}" for program in missing)
    can_install = os.geteuid() == 0 and shutil.which("apt-get") is not None
    if not can_install:
        print(
            f"make {target} needs these system packages: {' '.join(packages)} ({reasons}). "
            f"Install them (apt-get install -y {' '.join(packages)}) and run it again.",
            file=sys.stderr,
        )
        return 1
    print(f"Installing from Debian for make {target}: {' '.join(packages)} ({reasons})", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "env": environment}
    steps = [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]]
    for step in steps:
        if subprocess.run(step, check=False, **quiet).returncode != 0:  # type: ignore[call-overload]
            print(f"`{' '.join(step)}` failed: install {' '.join(packages)} by hand and run it again.", file=sys.stderr)
            return 1
    still_missing = [program.package for program in missing_for(target)]
    if still_missing:
        print(f"apt-get ran, but these are still missing: {' '.join(still_missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
