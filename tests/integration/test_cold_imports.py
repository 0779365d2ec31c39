"""Cold starts stay small: functions that rarely touch S3 never load boto3 while starting.

import-linter cannot hold this line for the tasks and reminders functions: it also sees the import inside
the function that loads storage lazily (tasktracker.bootstrap.tasks, and the storage settler's builder in
tasktracker.bootstrap.reminders). A fresh interpreter can.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Starting an app builds its engine and use cases but connects to nothing, so any address will do.
START_UP = """
import sys
from {module} import create_app
create_app()
print(sorted(name for name in ("boto3", "botocore") if name in sys.modules))
"""


@pytest.mark.parametrize("module", ["functions.auth.app", "functions.tasks.app", "functions.reminders.app"])
def test_starting_the_function_does_not_load_boto3(module: str) -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers")]),
        "APP_ENV": "test",
        "JWT_SECRET_KEY": "cold-import-test-secret-of-32-characters",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    started = subprocess.run(
        [sys.executable, "-c", START_UP.format(module=module)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == "[]"
