"""Authentication abuse, across every function: each signed-in operation the functions document refuses every
kind of bad token, one issued before a password change among them; stolen refresh tokens end their family;
guessing passwords meets the login limit; a deactivated account is shut out everywhere; and no function starts
in production with the development JWT secret."""

from __future__ import annotations

import subprocess
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import jwt
import psycopg
import pytest
import redis

from local.services import free_port
from local.stack import gunicorn_command
from tasktracker.application.auth import AuthUseCases
from tasktracker.config import DEVELOPMENT_JWT_SECRET
from tasktracker.routes import load_routes
from tests.hardening.scale import scaled
from tests.support.api import Api, SignedInUser, assert_error, sign_up, unique_email
from tests.support.snapshots import (
    Figures,
    SecretWatch,
    WatchedApi,
    documented_operations,
    mint_token,
    print_figures,
    reset_rate_limits,
)
from tests.support.stack import ROOT, TEST_JWT_SECRET, RunningStack, function_environment

WRONG_KEY = "someone-elses-secret-that-is-also-long-enough"


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    yield from print_figures(request, Figures("authentication abuse"))


@pytest.fixture
def api(stack: RunningStack, redis_client: redis.Redis) -> WatchedApi:
    reset_rate_limits(redis_client)
    return WatchedApi(stack.base_url, SecretWatch())


def bad_tokens(user: SignedInUser, before_password_change: str) -> dict[str, tuple[str, str]]:
    """Each kind of token an attacker might try, with the error code it must get."""
    unsigned = jwt.encode({"sub": user.id, "exp": int(time.time()) + 600, "type": "access"}, None, algorithm="none")
    header = user.access_token.split(".")[0]
    return {
        "forged (wrong key)": (mint_token(user.id, key=WRONG_KEY), "INVALID_TOKEN"),
        "alg none": (unsigned, "INVALID_TOKEN"),
        "alg none, signature kept": (f"{unsigned.rsplit('.', 1)[0]}.{user.access_token.rsplit('.', 1)[1]}", ""),
        "right key, other algorithm (HS512)": (_hs512(user), "INVALID_TOKEN"),
        "payload swapped": (f"{header}.{mint_token(str(uuid.uuid4())).split('.')[1]}.{_signature(user)}", ""),
        "expired": (mint_token(user.id, expires_in=-1), "TOKEN_EXPIRED"),
        "refresh token as access": (user.refresh_token, "INVALID_TOKEN"),
        "refresh-type JWT": (mint_token(user.id, token_type="refresh"), ""),
        "unknown user": (mint_token(str(uuid.uuid4())), "ACCOUNT_DISABLED"),
        "subject not an id": (mint_token("admin"), ""),
        "garbage": ("not.a.token", "INVALID_TOKEN"),
        "issued before a password change": (before_password_change, "TOKEN_REVOKED"),
    }


def with_changed_password(api: Api, user: SignedInUser) -> tuple[SignedInUser, str]:
    """The user signed in again after changing the password, and an access token from before the change."""
    new_password = f"{user.password} changed"
    changed = api.post(
        "/api/v1/auth/change-password",
        token=user.access_token,
        json={"current_password": user.password, "new_password": new_password},
    )
    assert changed.status_code == 204, changed.text
    tokens = api.post("/api/v1/auth/login", json={"email": user.email, "password": new_password}).json()
    signed_in_again = SignedInUser(user.id, user.email, new_password, tokens["access_token"], tokens["refresh_token"])
    return signed_in_again, user.access_token


def _hs512(user: SignedInUser) -> str:
    with warnings.catch_warnings():
        # PyJWT finds the key short for SHA-512; it is the point: the right key, an algorithm not accepted.
        warnings.simplefilter("ignore")
        return mint_token(user.id, key=TEST_JWT_SECRET, algorithm="HS512")


def _signature(user: SignedInUser) -> str:
    return user.access_token.rsplit(".", 1)[1]


