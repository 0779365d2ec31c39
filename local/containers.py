"""Container engines and images for the compose stack: Docker where its daemon answers, podman otherwise.

Upstream images are pulled when a registry answers. When a pull fails, the image is replaced by a stand-in
built here from Debian's packages (infra/docker/standins/: debootstrap, then apt) and tagged with the upstream
name, so the repository's Dockerfiles and docker-compose.yml use it unchanged. An image that can be neither
pulled nor stood in for is reported missing and its services are left out.

Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STANDINS = ROOT / "infra" / "docker" / "standins"
STANDIN_BASE = "localhost/tasktracker-standin/debian"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN_SECURITY_MIRROR = os.environ.get("DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
# Where the host keeps the CA bundle it trusts; builds that fetch from PyPI or npm trust it too (a proxy that
# intercepts TLS is then trusted inside the build as outside). Mounted, never copied into an image.
HOST_CA_BUNDLE = Path(os.environ.get("HOST_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))

# The upstream images the compose file and the Dockerfiles name, and the stand-in for each.
STANDIN_FILES: dict[str, str] = {
    "docker.io/library/python:3.11-slim": "python.Containerfile",
    "docker.io/library/node:20-slim": "node.Containerfile",
    "docker.io/library/nginx:1.27-alpine": "nginx.Containerfile",
    "docker.io/library/postgres:16": "postgres.Containerfile",
    "docker.io/library/redis:7": "redis.Containerfile",
    "docker.io/motoserver/moto:5.1.0": "moto.Containerfile",
    "docker.io/prom/prometheus:v3.1.0": "prometheus.Containerfile",
    "docker.io/amazon/aws-cli:2.22.0": "aws-cli.Containerfile",
    "docker.io/axllent/mailpit:v1.28.2": "mailpit.Containerfile",
}
# Stand-ins that copy the project's own code (the mail sink) are built with the repository as their context;
# the others need only their folder.
REPOSITORY_CONTEXT_STANDINS = frozenset({"mailpit.Containerfile"})
# What a stand-in was built from: one built from an older Containerfile or older copied code is built again.
STANDIN_DIGEST_LABEL = "org.tasktracker.standin-inputs"


def say(message: str) -> None:
    print(f"[containers] {message}", flush=True)


def qualified(image: str) -> str:
    """`postgres:16` as the engines store it: docker.io/library/postgres:16."""
    first, _, rest = image.partition("/")
    if not rest:
        return f"docker.io/library/{image}"
    if "." in first or ":" in first or first == "localhost":
        return image
    return f"docker.io/{image}"


@dataclass(frozen=True)
class Engine:
    """`docker` or `podman`: the same CLI verbs, different ways to run compose and to wait on health."""

    name: str

    @property
    def is_podman(self) -> bool:
        return self.name == "podman"

    def run(self, *arguments: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
        output = subprocess.DEVNULL if quiet else None
        return subprocess.run([self.name, *arguments], check=check, text=True, stdout=output, stderr=output)

    def output(self, *arguments: str) -> str:
        return subprocess.run([self.name, *arguments], check=True, text=True, capture_output=True).stdout

    def has_image(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False, quiet=True).returncode == 0

    def pull(self, image: str) -> bool:
        try:
            result = subprocess.run([self.name, "pull", image], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    def build_mounts(self) -> list[str]:
        """podman mounts the host's CA bundle and a pip/npm config naming it into each build step; Docker
        builds (BuildKit) have no such option and use the images' own CAs."""
        if not self.is_podman or not HOST_CA_BUNDLE.is_file():
            return []
        config = Path(tempfile.mkdtemp(prefix="tasktracker-build-"))
        (config / "pip.conf").write_text("[global]\ncert = /run/host-ca.crt\n")
        (config / "npmrc").write_text("cafile=/run/host-ca.crt\n")
        return [
            f"--volume={HOST_CA_BUNDLE}:/run/host-ca.crt:ro",
            f"--volume={config / 'pip.conf'}:/etc/pip.conf:ro",
            f"--volume={config / 'npmrc'}:/etc/npmrc:ro",
            f"--volume={config / 'npmrc'}:/usr/local/etc/npmrc:ro",
        ]

    def build(
        self,
        tag: str,
        dockerfile: Path,
        context: Path,
        *,
        target: str | None = None,
        build_args: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        arguments = ["build", "--file", str(dockerfile), "--tag", tag]
        if self.is_podman:
            # Every base image is present by now (pulled or stood in for): never reach for a registry.
            arguments += ["--pull=never", "--layers", *self.build_mounts()]
        if target:
            arguments += ["--target", target]
        for name, value in (build_args or {}).items():
            arguments += ["--build-arg", f"{name}={value}"]
        for name, value in (labels or {}).items():
            arguments += ["--label", f"{name}={value}"]
        self.run(*arguments, str(context))

    def labels(self, image: str) -> dict[str, str]:
        """The image's labels (Docker keeps them under Config, podman at the top too)."""
        [inspected] = json.loads(self.output("image", "inspect", image))
        labels: dict[str, str] = (inspected.get("Config") or {}).get("Labels") or inspected.get("Labels") or {}
        return labels


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False
    # podman-docker's `docker` is podman under another name: it takes the podman path.
    return result.returncode == 0 and b"podman" not in result.stdout.lower()


def detect_engine() -> Engine:
    """CONTAINER_ENGINE=docker|podman chooses; otherwise Docker if its daemon answers, else podman."""
    chosen = os.environ.get("CONTAINER_ENGINE", "")
    if chosen:
        return Engine(chosen)
    if docker_answers():
        return Engine("docker")
    if shutil.which("podman"):
        return Engine("podman")
    raise SystemExit("Neither a Docker daemon nor podman: `make compose-up` installs podman as root on Debian.")


def base_images(dockerfile: Path) -> list[str]:
    """The images a Dockerfile builds FROM (not its own stages)."""
    stages: set[str] = set()
    found: list[str] = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if not match:
            continue
        image, stage = match.group(1), match.group(2)
        if image not in stages and image not in found:
            found.append(image)
        if stage:
            stages.add(stage)
    return found


@contextmanager
def _scratch_directory() -> Iterator[Path]:
    # /var/tmp: a root file system of a few hundred MB does not belong in a tmpfs.
    directory = Path(tempfile.mkdtemp(prefix="tasktracker-rootfs-", dir="/var/tmp"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def build_debian_base(engine: Engine, suite: str) -> None:
    """A minimal Debian root file system (debootstrap --variant=minbase) imported as an image: what every
    stand-in is built on. apt inside it installs no recommends, documentation or translations."""
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: `make compose-up` installs it as root on Debian.")
    name = f"{STANDIN_BASE}:{suite}"
    say(f"building {name} with debootstrap (Debian {suite})")
    with _scratch_directory() as scratch:
        rootfs = scratch / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", suite, str(rootfs), DEBIAN_MIRROR],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (rootfs / "etc/apt/sources.list").write_text(
            f"deb {DEBIAN_MIRROR} {suite} main\n"
            f"deb {DEBIAN_MIRROR} {suite}-updates main\n"
            f"deb {DEBIAN_SECURITY_MIRROR} {suite}-security main\n"
        )
        (rootfs / "etc/apt/apt.conf.d/90slim").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
            'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n'
        )
        (rootfs / "etc/dpkg/dpkg.cfg.d/90slim").write_text(
            "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
            "path-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n"
            "path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n"
        )
        for leftover in ("var/cache/apt", "var/lib/apt/lists", "usr/share/man", "usr/share/info", "usr/share/locale"):
            for child in (rootfs / leftover).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                elif child.name != "locale.alias":
                    child.unlink()
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [engine.name, "import", "--change", 'CMD ["bash"]', "-", name], stdin=tar.stdout, capture_output=True
        )
        if tar.stdout is not None:
            tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise SystemExit(f"importing {name} failed: {imported.stderr.decode(errors='replace')}")


