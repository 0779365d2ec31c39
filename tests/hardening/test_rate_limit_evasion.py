"""Rate-limit evasion: a client cannot leave its budget by claiming another address. The router replaces whatever
forwarding headers a client sends with the address it saw, and each function trusts exactly that one hop."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import pytest
import redis
import requests

from tests.support.api import Api, assert_error, unique_email
from tests.support.snapshots import Figures, mint_token, print_figures, reset_rate_limits
from tests.support.stack import RunningStack

LOGIN_LIMIT = 10  # RATE_LIMIT_LOGIN of the test stack
DEFAULT_LIMIT = 100  # RATE_LIMIT_DEFAULT of the test stack


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    yield from print_figures(request, Figures("rate-limit evasion"))


@pytest.fixture
def api(stack: RunningStack, redis_client: redis.Redis) -> Api:
    reset_rate_limits(redis_client)
    return Api(stack.base_url)


def spoofed_headers(n: int) -> dict[str, str]:
    """Another claimed client address on every request, in every header a proxy-trusting server might read."""
    address = f"203.0.{n // 250}.{n % 250 + 1}"
    return {
        "X-Forwarded-For": f"{address}, 198.51.100.{n % 250 + 1}",
        "X-Real-IP": address,
        "Forwarded": f"for={address};proto=https",
        "X-Client-IP": address,
        "True-Client-IP": address,
        "CF-Connecting-IP": address,
    }


def limited_addresses(client: redis.Redis) -> set[str]:
    """The client addresses the functions counted requests against, read from the limiter's own keys."""
    found = set()
    for key in client.scan_iter("LIMITS*"):
        text = key.decode()
        if "/ip:" in text:
            found.add(text.split("/ip:", 1)[1].split(":", 1)[0])
    return found


def test_rotating_forwarding_headers_does_not_escape_the_login_limit(
    api: Api, redis_client: redis.Redis, figures: Figures
) -> None:
    counter = itertools.count()
    statuses = [
        api.post(
            "/api/v1/auth/login",
            json={"email": unique_email(), "password": "a guess"},
            headers=spoofed_headers(next(counter)),
        ).status_code
        for _ in range(LOGIN_LIMIT)
    ]
    assert statuses == [401] * LOGIN_LIMIT
    limited = api.post(
        "/api/v1/auth/login",
        json={"email": unique_email(), "password": "a guess"},
        headers=spoofed_headers(next(counter)),
    )
    assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert limited_addresses(redis_client) == {"127.0.0.1"}
    figures.add("spoofed login requests", LOGIN_LIMIT + 1)


def test_rotating_headers_and_forged_identities_do_not_escape_the_default_limit(
    api: Api, redis_client: redis.Redis, figures: Figures
) -> None:
    # Each request claims another address and carries a token for another (made-up) user, signed with a wrong
    # key: neither may open a fresh budget.
    statuses = []
    for n in range(DEFAULT_LIMIT + 1):
        forged = mint_token(str(uuid.uuid4()), key="an attacker's own key, long enough for hs256")
        response = api.get("/api/v1/tasks", token=forged, headers=spoofed_headers(n))
        statuses.append(response.status_code)
    assert statuses[:DEFAULT_LIMIT] == [401] * DEFAULT_LIMIT
    assert statuses[DEFAULT_LIMIT] == 429
    assert limited_addresses(redis_client) == {"127.0.0.1"}
    figures.add("spoofed anonymous requests", DEFAULT_LIMIT + 1)


@pytest.mark.parametrize("function", ["auth", "tasks", "attachments", "audit", "reminders", "notifications"])
def test_each_function_trusts_exactly_one_forwarding_hop(
    stack: RunningStack, redis_client: redis.Redis, function: str, figures: Figures
) -> None:
    """Straight at the function (as the router reaches it): the last X-Forwarded-For entry is the router's, the
    ones before it are the client's claims and are ignored."""
    reset_rate_limits(redis_client)
    path = {
        "auth": "/api/v1/auth/me",
        "tasks": "/api/v1/tasks",
        "attachments": f"/api/v1/tasks/{uuid.uuid4()}/attachments",
        "audit": "/api/v1/audit-events",
        "reminders": "/api/v1/reminders",
        "notifications": "/api/v1/notifications",
    }[function]
    headers = {"X-Forwarded-For": "198.51.100.7, 192.0.2.44", "X-Real-IP": "198.51.100.8"}
    response = requests.get(f"{stack.function_urls[function]}{path}", headers=headers, timeout=30)
    assert response.status_code == 401
    assert limited_addresses(redis_client) == {"192.0.2.44"}
    figures.add("one-hop checks")
