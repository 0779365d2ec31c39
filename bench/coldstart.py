"""Cold start: each function's import time and the time from process start to its first answer, against a
bare Flask app's; and which heavy libraries each function does not load at all."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

import requests

from local.services import free_port
from local.stack import gunicorn_command
from tasktracker.routes import load_routes

HELLO = "bench.floors.hello"
HEAVY = ("boto3", "botocore", "celery", "kombu", "sqlalchemy", "alembic", "psycopg", "redis", "flask_limiter",
         "flask_smorest", "marshmallow", "apispec", "argon2", "jwt", "prometheus_client")  # fmt: skip
RUNS = 3

_PROBE = """
import json, sys, time
started = time.perf_counter()
import {module} as target
imported = time.perf_counter() - started
target.create_app()
heavy = {heavy!r}
print(json.dumps({{"import_s": imported, "loaded": [m for m in heavy if m in sys.modules]}}))
"""


def probe(module: str, env: dict[str, str]) -> dict[str, object]:
    """In a fresh interpreter: the module's import time, and the heavy libraries loaded once its app exists."""
    code = _PROBE.format(module=module, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def heaviest_imports(module: str, env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """The packages whose own modules cost most to import (python -X importtime self times, summed, in ms)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, env=env
    )
    packages: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        own = parts[0].removeprefix("import time:").strip()
        if len(parts) != 3 or not own.isdigit():
            continue
        package = parts[2].strip().split(".")[0]
        packages[package] = packages.get(package, 0) + int(own) / 1000
    return [(name, round(ms, 1)) for name, ms in sorted(packages.items(), key=lambda item: -item[1])[:top]]


def first_answer(module: str, env: dict[str, str]) -> float:
    """Seconds from starting the function's gunicorn to its first 200 on /health/live."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        gunicorn_command(f"{module}:create_app()", port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - started < 120:
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited with {process.returncode}")
            try:
                if requests.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except requests.RequestException:
                pass
            time.sleep(0.005)
        raise TimeoutError(f"{module} did not answer")
    finally:
        process.terminate()
        process.wait(10)


def measure(env: dict[str, str]) -> dict[str, dict[str, object]]:
    modules = {"bare flask": HELLO, **{route.name: route.module for route in load_routes()}}
    figures: dict[str, dict[str, object]] = {}
    for name, module in modules.items():
        probes = [probe(module, env) for _ in range(RUNS)]
        figures[name] = {
            "import_s": statistics.median(float(p["import_s"]) for p in probes),  # type: ignore[arg-type]
            "first_answer_s": statistics.median(first_answer(module, env) for _ in range(RUNS)),
            "loaded": probes[0]["loaded"],
            "avoids": [m for m in HEAVY if m not in probes[0]["loaded"]],  # type: ignore[operator]
            "heaviest_imports_ms": heaviest_imports(module, env),
        }
    return figures