def standin_context(containerfile: Path) -> Path:
    return ROOT if containerfile.name in REPOSITORY_CONTEXT_STANDINS else STANDINS


def copied_sources(containerfile: Path) -> list[str]:
    """The build-context paths a Containerfile COPYs (not those taken `--from` another image or stage)."""
    sources: list[str] = []
    for line in re.sub(r"\\\n", " ", containerfile.read_text()).splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0].upper() != "COPY":
            continue
        options = [word for word in words[1:] if word.startswith("--")]
        if any(option.startswith("--from=") for option in options):
            continue
        sources += [word for word in words[1:] if not word.startswith("--")][:-1]
    return sources


def standin_inputs(image: str) -> str:
    """A digest of what the stand-in is built from: its Containerfile and every file it copies."""
    containerfile = STANDINS / STANDIN_FILES[image]
    context = standin_context(containerfile)
    digest = hashlib.sha256(containerfile.read_bytes())
    for source in copied_sources(containerfile):
        root = context / source
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def standin_is_stale(engine: Engine, image: str) -> bool:
    """A stand-in built from other inputs than today's. An image without the label is left alone: pulled from
    its registry, or a stand-in from before the label, which only a changed Containerfile would differ from."""
    built_from = engine.labels(image).get(STANDIN_DIGEST_LABEL)
    return built_from is not None and built_from != standin_inputs(image)


def build_standin(engine: Engine, image: str) -> None:
    containerfile = STANDINS / STANDIN_FILES[image]
    for base in base_images(containerfile):
        ensure_image(engine, base)
    say(f"building a stand-in for {image} ({containerfile.relative_to(ROOT)})")
    engine.build(
        image,
        containerfile,
        standin_context(containerfile),
        labels={STANDIN_DIGEST_LABEL: standin_inputs(image)},
    )


def ensure_image(engine: Engine, image: str) -> str:
    """present | pulled | stand-in | missing."""
    name = qualified(image)
    if engine.has_image(name):
        if name in STANDIN_FILES and standin_is_stale(engine, name):
            say(f"the stand-in for {name} was built from older files: building it again")
            build_standin(engine, name)
            return "stand-in"
        return "present"
    if name.startswith(STANDIN_BASE + ":"):
        build_debian_base(engine, name.rsplit(":", 1)[1])
        return "stand-in"
    if os.environ.get("STANDINS_ONLY") != "1" and engine.pull(name):
        return "pulled"
    if name in STANDIN_FILES:
        say(f"{name} could not be pulled: building its stand-in from Debian packages")
        build_standin(engine, name)
        return "stand-in"
    return "missing"


def ensure_images(engine: Engine, images: Sequence[str]) -> dict[str, str]:
    started = time.monotonic()
    outcome = {image: ensure_image(engine, image) for image in dict.fromkeys(images)}
    say(f"upstream images ready in {time.monotonic() - started:.0f} s: {outcome}")
    return outcome


def main(argv: list[str]) -> int:
    """`python -m local.containers standins [IMAGE...]`: make sure the upstream images (default: all the
    stand-ins know) are present, pulling or standing in for each."""
    if not argv or argv[0] != "standins":
        print("usage: python -m local.containers standins [IMAGE...]")
        return 2
    outcome = ensure_images(detect_engine(), argv[1:] or list(STANDIN_FILES))
    return 1 if "missing" in outcome.values() else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
