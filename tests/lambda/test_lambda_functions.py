"""What only the Lambda path has: the template's runtime and variables, API Gateway's choice of function, the
EventBridge schedule, binary bodies as base64, the spec's errors from every function, and ops watching its
peers through the Lambda Invoke API."""

from __future__ import annotations

import base64
import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from local.lambda_runtime import (
    LOCAL_ONLY_VARIABLES,
    Emulator,
    http_event,
    lambda_environment,
    response_body,
    template_python_version,
    template_variables,
)
from tasktracker.routes import load_routes, route_for
from tests.api.test_attachments import create_task, upload
from tests.support.api import assert_error, sign_up
from tests.support.lambda_api import LambdaApi, gateway_routes, select_route
from tests.support.stack import ROOT

EVENTS = ROOT / "tests" / "fixtures" / "aws-events"


def test_the_suite_runs_on_the_templates_runtime(built_functions: dict[str, Path]) -> None:
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == template_python_version()
    assert set(built_functions) == {route.name for route in load_routes()}
    for folder in built_functions.values():
        # sam build resolved the libraries for the template's Python: compiled ones carry its ABI tag.
        tags = {path.name.split(".")[-2] for path in folder.rglob("*.so") if path.name.count(".") >= 2}
        assert {tag for tag in tags if tag.startswith("cpython-")} <= {
            f"cpython-{sys.version_info.major}{sys.version_info.minor}-x86_64-linux-gnu"
        }, folder.name


def test_every_built_function_holds_one_version_of_each_library(built_functions: dict[str, Path]) -> None:
    """sam build installs every wheel its pip download fetched: a version that resolution fetched and then left
    (redis 8 beside 7) was installed over the chosen one, its files running under the other's metadata."""
    for folder in built_functions.values():
        installed: dict[str, list[str]] = {}
        for metadata in folder.glob("*.dist-info"):
            name, _, version = metadata.name.removesuffix(".dist-info").partition("-")
            installed.setdefault(name.lower().replace("_", "-"), []).append(version)
        assert {name: versions for name, versions in installed.items() if len(versions) > 1} == {}, folder.name


def test_every_built_module_ships_the_runtimes_bytecode(built_functions: dict[str, Path]) -> None:
    """Lambda's code folders are read-only: a module without bytecode for the runtime is compiled again at every
    cold start, which the emulator (its bytecode writes turned off likewise) would show only as slowness."""
    cache_tag = sys.implementation.cache_tag
    layer = next(built_functions["audit"].parent.glob("*Layer*"), None)
    folders = [*built_functions.values(), *([layer] if layer else [])]
    for folder in folders:
        sources = [path for path in folder.rglob("*.py") if "__pycache__" not in path.parts]
        assert sources, folder.name
        uncompiled = [
            path.relative_to(folder)
            for path in sources
            if not (path.parent / "__pycache__" / f"{path.stem}.{cache_tag}.pyc").exists()
        ]
        assert not uncompiled, f"{folder.name}: {len(uncompiled)} modules without bytecode, e.g. {uncompiled[:5]}"


