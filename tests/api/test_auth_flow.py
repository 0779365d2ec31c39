"""The auth function through the real router, as a client uses it."""

from __future__ import annotations

import time
import uuid

import jwt
import psycopg

from tasktracker.application.auth import AuthUseCases
from tests.support.api import DEFAULT_PASSWORD, Api, assert_error, sign_up, unique_email
from tests.support.stack import TEST_JWT_SECRET


def test_register_login_and_read_me(api: Api) -> None:
    email = unique_email("ada")
    registered = api.post(
        "/api/v1/auth/register", json={"email": email.upper(), "password": DEFAULT_PASSWORD, "full_name": "Ada"}
    )
    assert registered.status_code == 201
    profile = registered.json()
    assert profile["email"] == email
    assert profile["full_name"] == "Ada"
    assert "password" not in registered.text and "password_hash" not in registered.text

    tokens = api.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}).json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900

    me = api.get("/api/v1/auth/me", token=tokens["access_token"])
    assert me.status_code == 200
    assert me.json()["id"] == profile["id"]
    assert set(me.json()) == {"id", "email", "full_name", "created_at"}


def test_login_is_audited_in_the_same_transaction(api: Api, db: psycopg.Connection) -> None:
    user = sign_up(api, "audited")
    rows = db.execute(
        "SELECT event_type, details->>'correlation_id' FROM audit_events WHERE user_id = %s", (user.id,)
    ).fetchall()
    assert [row[0] for row in rows] == ["LOGIN"]
    assert rows[0][1]


def test_duplicate_email_is_a_conflict_whatever_its_case(api: Api) -> None:
    user = sign_up(api, "dup")
    again = api.post("/api/v1/auth/register", json={"email": user.email.upper(), "password": DEFAULT_PASSWORD})
    assert_error(again, 409, "EMAIL_TAKEN")


def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    user = sign_up(api, "wrongpw")
    wrong = api.post("/api/v1/auth/login", json={"email": user.email, "password": "not the password"})
    unknown = api.post("/api/v1/auth/login", json={"email": unique_email("ghost"), "password": "not the password"})
    assert assert_error(wrong, 401, "INVALID_CREDENTIALS")["message"] == assert_error(unknown, 401)["message"]


def test_malformed_bodies_name_their_fields(api: Api) -> None:
    missing = api.post("/api/v1/auth/register", json={"email": unique_email()})
    assert "password" in assert_error(missing, 400, "VALIDATION_ERROR")["details"]["fields"]

    short = api.post("/api/v1/auth/register", json={"email": unique_email(), "password": "short"})
    assert "password" in assert_error(short, 400, "VALIDATION_ERROR")["details"]["fields"]

    bad_email = api.post("/api/v1/auth/register", json={"email": "not-an-email", "password": DEFAULT_PASSWORD})
    assert "email" in assert_error(bad_email, 400, "VALIDATION_ERROR")["details"]["fields"]

    unknown_field = api.post(
        "/api/v1/auth/register", json={"email": unique_email(), "password": DEFAULT_PASSWORD, "is_admin": True}
    )
    assert "is_admin" in assert_error(unknown_field, 400, "VALIDATION_ERROR")["details"]["fields"]

    not_json = api.post("/api/v1/auth/login", data="{not json", headers={"Content-Type": "application/json"})
    assert_error(not_json, 400)


def test_refresh_rotates_the_refresh_token(api: Api) -> None:
    """Reuse (within and after the grace) and concurrent refreshes: test_sessions.py."""
    user = sign_up(api, "rotate")
    first = api.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != user.refresh_token
    assert api.get("/api/v1/auth/me", token=rotated["access_token"]).status_code == 200
    second = api.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] not in (user.refresh_token, rotated["refresh_token"])


