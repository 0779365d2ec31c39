from __future__ import annotations

from tests.support.api import Api, assert_error, sign_up, unique_email


def test_more_than_the_limit_in_a_minute_is_429_with_headers(api: Api) -> None:
    user = sign_up(api, "busy")
    statuses = []
    for _ in range(100):
        response = api.get("/api/v1/auth/me", token=user.access_token)
        statuses.append(response.status_code)
    assert statuses == [200] * 100
    assert response.headers["X-RateLimit-Limit"] == "100"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in response.headers

    limited = api.get("/api/v1/auth/me", token=user.access_token)
    error = assert_error(limited, 429, "RATE_LIMIT_EXCEEDED")
    assert "too many requests" in error["message"].lower()
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["X-RateLimit-Limit"] == "100"
    assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_signed_in_users_are_limited_apart_from_each_other(api: Api) -> None:
    busy, calm = sign_up(api, "busy"), sign_up(api, "calm")
    for _ in range(101):
        api.get("/api/v1/auth/me", token=busy.access_token)
    assert api.get("/api/v1/auth/me", token=calm.access_token).status_code == 200


def test_login_has_a_stricter_limit(api: Api) -> None:
    email = unique_email("brute")
    statuses = [
        api.post("/api/v1/auth/login", json={"email": email, "password": f"guess-{n}"}).status_code for n in range(10)
    ]
    assert statuses == [401] * 10
    assert_error(api.post("/api/v1/auth/login", json={"email": email, "password": "guess"}), 429, "RATE_LIMIT_EXCEEDED")


def test_the_limit_is_one_window_across_endpoints_and_functions(api: Api) -> None:
    user = sign_up(api, "spread")
    reads = ["/api/v1/auth/me", "/api/v1/tasks", "/api/v1/audit-events", "/api/v1/reminders", "/api/v1/notifications"]
    statuses = [api.get(reads[n % len(reads)], token=user.access_token).status_code for n in range(100)]
    assert statuses == [200] * 100
    for path in reads:
        assert_error(api.get(path, token=user.access_token), 429, "RATE_LIMIT_EXCEEDED")