def test_every_signed_in_operation_of_every_function_refuses_bad_tokens(
    api: WatchedApi, db: psycopg.Connection, redis_client: redis.Redis, figures: Figures
) -> None:
    user, before_password_change = with_changed_password(api, sign_up(api, "victim"))
    operations = [operation for operation in documented_operations(api) if operation.signed_in]
    functions = {operation.function for operation in operations}
    assert {"auth", "tasks", "attachments", "audit", "notifications"} <= functions, functions
    failures = []
    for operation in operations:
        reset_rate_limits(redis_client)
        path = operation.concrete_path()
        for kind, (token, code) in bad_tokens(user, before_password_change).items():
            response = api.request(operation.method.upper(), path, token=token, json={})
            figures.add("bad-token calls")
            error = (
                response.json().get("error", {}) if response.headers.get("Content-Type") == "application/json" else {}
            )
            if response.status_code != 401 or (code and error.get("code") != code):
                failures.append(f"{operation.name} with {kind}: {response.status_code} {response.text[:150]}")
            elif response.headers.get("WWW-Authenticate", "").split(" ")[0] != "Bearer":
                failures.append(f"{operation.name} with {kind}: no WWW-Authenticate: Bearer challenge")
        # The real token still works: the refusals above were about the tokens, not the route.
        if operation.method == "get":
            assert api.get(path, token=user.access_token).status_code != 401, operation.name
    figures.add("signed-in operations", len(operations))
    figures.add("functions", len(functions))
    figures.add("responses checked for hashes", api.watch.assert_no_secrets(db))
    figures.add("failures", len(failures))
    assert not failures, "\n".join(failures)


def test_a_reused_refresh_token_revokes_its_whole_family_and_no_other(
    api: WatchedApi, db: psycopg.Connection, figures: Figures
) -> None:
    user = sign_up(api, "family")
    laptop = api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password}).json()
    chain = [user.refresh_token]
    for _ in range(3):
        rotated = api.post("/api/v1/auth/refresh", json={"refresh_token": chain[-1]})
        assert rotated.status_code == 200, rotated.text
        chain.append(rotated.json()["refresh_token"])

    # A thief replays a token from the middle of the chain.
    assert_error(api.post("/api/v1/auth/refresh", json={"refresh_token": chain[1]}), 401, "REFRESH_TOKEN_REUSED")
    families = db.execute(
        "SELECT family_id, bool_and(revoked), count(*) FROM refresh_tokens WHERE user_id = %s GROUP BY family_id",
        (user.id,),
    ).fetchall()
    assert sorted((revoked, count) for _, revoked, count in families) == [(False, 1), (True, 4)], families
    for token in chain:
        assert_error(api.post("/api/v1/auth/refresh", json={"refresh_token": token}), 401, "REFRESH_TOKEN_REUSED")
    # The other sign-in (another device) lives on.
    assert api.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}).status_code == 200
    figures.add("refresh-reuse checks", len(chain) + 2)
    api.watch.assert_no_secrets(db)


def test_password_guessing_meets_the_login_limit_whatever_the_account(
    api: WatchedApi, redis_client: redis.Redis, figures: Figures
) -> None:
    user = sign_up(api, "guessed")
    reset_rate_limits(redis_client)
    limit = 10  # RATE_LIMIT_LOGIN of the test stack
    # Spread over the real account and made-up ones: the budget belongs to the address, not the account.
    guesses = [
        api.post("/api/v1/auth/login", json={"email": user.email if n % 2 else unique_email(), "password": f"g{n}"})
        for n in range(limit)
    ]
    assert [response.status_code for response in guesses] == [401] * limit
    # Past the limit even the right password is refused: a guesser cannot tell a hit from a miss.
    right = api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert_error(right, 429, "RATE_LIMIT_EXCEEDED")
    assert int(right.headers["Retry-After"]) > 0
    # Guessing refresh tokens meets the same stricter limit.
    refreshes = [api.post("/api/v1/auth/refresh", json={"refresh_token": f"guess-{n}"}) for n in range(limit + 1)]
    assert [response.status_code for response in refreshes] == [401] * limit + [429]
    # Signed-in calls have their own budget: the limit is on guessing, not on using the API.
    assert api.get("/api/v1/auth/me", token=user.access_token).status_code == 200
    figures.add("brute-force attempts", 2 * limit + 2)


