"""Sessions through the real router: a password change or a deactivation ends every earlier token at once,
and two tabs refreshing with one refresh token at the same moment both stay signed in."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import requests

from tests.support.api import Api, SignedInUser, assert_error, sign_up
from tests.support.stack import TEST_REFRESH_REUSE_GRACE_SECONDS

NEW_PASSWORD = "a brand new passphrase"

# One call of each signed-in function, so that the check is seen to live in the platform, not in one function.
SIGNED_IN_READS = ("/api/v1/auth/me", "/api/v1/tasks", "/api/v1/audit-events", "/api/v1/reminders")


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
    api: Api, db: psycopg.Connection
) -> None:
    user = sign_up(api, "returning")
    db.execute("UPDATE users SET is_active = false WHERE id = %s", (user.id,))
    assert_error(api.get("/api/v1/tasks", token=user.access_token), 401, "ACCOUNT_DISABLED")
    db.execute("UPDATE users SET is_active = true WHERE id = %s", (user.id,))

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
