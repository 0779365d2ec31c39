"""Rate limits in Redis: per user when signed in, per client address otherwise.

Two kinds, with one engine (limits' moving window). The API's limit, one window per user (or address) across every
endpoint of every function, is checked by this module's own hook (`ApiRateLimit`); the limits a route takes of its
own (sign-in, monitoring) are flask-limiter's decorators. flask-limiter checks an application-wide limit too, but
resolves it afresh on every request (the limit string parsed into new limit objects, the route's and blueprint's
exemptions worked out through flag arithmetic three times, its request context looked up again and again): that
bookkeeping was about a fifth of the cost of a signed-in read, for an answer that is the same for every request to
an endpoint. The hook keeps that answer per endpoint and parses the limit once; the window, its key in the storage
and the headers are flask-limiter's, as tests/integration/test_request_round_trips.py holds.

The storage is whatever URI bootstrap gives (`bootstrap.rate_limit_storage_uri`): in Redis, the adapter's storage that
makes the hit, the window's stats for the headers and the active-user check's read one round trip
(adapters/redis/rate_limit_storage.py)."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter import Limiter
from jwt import PyJWTError
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from .security import ACTIVE_USERS_EXTENSION

log = logging.getLogger("tasktracker.rate_limits")


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


# The storage keys' prefix, flask-limiter's and the API limit's alike.
KEY_PREFIX = "tasktracker"


def rate_limit_key() -> str:
    subject = _token_subject()
    return f"user:{subject}:rate" if subject else f"ip:{client_address()}:rate"


def login_rate_limit_key() -> str:
    return f"ip:{client_address()}:login"


def monitoring_rate_limit_key() -> str:
    return f"ip:{client_address()}:monitoring"


def _login_limit() -> str:
    limit: str = current_app.config["RATE_LIMIT_LOGIN"]
    return limit


def _monitoring_limit() -> str:
    limit: str = current_app.config["RATE_LIMIT_MONITORING"]
    return limit


class _RouteLimiter(Limiter):
    """flask-limiter for the limits routes take of their own, which its decorators check as the view is called.

    It is given no application or default limits, so its hook before every request would find nothing to check,
    at the cost of resolving that anew each time: that hook does nothing here (the decorators' own check is
    `in_middleware=False`). The API's limit is ApiRateLimit's."""

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if not in_middleware:
            super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


# One limiter per process, shared by the functions that run in it; its limits read each app's config.
limiter = _RouteLimiter(
    key_func=rate_limit_key,
    headers_enabled=True,
    strategy="moving-window",
    # If Redis is down, limits fall back to per-process memory rather than failing every request.
    swallow_errors=True,
    in_memory_fallback_enabled=True,
    key_prefix=KEY_PREFIX,
)

# For the sign-in and sign-up endpoints: stricter, and always by address so one attacker cannot spread
# guesses across accounts.
login_limit = limiter.limit(_login_limit, key_func=login_rate_limit_key)

# For the monitoring endpoints that ask every function (ops's readiness, merged metrics and merged document):
# one window per address shared by them, apart from the API's, so that monitoring never spends a user's
# budget and a flood of them cannot make every function answer over and over.
monitoring_limit = limiter.shared_limit(_monitoring_limit, scope="monitoring", key_func=monitoring_rate_limit_key)

_EXEMPT_VIEWS: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()
_EXEMPT_BLUEPRINTS: weakref.WeakSet[Blueprint] = weakref.WeakSet()


def exempt_from_api_limit(target: Callable[..., Any] | Blueprint) -> Any:
    """A view, or every view of a blueprint, that the API's limit never counts (health, metrics, documents); a
    view may still take a limit of its own. Usable as a decorator."""
    if isinstance(target, Blueprint):
        _EXEMPT_BLUEPRINTS.add(target)
    else:
        _EXEMPT_VIEWS.add(target)
    return target


class ApiRateLimit:
    """The API's limit for one app: one moving window per user (or address), shared with every other function
    through the storage, with the spec's X-RateLimit headers on every answer it counts and Retry-After on its 429.

    The same window as flask-limiter's application limits: the same storage key (prefix, key, scope "global"),
    the same strategy, the same headers. If the storage fails, the window is kept in this process's memory until
    the storage answers again, tried after 1 s, then 2, 4, ... up to 32 s (flask-limiter's fallback)."""

    SCOPE = "global"
    LONGEST_RETRY_SECONDS = 32.0

    def __init__(self, app: Flask, limit: str, storage_uri: str, storage_options: dict[str, Any]) -> None:
        self.app = app
        self.limit: RateLimitItem = parse(limit)
        self._storage_uri = storage_uri
        self._storage_options = storage_options
        self._moving_window: MovingWindowRateLimiter | None = None
        self._in_memory = MovingWindowRateLimiter(MemoryStorage())
        self._storage_retry_at = 0.0
        self._storage_retry_seconds = 0.0
        self._exempt: dict[str, bool] = {}

    def _storage_window(self) -> MovingWindowRateLimiter:
        if self._moving_window is None:
            storage = storage_from_string(self._storage_uri, **self._storage_options)
            if not isinstance(storage, Storage):
                raise TypeError(
                    f"{self._storage_uri.partition(':')[0]} is an asynchronous storage; a synchronous one is needed"
                )
            self._moving_window = MovingWindowRateLimiter(storage)
        return self._moving_window

    def _is_exempt(self, endpoint: str | None) -> bool:
        if endpoint is None:
            # No route matched (404, 405): nothing of the API was asked for, as flask-limiter counts it.
            return True
        exempt = self._exempt.get(endpoint)
        if exempt is None:
            blueprint_name = endpoint.rpartition(".")[0]
            exempt = self._exempt[endpoint] = (
                endpoint.rpartition(".")[2] == "static"
                or self.app.view_functions.get(endpoint) in _EXEMPT_VIEWS
                or self.app.blueprints.get(blueprint_name) in _EXEMPT_BLUEPRINTS
            )
        return exempt

    def check(self) -> None:
        """Before the request: count it, and refuse it with 429 when the window is full."""
        if self._is_exempt(request.endpoint):
            return
        identifiers = (KEY_PREFIX, rate_limit_key(), self.SCOPE)
        window = self._window_in_use()
        try:
            allowed = window.hit(self.limit, *identifiers)
        except Exception as error:  # noqa: BLE001 - any storage failure: the window moves into memory
            self._storage_failed(error)
            window = self._in_memory
            allowed = window.hit(self.limit, *identifiers)
        else:
            if window is not self._in_memory and self._storage_retry_seconds:
                log.info("rate limit storage recovered")
                self._storage_retry_seconds = 0.0
        reset_time, remaining = window.get_window_stats(self.limit, *identifiers)
        g.api_rate_limit = (int(reset_time + 1), remaining)
        if not allowed:
            log.info("rate limit %s exceeded for %s", self.limit, identifiers[1])
            raise TooManyRequests()

    def _window_in_use(self) -> MovingWindowRateLimiter:
        if self._storage_retry_seconds and time.monotonic() < self._storage_retry_at:
            return self._in_memory
        return self._storage_window()

    def _storage_failed(self, error: Exception) -> None:
        if not self._storage_retry_seconds:
            log.warning("rate limit storage unreachable, counting in memory: %r", error)
        self._storage_retry_seconds = min(max(self._storage_retry_seconds * 2, 1.0), self.LONGEST_RETRY_SECONDS)
        self._storage_retry_at = time.monotonic() + self._storage_retry_seconds

    def add_headers(self, response: Response) -> Response:
        """After the request: the window's headers, unless a limit of the route's own gave its own (flask-limiter
        names the route's limit, the more telling one, when neither is exceeded)."""
        counted: tuple[int, int] | None = g.get("api_rate_limit")
        if counted is None or "X-RateLimit-Limit" in response.headers:
            return response
        reset_at, remaining = counted
        response.headers["X-RateLimit-Limit"] = str(self.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(reset_at)
        if response.status_code == 429:
            response.headers["Retry-After"] = str(int(reset_at - time.time()))
        return response


def configure_rate_limits(
    app: Flask, *, storage_uri: str, default_limit: str, login_limit: str, monitoring_limit: str, enabled: bool
) -> None:
    storage_options = {"socket_connect_timeout": 1, "socket_timeout": 1}
    app.config.update(
        RATE_LIMIT_LOGIN=login_limit,
        RATE_LIMIT_MONITORING=monitoring_limit,
        RATELIMIT_ENABLED=enabled,
        RATELIMIT_STORAGE_URI=storage_uri if enabled else "memory://",
        RATELIMIT_STORAGE_OPTIONS=storage_options,
    )
    if enabled:
        api_limit = ApiRateLimit(app, default_limit, storage_uri, storage_options)
        app.before_request(api_limit.check)
        app.after_request(api_limit.add_headers)

    @app.after_request
    def retry_after_only_when_limited(response: Response) -> Response:
        # Flask-Limiter sends Retry-After on every answer; it only means something on a 429.
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    # Registered after the hooks above, so it runs before them: after_request hooks run in reverse order.
    limiter.init_app(app)
