"""Sessions through the real router: a password change or a deactivation ends every earlier token at once,
and two tabs refreshing with one refresh token at the same moment both stay signed in."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import redis
import requests

from tasktracker.application.auth import AuthUseCases
from tests.support.api import Api, SignedInUser, assert_error, sign_up
from tests.support.stack import TEST_REFRESH_REUSE_GRACE_SECONDS

NEW_PASSWORD = "a brand new passphrase"

# One call of each signed-in function, so that the check is seen to live in the platform, not in one function.
SIGNED_IN_READS = (
    "/api/v1/auth/me",
    "/api/v1/tasks",
    "/api/v1/audit-events",
    "/api/v1/reminders",
    "/api/v1/notifications",
)


def _login(api: Api, user: SignedInUser, password: str | None = None) -> dict[str, Any]:
    response = api.post("/api/v1/auth/login", json={"email": user.email, "password": password or user.password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def _refresh(api: Api, refresh_token: str) -> requests.Response:
    return api.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_a_password_change_stops_every_earlier_token_of_every_session_at_once(api: Api) -> None:
    user = sign_up(api, "changer")
    phone = _login(api, user)
    for path in SIGNED_IN_READS:
        assert api.get(path, token=phone["access_token"]).status_code == 200, path

    changed = api.post(
        "/api/v1/auth/change-password",
        token=user.access_token,
        json={"current_password": user.password, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204, changed.text

    # The other session and the one that made the change: their access tokens stop now, not in 15 minutes.
    for access_token in (phone["access_token"], user.access_token):
        for path in SIGNED_IN_READS:
            error = assert_error(api.get(path, token=access_token), 401, "TOKEN_REVOKED")
            assert "sign in again" in error["message"].lower(), error
    # Their refresh tokens say why they stopped, rather than looking stolen.
    for refresh_token in (phone["refresh_token"], user.refresh_token):
        assert_error(_refresh(api, refresh_token), 401, "REFRESH_TOKEN_REVOKED")

    fresh = _login(api, user, NEW_PASSWORD)
    for path in SIGNED_IN_READS:
        assert api.get(path, token=fresh["access_token"]).status_code == 200, path
    assert _refresh(api, fresh["refresh_token"]).status_code == 200


def test_tokens_from_before_a_deactivation_stay_dead_after_the_account_is_reactivated(
    api: Api, accounts: AuthUseCases
) -> None:
    user = sign_up(api, "returning")
    assert api.get("/api/v1/tasks", token=user.access_token).status_code == 200
    accounts.deactivate(user.email)
    assert_error(api.get("/api/v1/tasks", token=user.access_token), 401, "ACCOUNT_DISABLED")
    accounts.reactivate(user.email)

    assert_error(api.get("/api/v1/tasks", token=user.access_token), 401, "TOKEN_REVOKED")
    assert_error(_refresh(api, user.refresh_token), 401, "REFRESH_TOKEN_REVOKED")
    assert api.get("/api/v1/tasks", token=_login(api, user)["access_token"]).status_code == 200


def test_concurrent_refreshes_with_one_token_all_get_the_same_successor(api: Api, db: psycopg.Connection) -> None:
    user = sign_up(api, "two-tabs")
    tabs = 3
    start = threading.Barrier(tabs)
    answers: list[requests.Response | BaseException] = [RuntimeError("no answer")] * tabs

    def refresh_in_tab(tab: int) -> None:
        # One connection per tab, all released at once, as tabs sharing one stored token would send them.
        with requests.Session() as session:
            start.wait(10)
            try:
                answers[tab] = session.post(
                    f"{api.base_url}/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}, timeout=30
                )
            except requests.RequestException as error:
                answers[tab] = error

    threads = [threading.Thread(target=refresh_in_tab, args=(tab,)) for tab in range(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    responses = [answer for answer in answers if isinstance(answer, requests.Response)]
    assert [response.status_code for response in responses] == [200] * tabs, [r.text for r in responses]
    bodies = [response.json() for response in responses]
    successors = {body["refresh_token"] for body in bodies}
    assert len(successors) == 1, "every tab must get the same successor"
    assert successors != {user.refresh_token}
    for body in bodies:
        assert api.get("/api/v1/auth/me", token=body["access_token"]).status_code == 200

    # The family lives on: one live token (the successor), nothing revoked as reuse.
    rows = db.execute(
        "SELECT count(*) FILTER (WHERE NOT revoked), count(*) FROM refresh_tokens WHERE user_id = %s", (user.id,)
    ).fetchone()
    assert rows == (1, 2), rows
    assert _refresh(api, successors.pop()).status_code == 200


def test_a_replay_within_the_grace_gets_the_same_successor_and_after_it_ends_the_family(api: Api) -> None:
    user = sign_up(api, "replayed")
    first = _refresh(api, user.refresh_token)
    assert first.status_code == 200, first.text
    successor = first.json()["refresh_token"]

    # A tab that sent the same token a moment later is answered with the same successor.
    again = _refresh(api, user.refresh_token)
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == successor

    # Past the grace, the old token coming back means a copy exists: the whole sign-in ends.
    time.sleep(TEST_REFRESH_REUSE_GRACE_SECONDS + 0.5)
    assert_error(_refresh(api, user.refresh_token), 401, "REFRESH_TOKEN_REUSED")
    assert_error(_refresh(api, successor), 401, "REFRESH_TOKEN_REUSED")


def _cached_session(redis_client: redis.Redis, user: SignedInUser) -> bytes | None:
    value: bytes | None = redis_client.get(f"tasktracker:session:{user.id}")
    return value


def test_a_password_change_stops_the_old_token_in_every_other_process_at_once_with_the_cache_warm(
    api: Api, redis_client: redis.Redis
) -> None:
    """Each function is its own gunicorn with two worker processes: the change is made by the auth function and
    seen, on the very next request, by processes that had just answered from the cached state."""
    user = sign_up(api, "warm-cache")
    for _ in range(3):
        for path in SIGNED_IN_READS:
            assert api.get(path, token=user.access_token).status_code == 200, path
    assert _cached_session(redis_client, user) == b"0:1"

    changed = api.post(
        "/api/v1/auth/change-password",
        token=user.access_token,
        json={"current_password": user.password, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204, changed.text
    assert _cached_session(redis_client, user) == b"1:1"
    for _ in range(3):
        for path in SIGNED_IN_READS:
            assert_error(api.get(path, token=user.access_token), 401, "TOKEN_REVOKED")
    fresh = _login(api, user, NEW_PASSWORD)
    for path in SIGNED_IN_READS:
        assert api.get(path, token=fresh["access_token"]).status_code == 200, path


def test_a_deactivation_through_the_use_case_is_seen_at_once_with_the_cache_warm(
    api: Api, accounts: AuthUseCases, redis_client: redis.Redis
) -> None:
    user = sign_up(api, "warm-leaver")
    for path in SIGNED_IN_READS:
        assert api.get(path, token=user.access_token).status_code == 200, path
    accounts.deactivate(user.email)
    assert _cached_session(redis_client, user) == b"1:0"
    for path in SIGNED_IN_READS:
        assert_error(api.get(path, token=user.access_token), 401, "ACCOUNT_DISABLED")


def test_without_a_cached_state_the_check_reads_the_database_and_fills_the_cache(
    api: Api, db: psycopg.Connection, redis_client: redis.Redis
) -> None:
    user = sign_up(api, "cold-cache")
    redis_client.delete(f"tasktracker:session:{user.id}")
    # Ended behind the cache's back: with nothing cached, the database's word is the one taken.
    db.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = %s", (user.id,))
    assert_error(api.get("/api/v1/tasks", token=user.access_token), 401, "TOKEN_REVOKED")
    assert _cached_session(redis_client, user) == b"1:1"
    fresh = _login(api, user)
    assert api.get("/api/v1/tasks", token=fresh["access_token"]).status_code == 200