def test_a_deactivated_user_can_neither_sign_in_nor_use_a_live_token_anywhere(
    api: WatchedApi, db: psycopg.Connection, accounts: AuthUseCases, figures: Figures
) -> None:
    user = sign_up(api, "leaver")
    task = api.post("/api/v1/tasks", token=user.access_token, json={"title": "Left behind"}).json()
    accounts.deactivate(user.email)

    calls = [
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/tasks"),
        ("GET", f"/api/v1/tasks/{task['id']}"),
        ("PATCH", f"/api/v1/tasks/{task['id']}"),
        ("GET", f"/api/v1/tasks/{task['id']}/attachments"),
        ("GET", "/api/v1/audit-events"),
        ("GET", "/api/v1/reminders"),
        ("GET", "/api/v1/notifications"),
        ("POST", "/api/v1/notifications/read-all"),
    ]
    for method, path in calls:
        assert_error(api.request(method, path, token=user.access_token, json={"title": "x"}), 401, "ACCOUNT_DISABLED")
    assert_error(api.post("/api/v1/auth/login", json={"email": user.email, "password": user.password}), 401)
    assert_error(api.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}), 401)
    assert db.execute("SELECT title FROM tasks WHERE id = %s", (task["id"],)).fetchone() == ("Left behind",)
    figures.add("deactivated-user calls", len(calls) + 2)


def _start_in_production(
    module: str, secret: str | None, workdir: Path, environment: str = "production"
) -> subprocess.Popen[bytes]:
    env = function_environment("postgresql://nobody@127.0.0.1:1/none", "redis://127.0.0.1:1/0", "http://127.0.0.1:1")
    env["APP_ENV"] = environment
    if secret is None:
        env.pop("JWT_SECRET_KEY")
    else:
        env["JWT_SECRET_KEY"] = secret
    log = (workdir / f"{module}-{secret is None}.log").open("wb")
    return subprocess.Popen(
        gunicorn_command(f"{module}:create_app()", free_port()), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )


@pytest.mark.parametrize(
    "secret",
    [None, DEVELOPMENT_JWT_SECRET, "short"],
    ids=["no secret", "the development secret", "a short secret"],
)
def test_no_function_starts_in_production_without_a_strong_jwt_secret(
    secret: str | None, tmp_path: Path, figures: Figures
) -> None:
    modules = [route.module for route in load_routes()]
    if secret != DEVELOPMENT_JWT_SECRET:
        # Every function reads the one Settings.validate; the long run starts each of them every way.
        modules = modules[: scaled(1, len(modules))]
    started = {module: _start_in_production(module, secret, tmp_path) for module in modules}
    try:
        for module, process in started.items():
            assert process.wait(60) != 0, module
            log = (tmp_path / f"{module}-{secret is None}.log").read_text(errors="replace")
            assert "JWT_SECRET_KEY" in log, f"{module} gave no clear reason:\n{log[-2000:]}"
            figures.add("refused production starts")
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def test_the_development_secret_is_refused_in_test_environments_too(tmp_path: Path, figures: Figures) -> None:
    process = _start_in_production("functions.auth.app", DEVELOPMENT_JWT_SECRET, tmp_path, environment="test")
    try:
        assert process.wait(60) != 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "JWT_SECRET_KEY" in (tmp_path / "functions.auth.app-False.log").read_text(errors="replace")
    figures.add("refused production starts")


def test_a_token_signed_with_the_development_secret_is_refused(api: Api) -> None:
    user = sign_up(api, "default-key")
    token = mint_token(user.id, key=DEVELOPMENT_JWT_SECRET)
    assert_error(api.get("/api/v1/auth/me", token=token), 401, "INVALID_TOKEN")
