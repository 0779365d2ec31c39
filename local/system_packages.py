"""What `make up`, `make test` and `make bench` need from the system, installed from Debian when it can be.

`python3 -m local.system_packages up|test|bench` checks the programs its target runs. Missing ones are
installed with apt-get when this is root on Debian; otherwise it stops at once with one line naming the
packages. Standard library only: it runs before the virtualenv exists.

SKIP_BROWSER=1 leaves Chromium out and SKIP_INFRA=1 the infra checkers (docker-compose, promtool): the
test suite then reports those suites as skipped on request instead of failing them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass


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

NEEDS: dict[str, list[Program]] = {
    "up": [NGINX],
    "test": [NGINX, CHROMIUM, COMPOSE, PROMTOOL],
    "bench": [NGINX, WRK],
}


def nginx_path() -> str:
    """nginx, which the router runs on; `make up` and `make test` install it before they need it."""
    path = NGINX.locate()
    if path is None:
        raise RuntimeError("nginx is not installed: `make up` / `make test` install it, or apt-get install -y nginx")
    return path


def missing_for(target: str) -> list[Program]:
    wanted = [program for program in NEEDS[target] if not (program.skipped_by and os.environ.get(program.skipped_by))]
    return [program for program in wanted if not program.present()]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in NEEDS:
        print(f"usage: python3 -m local.system_packages {'|'.join(NEEDS)}", file=sys.stderr)
        return 2
    target = argv[0]
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
