"""Security headers on every answer the router gives: each route of the route table, each documented operation,
the SPA, and the errors (401, 404, 405, 413, 429). Every one says nosniff, refuses framing and names no server
version; the SPA's pages carry a Content-Security-Policy. Cross-origin access is closed unless CORS_ORIGINS opens
it, and then only to the origins listed."""

from __future__ import annotations

import http.client
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import requests

from infra.router.routing import render_nginx, spa_location
from local.services import free_port, wait_for_port
from local.stack import request_body_limit
from local.system_packages import nginx_path
from tasktracker.routes import load_routes
from tests.support.api import Api, SignedInUser, assert_error, sign_up, unique_email
from tests.support.snapshots import Figures, documented_operations, print_figures, reset_rate_limits
from tests.support.stack import RunningStack, start_stack

VERSION = re.compile(r"\d")
LEAKY_HEADERS = ("X-Powered-By", "X-AspNet-Version", "X-Runtime")
ALLOWED_ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class Router:
    base_url: str


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    yield from print_figures(request, Figures("security headers"))


@pytest.fixture(scope="module")
def router(
    stack: RunningStack, stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Router]:
    """The router as deployed with the SPA, in front of the test stack's functions, with a tiny stand-in build."""
    workdir = tmp_path_factory.mktemp("headers-router")
    spa = workdir / "spa"
    (spa / "assets").mkdir(parents=True)
    (spa / "index.html").write_text('<!doctype html><script type="module" src="/assets/app.js"></script>')
    (spa / "assets" / "app.js").write_text("console.log('app')")
    port = free_port()
    config = workdir / "nginx.conf"
    config.write_text(
        render_nginx(
            load_routes(),
            hosts={name: url.removeprefix("http://") for name, url in stack.function_urls.items()},
            listen=f"127.0.0.1:{port}",
            max_body_bytes=request_body_limit(stack_env),
            daemon=False,
            pid_file=str(workdir / "nginx.pid"),
            temp_dir=str(workdir),
            access_log=str(workdir / "access.log"),
            error_log=str(workdir / "error.log"),
            extra=spa_location(str(spa)),
        )
    )
    nginx = subprocess.Popen([nginx_path(), "-c", str(config), "-p", str(workdir)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        yield Router(f"http://127.0.0.1:{port}")
    finally:
        nginx.terminate()
        nginx.wait(10)


def check_headers(response: requests.Response, *, page: bool = False) -> list[str]:
    """What is wrong with one answer's headers (nothing, when all is well)."""
    where = f"{response.request.method} {urlsplit(response.url).path} -> {response.status_code}"
    headers = response.headers
    problems = []
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{where}: X-Content-Type-Options {headers.get('X-Content-Type-Options')!r}")
    if headers.get("X-Frame-Options") != "DENY":
        problems.append(f"{where}: X-Frame-Options {headers.get('X-Frame-Options')!r}")
    if headers.get("Referrer-Policy") != "no-referrer":
        problems.append(f"{where}: Referrer-Policy {headers.get('Referrer-Policy')!r}")
    server = headers.get("Server", "")
    if VERSION.search(server) or any(name in server.lower() for name in ("gunicorn", "werkzeug", "python")):
        problems.append(f"{where}: Server {server!r} tells too much")
    problems += [f"{where}: {name} {headers[name]!r}" for name in LEAKY_HEADERS if name in headers]
    if "Access-Control-Allow-Origin" in headers:
        problems.append(f"{where}: CORS opened to {headers['Access-Control-Allow-Origin']!r} though none is configured")
    if page:
        policy = headers.get("Content-Security-Policy", "")
        for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
            if directive not in policy:
                problems.append(f"{where}: Content-Security-Policy lacks {directive!r}: {policy!r}")
    return problems


def announced_too_large(api: Api, user: SignedInUser) -> requests.Response:
    """A body announced over the router's limit: refused on its Content-Length, before a byte is read."""
    prepared = requests.Request(
        "POST",
        f"{api.base_url}/api/v1/tasks",
        data=b"{}",
        headers={"Authorization": f"Bearer {user.access_token}", "Content-Type": "application/json"},
    ).prepare()
    prepared.headers["Content-Length"] = str(request_body_limit({}) + 1)
    return api.session.send(prepared, timeout=30)


def sample_path(pattern: str) -> str:
    """A path the pattern matches: ^/api/v1/tasks/[^/]+/attachments(/|$) gives /api/v1/tasks/<id>/attachments"""
    path = pattern.removeprefix("^").replace("(/|$)", "").replace("/?$", "").removesuffix("$")
    return path.replace("[^/]+", str(uuid.uuid4())).replace("\\.", ".")


def test_every_route_operation_and_error_carries_the_security_headers(
    router: Router, redis_client: redis.Redis, figures: Figures
) -> None:
    reset_rate_limits(redis_client)
    api = Api(router.base_url)
    user = sign_up(api, "headers")
    answers: list[tuple[requests.Response, bool]] = []

    for route in load_routes():
        for pattern in route.patterns:
            answers.append((api.get(sample_path(pattern)), False))
            answers.append((api.get(sample_path(pattern), token=user.access_token), False))
    for operation in documented_operations(api):
        reset_rate_limits(redis_client)
        token = user.access_token if operation.method == "get" else None
        answers.append((api.request(operation.method.upper(), operation.concrete_path(), token=token), False))

    # The SPA: its entry point, a client-side route that falls back to it, and an asset.
    for path in ("/", "/index.html", "/tasks/some-task", "/assets/app.js"):
        answers.append((api.get(path), True))

    # The errors: 404 from the router and from a function, 405, 401, 413 and 429.
    answers.append((api.get("/api/v1/no-such-function"), False))
    answers.append((api.get("/api/v1/tasks/not-an-id/nothing", token=user.access_token), False))
    answers.append((api.delete("/api/v1/auth/login"), False))
    answers.append((api.get("/api/v1/auth/me"), False))
    too_large = announced_too_large(api, user)
    assert_error(too_large, 413, "PAYLOAD_TOO_LARGE")
    answers.append((too_large, False))
    reset_rate_limits(redis_client)
    for _ in range(11):
        limited = api.post("/api/v1/auth/login", json={"email": unique_email(), "password": "guess"})
    assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
    answers.append((limited, False))

    statuses = {response.status_code for response, _ in answers}
    assert {200, 401, 404, 405, 413, 429} <= statuses, statuses
    problems = [problem for response, page in answers for problem in check_headers(response, page=page)]
    figures.add("responses", len(answers))
    figures.add("distinct statuses", len(statuses))
    figures.add("failures", len(problems))
    assert not problems, "\n".join(problems)


def test_an_answer_nginx_gives_before_any_route_names_no_version(router: Router, figures: Figures) -> None:
    address = urlsplit(router.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.putrequest("GET", "/api/v1/tasks", skip_host=True)
        connection.endheaders()  # HTTP/1.1 without a Host header: refused by nginx itself
        answer = connection.getresponse()
        body = answer.read()
    finally:
        connection.close()
    assert answer.status == 400
    assert not VERSION.search(answer.getheader("Server", "")), answer.getheader("Server")
    assert not re.search(rb"nginx/\d", body), body
    figures.add("responses")


PREFLIGHT_HEADERS = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}


def test_a_preflight_from_an_unlisted_origin_opens_nothing(router: Router, figures: Figures) -> None:
    api = Api(router.base_url)
    for route in load_routes():
        path = sample_path(route.patterns[0])
        for origin in ("https://evil.example", "null", ALLOWED_ORIGIN):
            preflight = api.request("OPTIONS", path, headers={"Origin": origin, **PREFLIGHT_HEADERS})
            simple = api.get(path, headers={"Origin": origin})
            for response in (preflight, simple):
                assert "Access-Control-Allow-Origin" not in response.headers, (path, origin, response.headers)
                assert "Access-Control-Allow-Credentials" not in response.headers
                figures.add("cross-origin checks")


@pytest.fixture(scope="module")
def cors_stack(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    routes = [route for route in load_routes() if route.name in ("auth", "tasks")]
    env = {**stack_env, "CORS_ORIGINS": f"{ALLOWED_ORIGIN}, https://admin.example.com"}
    running = start_stack(env, Path(tmp_path_factory.mktemp("cors-stack")), routes=routes)
    yield running
    running.stop()


def test_a_configured_origin_and_only_it_may_call_the_api(
    cors_stack: RunningStack, redis_client: redis.Redis, figures: Figures
) -> None:
    reset_rate_limits(redis_client)
    api = Api(cors_stack.base_url)
    user: SignedInUser = sign_up(api, "cross-origin")

    preflight = api.request("OPTIONS", "/api/v1/tasks", headers={"Origin": ALLOWED_ORIGIN, **PREFLIGHT_HEADERS})
    assert preflight.status_code in (200, 204), preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Origin" in preflight.headers["Vary"]

    created = api.post(
        "/api/v1/tasks", token=user.access_token, json={"title": "x"}, headers={"Origin": ALLOWED_ORIGIN}
    )
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "X-Correlation-ID" in created.headers["Access-Control-Expose-Headers"]
    # Its client can keep a task's version and send it back: ETag is readable, If-Match may be sent.
    loaded = api.get(
        f"/api/v1/tasks/{created.json()['id']}", token=user.access_token, headers={"Origin": ALLOWED_ORIGIN}
    )
    assert loaded.headers["ETag"] and "ETag" in loaded.headers["Access-Control-Expose-Headers"]
    assert "if-match" in preflight.headers["Access-Control-Allow-Headers"].lower()
    # Errors are readable by the allowed origin too, so its client can show them.
    refused = api.get("/api/v1/auth/me", headers={"Origin": ALLOWED_ORIGIN})
    assert refused.status_code == 401 and refused.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN

    for origin in ("https://evil.example", "https://app.example.com.evil.example", "http://app.example.com", "null"):
        for response in (
            api.request("OPTIONS", "/api/v1/tasks", headers={"Origin": origin, **PREFLIGHT_HEADERS}),
            api.get("/api/v1/auth/me", token=user.access_token, headers={"Origin": origin}),
        ):
            assert "Access-Control-Allow-Origin" not in response.headers, (origin, response.headers)
            assert "Access-Control-Allow-Methods" not in response.headers
    figures.add("cross-origin checks", 13)
