"""What the infra checks share: the external tools they run, and the Dockerfiles' COPY instructions."""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from tasktracker.routes import load_routes
from tests.support.programs import SYSTEM_PROGRAMS, require_system_program

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_DOCKERFILE = ROOT / "infra" / "docker" / "function.Dockerfile"
ROUTER_DOCKERFILE = ROOT / "infra" / "router" / "Dockerfile"
DOCKERFILES = (FUNCTION_DOCKERFILE, ROUTER_DOCKERFILE)


def function_names() -> list[str]:
    return sorted(route.name for route in load_routes())


def require_tool(name: str) -> str:
    """The tool's path, preferring the one installed with this interpreter (cfn-lint in the venv).

    A system tool that is missing fails the test (`make test` installs them), unless SKIP_INFRA=1 asked to
    leave the infra checks out."""
    beside_interpreter = Path(sys.executable).parent / name
    if beside_interpreter.is_file():
        return str(beside_interpreter)
    program = next((program for program in SYSTEM_PROGRAMS if program.command == name), None)
    if program is None:
        raise LookupError(f"{name} is neither in the virtualenv nor a system program make test installs")
    return require_system_program(program)


@dataclass(frozen=True)
class Copy:
    stage: str
    sources: tuple[str, ...]
    destination: str


def copies(dockerfile: Path, build_args: dict[str, str] | None = None) -> list[Copy]:
    """The COPY instructions that read the build context (not `--from` another stage), with ${ARG}s filled in."""
    arguments = build_args or {}
    stage = ""
    found: list[Copy] = []
    # Continuation lines join into one instruction; only FROM and COPY are parsed (RUN may hold any shell).
    logical_lines = re.sub(r"\\\n", " ", dockerfile.read_text()).splitlines()
    for line in logical_lines:
        instruction = line.split(maxsplit=1)[0].upper() if line.strip() else ""
        if instruction not in ("FROM", "COPY"):
            continue
        words = shlex.split(line, comments=True)
        if instruction == "FROM":
            stage = words[-1] if len(words) >= 4 and words[-2].upper() == "AS" else words[1]
        elif instruction == "COPY":
            options = [word for word in words[1:] if word.startswith("--")]
            paths = [_fill(word, arguments) for word in words[1:] if not word.startswith("--")]
            if not any(option.startswith("--from=") for option in options):
                found.append(Copy(stage, tuple(paths[:-1]), paths[-1]))
    return found


def _fill(word: str, arguments: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        if name not in arguments:
            raise KeyError(f"no value for build argument {name} in {word!r}")
        return arguments[name]

    return re.sub(r"\$\{(?P<braced>\w+)\}|\$(?P<bare>\w+)", value, word)
