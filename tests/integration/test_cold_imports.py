"""Cold starts stay small: what a function loads, checked in a fresh interpreter at each step of its start.

Importing a function loads none of the heavy libraries that only some requests need: no SQLAlchemy or
psycopg (the first unit of work loads them), no boto3 (the first call that touches S3 or invokes a
function), no Celery (the worker's builder), no Argon2 (the first password to hash or verify) and no Redis
client library (redis-py imports redis.asyncio, and with it asyncio's event loop machinery: the rate limits
load it when the app is built). Building the app and answering a liveness probe load none of them but Redis
either, and build no OpenAPI document (it is built when first asked for).

import-linter cannot hold these lines where an adapter is imported inside the function that first needs it
(it sees those imports too); a fresh interpreter can. The functions come from the route table, so a new one
is held to the same line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasktracker.routes import FunctionRoute, load_routes

ROOT = Path(__file__).resolve().parents[2]

# Loaded only by the requests that need them (see the module docstring).
NOT_AT_IMPORT = ("sqlalchemy", "psycopg", "alembic", "boto3", "botocore", "celery", "kombu", "argon2", "redis")
# The rate limits' storage is a Redis client, made with the app.
NOT_AT_START = tuple(module for module in NOT_AT_IMPORT if module != "redis")

# Each step's loaded modules, in a fresh interpreter. Building an app connects to nothing, so any address will
# do; the liveness answer is exempt from the rate limits, so Redis is never asked.
START_UP = """
import gc, json, sys
heavy = {heavy!r}

def loaded():
    return sorted(name for name in heavy if name in sys.modules)

from {module} import create_app
steps = {{"import": loaded()}}
app = create_app()
steps["start"] = loaded()
answer = app.test_client().get("/health/live")
steps["liveness"] = loaded()
import apispec
documents = sum(isinstance(thing, apispec.APISpec) for thing in gc.get_objects())
print(json.dumps({{"steps": steps, "status": answer.status_code, "documents": documents}}))
"""


def _start(module: str) -> dict[str, object]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers")]),
        "APP_ENV": "test",
        "JWT_SECRET_KEY": "cold-import-test-secret-of-32-characters",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "RATE_LIMIT_ENABLED": "true",
        "LOG_LEVEL": "WARNING",
    }
    started = subprocess.run(
        [sys.executable, "-c", START_UP.format(module=module, heavy=NOT_AT_IMPORT)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    result: dict[str, object] = json.loads(started.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("route", load_routes(), ids=lambda route: route.name)
def test_a_function_loads_no_heavy_library_before_a_request_needs_it(route: FunctionRoute) -> None:
    module = route.module
    result = _start(module)
    steps = result["steps"]
    assert isinstance(steps, dict)

    assert steps["import"] == [], f"importing {module} loads {steps['import']}"
    assert [name for name in steps["start"] if name in NOT_AT_START] == [], f"building {module}'s app"
    assert [name for name in steps["liveness"] if name in NOT_AT_START] == [], f"{module}'s liveness answer"
    assert result["status"] == 200
    assert result["documents"] == 0, "the OpenAPI document is built at start, not when first asked for"
