"""Signing out through the real router: POST /auth/logout ends that sign-in's refresh tokens, server-side."""

from __future__ import annotations

import psycopg

from tests.support.api import Api, assert_error, sign_in_again, sign_up

LOGOUT = "/api/v1/auth/logout"
REFRESH = "/api/v1/auth/refresh"


def test_after_logout_the_refresh_token_is_refused_as_revoked(api: Api) -> None:
    user = sign_up(api, "logout")
    signed_out = api.post(LOGOUT, json={"refresh_token": user.refresh_token})
    assert signed_out.status_code == 204
    assert signed_out.content == b""
    assert_error(api.post(REFRESH, json={"refresh_token": user.refresh_token}), 401, "REFRESH_TOKEN_REVOKED")
    # The access token is not tracked: it works until it expires (at most 15 minutes), as documented.
    assert api.get("/api/v1/auth/me", token=user.access_token).status_code == 200


def test_logout_ends_the_whole_sign_in_whichever_of_its_tokens_is_sent(api: Api) -> None:
    user = sign_up(api, "logout-rotated")
    rotated = api.post(REFRESH, json={"refresh_token": user.refresh_token}).json()
    # A tab signing out with the token another tab has just traded for a new one.
    assert api.post(LOGOUT, json={"refresh_token": user.refresh_token}).status_code == 204
    assert_error(api.post(REFRESH, json={"refresh_token": rotated["refresh_token"]}), 401, "REFRESH_TOKEN_REVOKED")


def test_another_sign_in_of_the_same_user_is_unaffected(api: Api) -> None:
    laptop = sign_up(api, "logout-two-devices")
    phone = sign_in_again(api, laptop)
    assert api.post(LOGOUT, json={"refresh_token": laptop.refresh_token}).status_code == 204
    renewed = api.post(REFRESH, json={"refresh_token": phone.refresh_token})
    assert renewed.status_code == 200
    assert api.get("/api/v1/auth/me", token=renewed.json()["access_token"]).status_code == 200


def test_logout_is_audited_once_in_the_same_transaction_and_is_idempotent(api: Api, db: psycopg.Connection) -> None:
    user = sign_up(api, "logout-audited")
    assert api.post(LOGOUT, json={"refresh_token": user.refresh_token}).status_code == 204
    # Signing out again (a second click, another tab) answers the same and ends nothing more.
    assert api.post(LOGOUT, json={"refresh_token": user.refresh_token}).status_code == 204
    rows = db.execute(
        "SELECT event_type, details->>'correlation_id' FROM audit_events WHERE user_id = %s ORDER BY created_at",
        (user.id,),
    ).fetchall()
    assert [row[0] for row in rows] == ["LOGIN", "LOGOUT"]
    assert rows[1][1]
    reasons = db.execute("SELECT revoked_reason FROM refresh_tokens WHERE user_id = %s", (user.id,)).fetchall()
    assert reasons == [("LOGGED_OUT",)]
    # The event is the user's own: listed for them, like their sign-ins.
    listed = api.get("/api/v1/audit-events", token=user.access_token, params={"event_type": "LOGOUT"}).json()
    assert [event["event_type"] for event in listed["items"]] == ["LOGOUT"]


def test_a_forged_or_malformed_refresh_token_is_refused_in_the_error_format(api: Api) -> None:
    user = sign_up(api, "logout-forged")
    forged = user.refresh_token[:-4] + ("AAAA" if not user.refresh_token.endswith("AAAA") else "BBBB")
    assert_error(api.post(LOGOUT, json={"refresh_token": forged}), 401, "INVALID_REFRESH_TOKEN")
    # An access token is not a refresh token.
    assert_error(api.post(LOGOUT, json={"refresh_token": user.access_token}), 401, "INVALID_REFRESH_TOKEN")
    assert_error(api.post(LOGOUT, json={}), 400, "VALIDATION_ERROR")
    assert_error(api.post(LOGOUT, json={"refresh_token": ""}), 400, "VALIDATION_ERROR")
    # Nothing was ended by the refused attempts.
    assert api.post(REFRESH, json={"refresh_token": user.refresh_token}).status_code == 200


def test_logout_needs_only_the_refresh_token_not_a_bearer_token(api: Api) -> None:
    # Possession of the refresh token is the whole proof, as for a refresh (RFC 7009 revocation works alike):
    # whoever holds someone's refresh token could already refresh with it, or end its sign-in through reuse
    # detection once it is rotated. So another user's bearer token neither helps nor hinders.
    owner, other = sign_up(api, "logout-owner"), sign_up(api, "logout-other")
    assert api.post(LOGOUT, token=other.access_token, json={"refresh_token": owner.refresh_token}).status_code == 204
    assert_error(api.post(REFRESH, json={"refresh_token": owner.refresh_token}), 401, "REFRESH_TOKEN_REVOKED")
    # ... and the sender's own sign-in is untouched.
    assert api.post(REFRESH, json={"refresh_token": other.refresh_token}).status_code == 200


def test_logout_is_rate_limited_like_refresh(api: Api) -> None:
    statuses = [api.post(LOGOUT, json={"refresh_token": f"guess-{n}"}).status_code for n in range(10)]
    assert statuses == [401] * 10
    assert_error(api.post(LOGOUT, json={"refresh_token": "guess"}), 429, "RATE_LIMIT_EXCEEDED")