def test_every_template_variable_is_a_setting_the_functions_read() -> None:
    sources = "\n".join(
        path.read_text()
        for path in [*(ROOT / "layers" / "tasktracker").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    )
    for function in (route.name for route in load_routes()):
        for name in template_variables(function):
            assert f'"{name}"' in sources, f"{function}: the template sets {name}, which nothing reads"
    assert not set(LOCAL_ONLY_VARIABLES) & set(template_variables("tasks"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/tasks/123"),
        ("POST", "/api/v1/tasks/123/attachments"),
        ("GET", "/api/v1/tasks/123/attachments/x"),
        ("GET", "/api/v1/tasks/123/attachmentsx"),
        ("GET", "/api/v1/attachments/9/download"),
        ("GET", "/api/v1/audit-events"),
        ("GET", "/api/v1/audit/docs"),
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/reminders"),
        ("GET", "/api/v1/health/ready"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/docs"),
        ("GET", "/metrics"),
    ],
)
def test_the_gateways_most_specific_route_is_the_route_tables_first_match(method: str, path: str) -> None:
    chosen = select_route(method, path, gateway_routes())
    expected = route_for(path, load_routes())
    assert chosen is not None and expected is not None
    assert chosen[0].function == expected.name


def test_each_request_reaches_the_function_its_route_names(api: LambdaApi) -> None:
    user = sign_up(api, "routed")
    task = api.post("/api/v1/tasks", token=user.access_token, json={"title": "Routed"}).json()
    api.gateway.served.clear()
    api.get(f"/api/v1/tasks/{task['id']}", token=user.access_token)
    api.get(f"/api/v1/tasks/{task['id']}/attachments", token=user.access_token)
    api.get("/api/v1/audit-events", token=user.access_token)
    api.get("/api/v1/health/live")
    assert api.gateway.served == ["tasks", "attachments", "audit", "ops"]


def test_every_function_answers_errors_in_the_spec_format(api: LambdaApi) -> None:
    user = sign_up(api, "errors")
    for path in ("/api/v1/tasks", "/api/v1/audit-events", "/api/v1/reminders", "/api/v1/auth/me"):
        assert_error(api.get(path), 401, "AUTHENTICATION_REQUIRED")
    assert_error(api.get(f"/api/v1/tasks/{uuid.uuid4()}/attachments", token=user.access_token), 404, "TASK_NOT_FOUND")
    assert_error(api.get("/api/v1/auth/nothing-here"), 404, "NOT_FOUND")
    assert_error(api.delete("/api/v1/auth/login"), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.post("/api/v1/tasks", token=user.access_token, json={"title": ""}), 400, "VALIDATION_ERROR")
    assert_error(
        api.post(
            "/api/v1/tasks", token=user.access_token, data=b"{not json", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    # A path no route takes never reaches a function: API Gateway answers it.
    assert api.get("/api/v1/no-such-function").json() == {"message": "Not Found"}


def test_uploads_and_downloads_travel_as_base64_binary_bodies(
    api: LambdaApi, emulators: dict[str, Emulator], db: psycopg.Connection
) -> None:
    owner = sign_up(api, "binary")
    task_id = create_task(db, owner)
    content = bytes(range(256)) * 16 + b"\x00\xff"
    created = upload(api, owner, task_id, content, "blob.bin", "application/octet-stream")
    assert created.status_code == 201, created.text

    event = http_event(
        "GET",
        f"/api/v1/attachments/{created.json()['id']}/download",
        headers={"authorization": f"Bearer {owner.access_token}"},
    )
    result = emulators["attachments"].invoke(event).result
    assert result["statusCode"] == 200
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == content
    headers = result["headers"]
    # Behind API Gateway there is no router to add these: the function itself does.
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-disposition"].startswith("attachment;")


def test_the_scheduled_event_sends_each_reminder_once_even_when_delivered_twice(
    api: LambdaApi, emulators: dict[str, Emulator], db: psycopg.Connection
) -> None:
    user = sign_up(api, "scheduled")
    task_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO tasks (id, owner_id, title, due_date) VALUES (%s, %s, %s, now() + %s)",
        (task_id, user.id, "Due soon on Lambda", timedelta(hours=2)),
    )
    event = json.loads((EVENTS / "eventbridge-scheduled.json").read_text())
    event["id"] = str(uuid.uuid4())

    first = emulators["reminders"].invoke(event).result
    second = emulators["reminders"].invoke(event).result

    assert first["correlation_id"] == second["correlation_id"] == event["id"]
    assert first["sent"] >= 1
    assert second["sent"] == 0
    sent = db.execute("SELECT count(*) FROM reminder_logs WHERE task_id = %s", (task_id,)).fetchone()
    assert sent == (1,)
    listed = api.get("/api/v1/reminders", token=user.access_token, params={"page_size": 100})
    assert listed.status_code == 200, listed.text
    # Every reminder is listed, and other tests of the session send theirs (the outbox's e-mail test does).
    assert [item["task_id"] for item in listed.json()["items"] if item["task_id"] == task_id] == [task_id]


def _samples(api: LambdaApi) -> list[Any]:
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def test_ops_merges_the_metrics_of_every_function_it_invokes(api: LambdaApi) -> None:
    functions = {route.name for route in load_routes()}
    user = sign_up(api, "metrics")
    for path in ("/api/v1/tasks", "/api/v1/audit-events", "/api/v1/reminders", "/api/v1/notifications"):
        assert api.get(path, token=user.access_token).status_code == 200

    samples = _samples(api)

    up = {sample.labels["function"]: sample.value for sample in samples if sample.name == "function_up"}
    assert up == dict.fromkeys(functions, 1.0)
    counted = {
        sample.labels["function"]
        for sample in samples
        if sample.name == "http_requests_total" and sample.labels.get("status") == "200"
    }
    assert {"auth", "tasks", "audit", "reminders", "notifications"} <= counted


def test_ops_reports_a_peer_that_does_not_answer_as_down(
    emulators: dict[str, Emulator], lambda_values: dict[str, str], tmp_path: Path
) -> None:
    from local.lambda_runtime import function_emulator
    from local.services import free_port

    silent = f"http://127.0.0.1:{free_port()}"
    urls = f"tasks={emulators['tasks'].invoke_url},audit={silent}"
    ops = function_emulator(
        "ops", lambda_environment("ops", lambda_values, FUNCTION_INVOKE_URLS=urls), tmp_path
    ).start()
    try:
        result = ops.invoke(http_event("GET", "/api/v1/health/ready")).result
    finally:
        ops.stop()
    assert result["statusCode"] == 503
    body = json.loads(response_body(result))
    assert body["components"]["functions"] == {"tasks": "up", "audit": "down"}