def test_unknown_refresh_token_is_refused(api: Api) -> None:
    assert_error(api.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"}), 401, "INVALID_REFRESH_TOKEN")


def test_change_password_revokes_refresh_tokens_and_the_new_password_works(api: Api, db: psycopg.Connection) -> None:
    user = sign_up(api, "changer")
    wrong = api.post(
        "/api/v1/auth/change-password",
        token=user.access_token,
        json={"current_password": "not it at all", "new_password": "a brand new secret"},
    )
    assert_error(wrong, 401, "INVALID_CURRENT_PASSWORD")

    changed = api.post(
        "/api/v1/auth/change-password",
        token=user.access_token,
        json={"current_password": user.password, "new_password": "a brand new secret"},
    )
    assert changed.status_code == 204
    assert changed.content == b""

    assert_error(
        api.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}), 401, "REFRESH_TOKEN_REVOKED"
    )
    assert_error(api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password}), 401)
    assert api.post("/api/v1/auth/login", json={"email": user.email, "password": "a brand new secret"}).ok
    events = [
        row[0]
        for row in db.execute("SELECT event_type FROM audit_events WHERE user_id = %s ORDER BY created_at", (user.id,))
    ]
    assert events == ["LOGIN", "PASSWORD_CHANGED", "LOGIN"]


def _token(claims: dict[str, object], key: str = TEST_JWT_SECRET, algorithm: str = "HS256") -> str:
    now = int(time.time())
    payload = {
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "type": "access",
        "jti": str(uuid.uuid4()),
        "fresh": False,
        **claims,
    }
    return jwt.encode(payload, key, algorithm=algorithm)


def test_missing_expired_forged_and_alg_none_tokens_are_refused(api: Api) -> None:
    user = sign_up(api, "tokens")
    assert_error(api.get("/api/v1/auth/me"), 401, "AUTHENTICATION_REQUIRED")
    expired = _token({"sub": user.id, "iat": 1, "nbf": 1, "exp": 2})
    assert_error(api.get("/api/v1/auth/me", token=expired), 401, "TOKEN_EXPIRED")
    forged = _token({"sub": user.id}, key="someone-elses-secret-that-is-long-enough")
    assert_error(api.get("/api/v1/auth/me", token=forged), 401, "INVALID_TOKEN")
    unsigned = jwt.encode({"sub": user.id, "exp": int(time.time()) + 600, "type": "access"}, None, algorithm="none")
    assert_error(api.get("/api/v1/auth/me", token=unsigned), 401, "INVALID_TOKEN")
    assert_error(api.get("/api/v1/auth/me", token="garbage"), 401, "INVALID_TOKEN")


def test_a_token_used_before_its_expiry_is_still_refused_after_it(api: Api, db: psycopg.Connection) -> None:
    """The functions keep tokens they have verified (platform/security.py); a kept token must expire all the same,
    in every worker that kept it."""
    user = sign_up(api, "kept-token")
    (epoch,) = db.execute("SELECT session_epoch FROM users WHERE id = %s", (user.id,)).fetchone()
    expires = int(time.time()) + 3
    token = _token({"sub": user.id, "exp": expires, "session_epoch": epoch})
    # Several times, so that each of the function's workers has verified and kept it.
    for _ in range(6):
        assert api.get("/api/v1/auth/me", token=token).status_code == 200
    time.sleep(max(expires - time.time(), 0) + 1.1)
    for _ in range(6):
        assert_error(api.get("/api/v1/auth/me", token=token), 401, "TOKEN_EXPIRED")


def test_a_refresh_token_is_not_an_access_token(api: Api) -> None:
    user = sign_up(api, "refresh-as-access")
    assert_error(api.get("/api/v1/auth/me", token=user.refresh_token), 401, "INVALID_TOKEN")


def test_a_deactivated_users_live_token_stops_working(api: Api, accounts: AuthUseCases) -> None:
    user = sign_up(api, "deactivated")
    assert api.get("/api/v1/auth/me", token=user.access_token).status_code == 200
    accounts.deactivate(user.email)
    assert_error(api.get("/api/v1/auth/me", token=user.access_token), 401, "ACCOUNT_DISABLED")
    assert_error(api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password}), 401)


def test_the_callers_correlation_id_is_echoed_in_header_and_error(api: Api) -> None:
    response = api.get("/api/v1/auth/me", headers={"X-Correlation-ID": "trace-me-123"})
    assert response.headers["X-Correlation-ID"] == "trace-me-123"
    assert assert_error(response, 401)["correlation_id"] == "trace-me-123"


def test_unknown_routes_and_methods_answer_in_the_error_format(api: Api) -> None:
    assert_error(api.get("/api/v1/auth/nothing-here"), 404, "NOT_FOUND")
    assert_error(api.delete("/api/v1/auth/login"), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.get("/api/v1/no-such-function"), 404, "NOT_FOUND")
