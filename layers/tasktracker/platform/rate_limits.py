"""Rate limits in Redis with flask-limiter: per user when signed in, per client address otherwise.

The storage is whatever URI bootstrap gives (`bootstrap.rate_limit_storage_uri`): in Redis, the adapter's storage that
makes the hit, the window's stats for the headers and the active-user check's read one round trip
(adapters/redis/rate_limit_storage.py)."""

from __future__ import annotations

from uuid import UUID

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter import Limiter
from jwt import PyJWTError

from .security import ACTIVE_USERS_EXTENSION


def client_address() -> str:
    # ProxyFix has already replaced remote_addr with what the router saw (exactly one trusted hop).
    return request.remote_addr or "unknown"


def _token_subject() -> str | None:
    if "rate_limit_subject" not in g:
        subject = None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token:
            try:
                # Signature and expiry are checked; a forged token counts against the address, not a user.
                subject = str(decode_token(token.strip())["sub"])
            except (PyJWTError, JWTExtendedException, KeyError):
                subject = None
        g.rate_limit_subject = subject
        _expect_user(subject)
    cached: str | None = g.rate_limit_subject
    return cached


def _expect_user(subject: str | None) -> None:
    """The active-user check of this request may then come with the limit's hit, in one Redis round trip."""
    active_users = current_app.extensions.get(ACTIVE_USERS_EXTENSION)
    if active_users is None or subject is None:
        return
    try:
        user_id = UUID(subject)
    except ValueError:
        return
    active_users.expect(user_id)


def rate_limit_key() -> str:
    subject = _token_subject()
    return f"user:{subject}:rate" if subject else f"ip:{client_address()}:rate"


def login_rate_limit_key() -> str:
    return f"ip:{client_address()}:login"


def monitoring_rate_limit_key() -> str:
    return f"ip:{client_address()}:monitoring"


def _default_limit() -> str:
    limit: str = current_app.config["RATE_LIMIT_DEFAULT"]
    return limit


def _login_limit() -> str:
    limit: str = current_app.config["RATE_LIMIT_LOGIN"]
    return limit


def _monitoring_limit() -> str:
    limit: str = current_app.config["RATE_LIMIT_MONITORING"]
    return limit


# One limiter per process, shared by the functions that run in it; its limits read each app's config.
limiter = Limiter(
    key_func=rate_limit_key,
    # One window per user (or address) across every endpoint and every function, as the spec's "100 requests
    # a minute per user" means: default limits would give each endpoint a window of its own.
    application_limits=[_default_limit],
    headers_enabled=True,
    strategy="moving-window",
    # If Redis is down, limits fall back to per-process memory rather than failing every request.
    swallow_errors=True,
    in_memory_fallback_enabled=True,
    key_prefix="tasktracker",
)

# For the sign-in and sign-up endpoints: stricter, and always by address so one attacker cannot spread
# guesses across accounts.
login_limit = limiter.limit(_login_limit, key_func=login_rate_limit_key)

# For the monitoring endpoints that ask every function (ops's readiness, merged metrics and merged document):
# one window per address shared by them, apart from the API's, so that monitoring never spends a user's
# budget and a flood of them cannot make every function answer over and over.
monitoring_limit = limiter.shared_limit(_monitoring_limit, scope="monitoring", key_func=monitoring_rate_limit_key)


def configure_rate_limits(
    app: Flask, *, storage_uri: str, default_limit: str, login_limit: str, monitoring_limit: str, enabled: bool
) -> None:
    app.config.update(
        RATE_LIMIT_DEFAULT=default_limit,
        RATE_LIMIT_LOGIN=login_limit,
        RATE_LIMIT_MONITORING=monitoring_limit,
        RATELIMIT_ENABLED=enabled,
        RATELIMIT_STORAGE_URI=storage_uri if enabled else "memory://",
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1},
    )

    @app.after_request
    def retry_after_only_when_limited(response: Response) -> Response:
        # Flask-Limiter sends Retry-After on every answer; it only means something on a 429.
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    # Registered after the hook above, so it runs before it: after_request hooks run in reverse order.
    limiter.init_app(app)
