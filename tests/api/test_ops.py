"""The ops function: health of the whole system, merged metrics, the merged OpenAPI document and docs index.

Whatever the stack runs (TEST_FUNCTIONS), the checks below expect exactly those functions. The "down" cases
never touch the shared services: they start their own ops process against a database of their own.

The fan-out answers (readiness, merged metrics, merged document) are cached by each ops worker for
CACHE_SECONDS, so a test that must see a change waits that long or polls.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
from tests.support.api import Api, assert_error, sign_up
from tests.support.stack import ROOT, RunningStack, metrics_directory, selected_routes

FUNCTIONS = [route.name for route in selected_routes()]
WATCHED = [name for name in FUNCTIONS if name != "ops"]
# OPS_CACHE_SECONDS and RATE_LIMIT_OPS of the test stack (their defaults).
CACHE_SECONDS = 2.0
OPS_LIMIT = 60
# The ops process's fan-out threads: one per call a fan-out can make, for readiness (four services and five
# functions), the merged metrics (five functions and the worker) and the merged document (five functions).
FAN_OUT_THREADS = 20
# Generous, for the extra ops processes some tests start: their polling must not meet the fan-out limit.
UNLIMITED = "100000/minute"

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
        env = {**stack_env, "FUNCTION_URLS": function_urls, "RATE_LIMIT_OPS": UNLIMITED, **overrides}
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

    def worker_becomes(state: str) -> None:
        # Each ops worker answers from its cache for CACHE_SECONDS: the change shows within that, not at once.
        deadline = time.monotonic() + CACHE_SECONDS + 3
        while (seen := worker()) != state and time.monotonic() < deadline:
            time.sleep(0.25)
        assert seen == state

    redis_client.delete(HEARTBEAT_KEY)
    worker_becomes("unknown")
    redis_client.set(HEARTBEAT_KEY, time.time())
    worker_becomes("up")
    redis_client.set(HEARTBEAT_KEY, time.time() - 3600)
    worker_becomes("down")
    redis_client.delete(HEARTBEAT_KEY)


def test_liveness_is_never_rate_limited(api: Api) -> None:
    statuses = {api.get("/api/v1/health/live").status_code for _ in range(110)}
    assert statuses == {200}


def test_the_fan_out_routes_share_a_limit_per_address_apart_from_the_default_one(api: Api, bucket: None) -> None:
    fan_out = ["/api/v1/health/ready", "/metrics", "/api/v1/openapi.json"]
    answers = [api.get(fan_out[n % len(fan_out)]) for n in range(OPS_LIMIT)]
    assert [response.status_code for response in answers if response.status_code == 429] == []
    assert answers[-1].headers["X-RateLimit-Limit"] == str(OPS_LIMIT)
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"

    for path in fan_out:
        limited = api.get(path)
        error = assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
        assert error["correlation_id"] == limited.headers["X-Correlation-ID"]
        assert int(limited.headers["Retry-After"]) > 0
        assert limited.headers["X-RateLimit-Limit"] == str(OPS_LIMIT)
        assert limited.headers["X-RateLimit-Remaining"] == "0"
    # Monitoring and the API count apart: liveness is never limited, and the address's API window is untouched.
    assert {api.get("/api/v1/health/live").status_code for _ in range(5)} == {200}
    assert api.get("/api/v1/auth/me").status_code == 401


def requests_counted(function: str, stack: RunningStack, path: str) -> float:
    return sum(requests_counted_by_worker(function, stack, path=path).values())


@pytest.mark.parametrize(
    ("route", "peer_path"),
    [("/api/v1/health/ready", "/health/live"), ("/api/v1/openapi.json", "/api/v1/{function}/openapi.json")],
)
def test_concurrent_fan_outs_through_the_router_are_computed_once_per_cache_period(
    api: Api, stack: RunningStack, bucket: None, route: str, peer_path: str
) -> None:
    """Each ops worker computes a fan-out at most once per CACHE_SECONDS; requests arriving meanwhile wait for
    that computation. Counted where the fan-out lands: the requests each function has served."""
    watched = WATCHED[0]
    path = peer_path.format(function=watched)
    before = requests_counted(watched, stack, path)
    sent = 32
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: Api(api.base_url).get(route).status_code, range(sent)))
    elapsed = time.monotonic() - started
    assert statuses == [200] * sent

    fan_outs = requests_counted(watched, stack, path) - before
    ops_workers = 2  # WEB_CONCURRENCY
    assert fan_outs <= ops_workers * (1 + int(elapsed // CACHE_SECONDS) + 1), (fan_outs, elapsed)


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


def gunicorn_processes(base_url: str) -> list[int]:
    """The gunicorn master and workers serving `base_url` (workers are forks: same command line)."""
    bind = base_url.removeprefix("http://").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"gunicorn" in command and bind in command:
                pids.append(int(entry.name))
    return pids


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def test_hanging_functions_under_concurrent_ready_requests_keep_threads_bounded_and_answers_quick(
    start_ops: StartOps, hanging_address: str, bucket: None
) -> None:
    """Every function hangs: each ready check would start a thread per function that waits out its socket
    timeout. The ops process keeps one bounded set of threads and every answer comes within the deadline."""
    request_threads = 16
    ops = start_ops(
        FUNCTION_URLS=",".join(f"{name}={hanging_address}" for name in WATCHED), GUNICORN_THREADS=str(request_threads)
    )
    processes = gunicorn_processes(ops)
    assert len(processes) == 3, processes  # the master and WEB_CONCURRENCY workers
    most_threads = dict.fromkeys(processes, 0)
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            for pid in processes:
                most_threads[pid] = max(most_threads[pid], thread_count(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=2 * request_threads) as pool:
            answers = list(pool.map(lambda _: ready_answer(ops), range(6 * request_threads)))
    finally:
        sampling.set()
        sampler.join()

    for status, body, _seconds in answers:
        assert status == 503
        assert body["components"]["functions"] == dict.fromkeys(WATCHED, "down")
        assert body["components"]["db"] == "up"
    slowest = max(seconds for _status, _body, seconds in answers)
    assert slowest < 3.0, slowest
    # A worker's own thread, its request threads and the fan-out's, with a little room for gunicorn's.
    bound = 1 + request_threads + FAN_OUT_THREADS + 3
    assert max(most_threads.values()) <= bound, most_threads


class RecordingMetrics(BaseHTTPRequestHandler):
    """An exposition that counts how often it is scraped."""

    scrapes = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        with RecordingMetrics.lock:
            RecordingMetrics.scrapes += 1
        body = b"# TYPE scraped_total counter\nscraped_total 1.0\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recording_metrics() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingMetrics)
    RecordingMetrics.scrapes = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_concurrent_merged_scrapes_are_computed_once_per_cache_period(
    start_ops: StartOps, recording_metrics: str
) -> None:
    ops = start_ops(WORKER_METRICS_URL=recording_metrics)
    sent = 32
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        exposition = list(pool.map(lambda _: requests.get(f"{ops}/metrics", timeout=10), range(sent)))
    elapsed = time.monotonic() - started
    assert [response.status_code for response in exposition] == [200] * sent
    assert all('scraped_total{function="reminders-worker"} 1.0' in response.text for response in exposition)
    ops_workers = 2  # WEB_CONCURRENCY
    assert RecordingMetrics.scrapes <= ops_workers * (1 + int(elapsed // CACHE_SECONDS) + 1), elapsed

    # Past the cache period, a scrape is fresh again.
    time.sleep(CACHE_SECONDS + 0.1)
    scraped = RecordingMetrics.scrapes
    assert requests.get(f"{ops}/metrics", timeout=10).status_code == 200
    assert RecordingMetrics.scrapes == scraped + 1


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
    # Whichever ops worker answers, a scrape older than what this test did is out of its cache by then.
    time.sleep(CACHE_SECONDS)
    before = metric_samples(api)
    by_worker_before = requests_counted_by_worker("auth", stack, path=me["path"], status="200")

    # Concurrent, so that the function's workers share them; each scrape is answered by one worker only.
    sent = 40
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: Api(api.base_url).get(me["path"], token=user.access_token).status_code, range(sent))
        )
    assert statuses == [200] * sent
    time.sleep(CACHE_SECONDS)
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
