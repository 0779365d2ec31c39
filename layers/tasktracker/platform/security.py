"""JWT access tokens with flask-jwt-extended; every error is answered in the spec's format."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, Protocol, TypeVar
from uuid import UUID

from flask import Flask, Response, g
from flask_jwt_extended import JWTManager, create_access_token, get_jwt_identity, verify_jwt_in_request

from tasktracker.application import context
from tasktracker.domain.entities import User

from .errors import error_response

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]

# The user's session epoch when the token was issued; a password change or a deactivation moves the user on.
SESSION_EPOCH_CLAIM = "session_epoch"


class ActiveUserCheck(Protocol):
    """Checks a token's user and session epoch on every authenticated request; raises AuthenticationError to
    refuse. tasktracker.application.identity.ActiveUsers is the one implementation."""

    def __call__(self, user_id: UUID, session_epoch: int | None, /) -> None: ...

    def expect(self, user_id: UUID | None, /) -> None:
        """Names the request's user as soon as it is known, so the check's state can come with the rate limit's
        round trip; None at the start of every request."""
        ...


ACTIVE_USERS_EXTENSION = "tasktracker_active_users"


class FlaskJwtAccessTokenIssuer:
    def __init__(self, ttl_seconds: int):
        self.ttl_seconds = ttl_seconds

    def issue(self, user: User) -> str:
        token: str = create_access_token(
            identity=str(user.id),
            expires_delta=timedelta(seconds=self.ttl_seconds),
            additional_claims={SESSION_EPOCH_CLAIM: user.session_epoch},
        )
        return token


class _VerifiedTokensJWTManager(JWTManager):
    """Verifies a token once, not on every request that carries it.

    flask-jwt-extended parses a token three times each time it is asked (unverified claims, unverified header,
    then verified), and a signed-in request asks twice (the rate limit's key, the sign-in check). A token is fixed
    bytes: once its signature and claims have passed with this app's key, only the clock can change the answer.
    So verified claims are kept, per app, and used while the token's expiry is ahead; past it the token is
    decoded again and refused as before. Whether the user may still use it is not the token's to say: the session
    check (ActiveUsers) runs on every request regardless.
    """

    KEPT_TOKENS = 4096

    def __init__(self, app: Flask | None = None) -> None:
        self._verified: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._verified_lock = threading.Lock()
        super().__init__(app)

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        key = (encoded_token, csrf_value)
        kept = self._verified.get(key)
        if kept is not None and kept["exp"] > time.time():
            return dict(kept)
        claims: dict[str, Any] = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        if allow_expired or not isinstance(claims.get("exp"), int | float):
            return claims
        with self._verified_lock:
            if len(self._verified) >= self.KEPT_TOKENS:
                # The oldest kept first: dicts keep insertion order.
                del self._verified[next(iter(self._verified))]
            self._verified[key] = dict(claims)
        return claims


def _unauthorized(code: str, message: str) -> Response:
    return error_response(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="tasktracker"'})


def configure_jwt(app: Flask, secret_key: str, ttl_seconds: int, active_users: ActiveUserCheck) -> None:
    app.config.update(
        JWT_SECRET_KEY=secret_key,
        JWT_ALGORITHM="HS256",
        # Only HS256 is accepted on the way in: no "none", no algorithm confusion.
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=ttl_seconds),
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt = _VerifiedTokensJWTManager(app)
    app.extensions[ACTIVE_USERS_EXTENSION] = active_users

    @app.before_request
    def forget_the_last_requests_user() -> None:
        # Registered before the rate limiter's hook, which names this request's user (rate_limits._token_subject).
        active_users.expect(None)

    @jwt.unauthorized_loader
    def missing_token(reason: str) -> Response:
        return _unauthorized("AUTHENTICATION_REQUIRED", "A bearer access token is required")

    @jwt.invalid_token_loader
    def invalid_token(reason: str) -> Response:
        return _unauthorized("INVALID_TOKEN", "The access token is not valid")

    @jwt.expired_token_loader
    def expired_token(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return _unauthorized("TOKEN_EXPIRED", "The access token has expired")

    @jwt.user_lookup_loader
    def load_user(header: dict[str, Any], payload: dict[str, Any]) -> UUID | None:
        """The one check of every signed-in request, after the signature and expiry: the user exists, is active,
        and the token's session epoch is the user's current one. Its AuthenticationError (ACCOUNT_DISABLED,
        TOKEN_REVOKED) is answered by the error handlers with 401 and the Bearer challenge."""
        try:
            user_id = UUID(str(payload["sub"]))
        except (KeyError, ValueError):
            return None
        epoch = payload.get(SESSION_EPOCH_CLAIM)
        # Only a whole number counts (JSON true is not 1); a token without one matches no epoch.
        active_users(user_id, epoch if type(epoch) is int else None)
        return user_id

    @jwt.user_lookup_error_loader
    def unknown_user(header: dict[str, Any], payload: dict[str, Any]) -> Response:
        return _unauthorized("ACCOUNT_DISABLED", "This account no longer exists or is deactivated")


def login_required(view: F) -> F:
    """A valid access token of an existing, active user; its id is then current_user_id()."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verify_jwt_in_request()
        g.current_user_id = UUID(str(get_jwt_identity()))
        context.set_user_id(str(g.current_user_id))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def current_user_id() -> UUID:
    user_id: UUID = g.current_user_id
    return user_id
