"""On Lambda a function builds its app during INIT, so that Lambda's boosted INIT CPU and a SnapStart snapshot hold
it, and opens no connection before the snapshot; anywhere else importing it needs no configuration."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from local.lambda_runtime import (
    RUNTIME_DIR,
    Emulator,
    function_emulator,
    http_event,
    lambda_environment,
    lambda_python,
)
from tests.support.api import sign_up
from tests.support.lambda_api import LambdaApi

# The built function's module imported as awslambdaric imports it; then its configuration removed, so that only an
# app built at import can answer; the SnapStart hooks run as the runtime runs them around a snapshot.
_ENTRY_POINT = """
import json, os, sys
from pathlib import Path

def sockets():
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:  # the listing's own descriptor, closed by now
            pass
    return sum(link.startswith("socket:") for link in links)

module = __import__(f"functions.{sys.argv[1]}.app", fromlist=["handler"])
found = {"sockets_after_import": sockets(), "database_libraries_at_import": "sqlalchemy" in sys.modules}
events = json.loads(Path(sys.argv[2]).read_text())
for name in [name for name in os.environ if name not in ("PATH", "PYTHONPATH", "AWS_LAMBDA_FUNCTION_NAME")]:
    del os.environ[name]
found["live"] = module.handler(events["live"], None)["statusCode"]
from awslambdaric import lambda_runtime_hooks_runner
lambda_runtime_hooks_runner.run_before_snapshot()
found["sockets_before_snapshot"] = sockets()
found["database_libraries_in_snapshot"] = "sqlalchemy.orm" in sys.modules and "psycopg" in sys.modules
lambda_runtime_hooks_runner.run_after_restore()
found["read"] = module.handler(events["read"], None)["statusCode"]
print(json.dumps(found))
"""


def _run_entry_point(folder: Path, layer: Path, name: str, env: dict[str, str], events: Path) -> dict[str, object]:
    done = subprocess.run(
        [lambda_python(), "-c", _ENTRY_POINT, name, str(events)],
        cwd=folder,
        env={**env, "PATH": os.environ["PATH"], "PYTHONPATH": os.pathsep.join(map(str, (folder, layer, RUNTIME_DIR)))},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(("name", "read_path"), [("tasks", "/api/v1/tasks"), ("auth", "/api/v1/auth/me")])
def test_on_lambda_the_app_is_built_at_init_and_connects_only_on_first_use(
    name: str,
    read_path: str,
    api: LambdaApi,
    built_functions: dict[str, Path],
    lambda_values: dict[str, str],
    tmp_path: Path,
) -> None:
    user = sign_up(api, f"init-{name}")
    events = tmp_path / "events.json"
    events.write_text(json.dumps({
        "live": http_event("GET", "/health/live"),
        "read": http_event("GET", read_path, headers={"authorization": f"Bearer {user.access_token}"}),
    }))  # fmt: skip
    folder = built_functions[name]
    env = lambda_environment(name, lambda_values, AWS_LAMBDA_FUNCTION_NAME=name)

    found = _run_entry_point(folder, folder.parent / "SharedLayer" / "python", name, env, events)

    # Built at import: it answers with its configuration gone.
    assert found["live"] == 200
    # Nothing connected before the snapshot, and what a first read loads is loaded by then; the read still works,
    # its connections made after the restore.
    assert found["sockets_after_import"] == 0
    assert found["sockets_before_snapshot"] == 0
    assert found["database_libraries_at_import"] is False
    assert found["database_libraries_in_snapshot"] is True
    assert found["read"] == 200


def test_elsewhere_importing_a_function_needs_no_configuration(built_functions: dict[str, Path]) -> None:
    folder = built_functions["tasks"]
    path = os.pathsep.join(map(str, (folder, folder.parent / "SharedLayer" / "python", RUNTIME_DIR)))
    done = subprocess.run(
        [lambda_python(), "-c", "import functions.tasks.app as m; assert callable(m.handler)"],
        cwd=folder, env={"PATH": os.environ["PATH"], "PYTHONPATH": path}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_emulator_reports_the_init_duration_whatever_the_functions_log_level(
    lambda_values: dict[str, str], tmp_path: Path
) -> None:
    """The function's LOG_LEVEL (WARNING here) is the emulator's too unless told otherwise: its INIT REPORT, which
    covers the import and, on Lambda, the app's build, must still be logged."""
    assert lambda_values["LOG_LEVEL"] == "WARNING"
    emulator: Emulator = function_emulator("ops", lambda_environment("ops", lambda_values), tmp_path).start()
    try:
        first = emulator.invoke(http_event("GET", "/health/live"))
    finally:
        emulator.stop()
    assert first.result["statusCode"] == 200
    init = emulator.init_milliseconds()
    assert init is not None and init > 0
    # The emulator counts INIT inside the first invoke's Duration.
    assert emulator.report_milliseconds()[0] >= init
