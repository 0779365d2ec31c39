"""The ops function: health of the whole system, merged metrics, the merged OpenAPI document and docs index.

Whatever the stack runs (TEST_FUNCTIONS), the checks below expect exactly those functions. The "down" cases
never touch the shared services: they start their own ops process against a database of their own.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
import requests
from openapi_spec_validator import validate
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from local.services import free_port, start_embedded_postgres
from local.stack import gunicorn_command
from tasktracker.adapters.celery.heartbeat import HEARTBEAT_KEY
from tests.support.api import Api, sign_up
from tests.support.stack import ROOT, RunningStack, metrics_directory, selected_routes

FUNCTIONS = [route.name for route in selected_routes()]
WATCHED = [name for name in FUNCTIONS if name != "ops"]

StartOps = Callable[..., str]


@pytest.fixture
def bucket(stack_env: dict[str, str]) -> None:
    """The attachments function creates its bucket at start; a stack without it still needs one to be ready."""
    s3 = boto3.client(
        "s3",
        endpoint_url=stack_env["S3_ENDPOINT_URL"],
        region_name=stack_env["AWS_DEFAULT_REGION"],
        aws_access_key_id=stack_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack_env["AWS_SECRET_ACCESS_KEY"],
    )
    existing = {entry["Name"] for entry in s3.list_buckets()["Buckets"]}
    if stack_env["S3_BUCKET"] not in existing:
        s3.create_bucket(Bucket=stack_env["S3_BUCKET"])


@pytest.fixture
def start_ops(stack: RunningStack, stack_env: dict[str, str], tmp_path: Path) -> Iterator[StartOps]:
    """Starts an extra ops process watching the stack's functions, with some settings overridden."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**overrides: str) -> str:
        port = free_port()
        function_urls = ",".join(f"{name}={url}" for name, url in stack.function_urls.items())
        env = {**stack_env, "FUNCTION_URLS": function_urls, **overrides}
        log = tmp_path / f"ops-{port}.log"
        process = subprocess.Popen(
            gunicorn_command("functions.ops.app:create_app()", port),
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if requests.get(f"{url}/health/live", timeout=1).status_code == 200:
                    return url
            except requests.RequestException:
                # Gunicorn listens before the app has finished importing.
                time.sleep(0.1)
        raise TimeoutError(log.read_text())

    yield start
    for process in started:
        process.terminate()
    for process in started:
        process.wait(10)


def ready_answer(base_url: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = requests.get(f"{base_url}/api/v1/health/ready", timeout=10)
    return response.status_code, response.json(), time.monotonic() - started


def wait_for_ready_status(base_url: str, status: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answered, body, _ = ready_answer(base_url)
        if answered == status or time.monotonic() > deadline:
            assert answered == status, body
            return body
        time.sleep(0.2)


def metric_samples(api: Api) -> list[Sample]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    names = [family.name for family in families]
    assert len(names) == len(set(names)), "each family appears once, whatever the number of functions"
    return [sample for family in families for sample in family.samples]


def sample_value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(sample.value for sample in samples if sample.name == name and labels.items() <= sample.labels.items())


def test_live_answers_ok(api: Api) -> None:
    response = api.get("/api/v1/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_when_every_component_is_up(api: Api, bucket: None) -> None:
    response = api.get("/api/v1/health/ready")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    components = body["components"]
    assert {key: components[key] for key in ("db", "redis", "s3")} == {"db": "up", "redis": "up", "s3": "up"}
    assert components["functions"] == dict.fromkeys(WATCHED, "up")
    assert components["worker"] in ("up", "down", "unknown")


def test_worker_state_follows_its_heartbeat_but_never_fails_readiness(
    api: Api, bucket: None, redis_client: redis.Redis
) -> None:
    def worker() -> str:
        response = api.get("/api/v1/health/ready")
        assert response.status_code == 200, response.text
        state: str = response.json()["components"]["worker"]
        return state

    redis_client.delete(HEARTBEAT_KEY)
    assert worker() == "unknown"
    redis_client.set(HEARTBEAT_KEY, time.time())
    assert worker() == "up"
    redis_client.set(HEARTBEAT_KEY, time.time() - 3600)
    assert worker() == "down"
    redis_client.delete(HEARTBEAT_KEY)


def test_ops_endpoints_are_never_rate_limited(api: Api) -> None:
    statuses = {api.get("/api/v1/health/live").status_code for _ in range(110)}
    assert statuses == {200}


def test_an_unreachable_database_makes_ready_503_and_says_which(start_ops: StartOps, bucket: None) -> None:
    closed_port = free_port()
    ops = start_ops(DATABASE_URL=f"postgresql://nobody@127.0.0.1:{closed_port}/nothing")

    status, body, seconds = ready_answer(ops)

    assert status == 503
    assert body["status"] == "degraded"
    assert body["components"]["db"] == "down"
    assert body["components"]["redis"] == body["components"]["s3"] == "up"
    assert body["components"]["functions"] == dict.fromkeys(WATCHED, "up")
    assert seconds < 2.5


@pytest.fixture
def hanging_address() -> Iterator[str]:
    """Accepts connections (the kernel's backlog does) and never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_hanging_function_is_down_in_ready_and_metrics_without_holding_them_up(
    start_ops: StartOps, stack: RunningStack, hanging_address: str, bucket: None
) -> None:
    hanging = WATCHED[0]
    alive = {name: url for name, url in stack.function_urls.items() if name != hanging}
    ops = start_ops(FUNCTION_URLS=",".join([f"{hanging}={hanging_address}", *(f"{n}={u}" for n, u in alive.items())]))

    status, body, seconds = ready_answer(ops)
    assert status == 503 and body["status"] == "degraded"
    assert body["components"]["functions"] == {name: "down" if name == hanging else "up" for name in WATCHED}
    assert body["components"]["db"] == "up"
    assert seconds < 2.5

    exposition = requests.get(f"{ops}/metrics", timeout=10).text
    samples = [sample for family in text_string_to_metric_families(exposition) for sample in family.samples]
    up = {sample.labels["function"]: sample.value for sample in samples if sample.name == "function_up"}
    assert up == {name: 0.0 if name == hanging else 1.0 for name in FUNCTIONS}
    assert not [sample for sample in samples if sample.labels["function"] == hanging and sample.name != "function_up"]


def test_ready_follows_the_database_going_down_and_coming_back(
    start_ops: StartOps, bucket: None, tmp_path: Path
) -> None:
    from tasktracker.adapters.sqlalchemy.migrate import upgrade

    data_dir = tmp_path / "postgres"
    server, database_url = start_embedded_postgres(data_dir, "tasktracker_ops")
    try:
        upgrade(database_url)
        ops = start_ops(DATABASE_URL=database_url)
        assert wait_for_ready_status(ops, 200, timeout=5)["components"]["db"] == "up"

        server._cleanup()
        assert wait_for_ready_status(ops, 503, timeout=5)["components"]["db"] == "down"

        server, restarted_url = start_embedded_postgres(data_dir, "tasktracker_ops")
        assert restarted_url == database_url
        assert wait_for_ready_status(ops, 200, timeout=10)["components"]["db"] == "up"
    finally:
        server._cleanup()


def requests_counted_by_worker(function: str, stack: RunningStack, **labels: str) -> dict[int, float]:
    """http_requests_total as each of the function's gunicorn workers wrote it to its own file."""
    counts: dict[int, float] = {}
    for path in metrics_directory(stack.workdir, function).glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(str(path)):
            _metric, sample, sample_labels, _help = json.loads(key)
            if sample == "http_requests_total" and labels.items() <= sample_labels.items():
                counts[pid] = counts.get(pid, 0.0) + value
    return counts


def test_metrics_merge_every_function_and_count_requests(api: Api, stack: RunningStack) -> None:
    user = sign_up(api, "counted")
    assert api.get("/api/v1/auth/me").status_code == 401
    # Readiness calls every function's /health/live, so each one has counted at least that request.
    api.get("/api/v1/health/ready")
    me = {"function": "auth", "path": "/api/v1/auth/me", "method": "GET", "status": "200"}
    before = metric_samples(api)
    by_worker_before = requests_counted_by_worker("auth", stack, path=me["path"], status="200")

    # Concurrent, so that the function's workers share them; each scrape is answered by one worker only.
    sent = 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: Api(api.base_url).get(me["path"], token=user.access_token).status_code, range(sent))
        )
    assert statuses == [200] * sent
    after = metric_samples(api)

    by_worker = requests_counted_by_worker("auth", stack, path=me["path"], status="200")
    served_by = {pid for pid, count in by_worker.items() if count > by_worker_before.get(pid, 0.0)}
    assert len(served_by) >= 2, f"every request went to one worker: {by_worker}"
    for _ in range(3):
        assert sample_value(metric_samples(api), "http_requests_total", **me) == sample_value(
            after, "http_requests_total", **me
        ), "every scrape, whichever worker answers it, counts every worker's requests"
    counted = sample_value(after, "http_requests_total", **me) - sample_value(before, "http_requests_total", **me)
    assert counted == sent
    timed = {"function": "auth", "path": me["path"], "method": "GET"}
    durations = sample_value(after, "http_request_duration_seconds_count", **timed) - sample_value(
        before, "http_request_duration_seconds_count", **timed
    )
    assert durations == sent
    assert sample_value(after, "errors_total", function="auth", type="AUTHENTICATION_REQUIRED") >= 1
    up = {sample.labels["function"]: sample.value for sample in after if sample.name == "function_up"}
    assert up == dict.fromkeys(FUNCTIONS, 1.0)
    labelled = {sample.labels["function"] for sample in after if sample.name == "http_requests_total"}
    assert labelled == set(FUNCTIONS)
    assert all("function" in sample.labels for sample in after)


def test_the_merged_openapi_document_is_valid_and_has_every_functions_paths(api: Api) -> None:
    response = api.get("/api/v1/openapi.json")
    assert response.status_code == 200
    merged = response.json()

    validate(merged)
    assert merged["openapi"] == "3.0.3"
    assert "x-unavailable-functions" not in merged
    assert "bearerAuth" in merged["components"]["securitySchemes"]
    for function in FUNCTIONS:
        own = api.get(f"/api/v1/{function}/openapi.json").json()
        assert set(own["paths"]) <= set(merged["paths"]), function
        for path, operations in own["paths"].items():
            assert set(operations) <= set(merged["paths"][path]), path


def test_the_docs_page_links_every_functions_docs_and_each_link_loads(api: Api) -> None:
    page = api.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    links = re.findall(r'href="([^"]+)"', page.text)
    assert {f"/api/v1/{function}/docs" for function in FUNCTIONS} | {"/api/v1/openapi.json"} <= set(links)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text), "no external assets"
    for link in links:
        assert api.get(link).status_code == 200, link


def test_merging_renames_clashing_components_and_rewrites_their_refs() -> None:
    from functions.ops.merged_openapi import merge_documents

    def document(path: str, item_fields: dict[str, Any]) -> dict[str, Any]:
        page = {"$ref": "#/components/schemas/Page"}
        return {
            "paths": {
                path: {
                    "get": {
                        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": page}}}}
                    }
                }
            },
            "components": {
                "schemas": {
                    "Item": {"type": "object", "properties": item_fields},
                    "Page": {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}},
                    },
                    "Error": {"type": "object", "properties": {"code": {"type": "string"}}},
                },
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            },
        }

    merged = merge_documents(
        {
            "tasks": document("/api/v1/tasks", {"title": {"type": "string"}}),
            "audit-log": document("/api/v1/audit-events", {"event_type": {"type": "string"}}),
        },
        title="t",
        description="d",
    )

    validate(merged)
    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Item", "Page", "Error", "AuditLogItem", "AuditLogPage"}
    assert schemas["AuditLogPage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/AuditLogItem"}
    assert schemas["Page"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Item"}
    audit_schema = merged["paths"]["/api/v1/audit-events"]["get"]["responses"]["200"]["content"]["application/json"]
    assert audit_schema["schema"] == {"$ref": "#/components/schemas/AuditLogPage"}
    tasks_schema = merged["paths"]["/api/v1/tasks"]["get"]["responses"]["200"]["content"]["application/json"]
    assert tasks_schema["schema"] == {"$ref": "#/components/schemas/Page"}
    assert list(merged["components"]["securitySchemes"]) == ["bearerAuth"]
