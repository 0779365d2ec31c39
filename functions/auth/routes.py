"""HTTP only: parse, call the use case, answer. Rules live in the application layer."""

from __future__ import annotations

from typing import Any

from flask import current_app

from tasktracker.application.auth import AuthUseCases, TokenPair
from tasktracker.domain.entities import User
from tasktracker.platform.rate_limits import login_limit
from tasktracker.platform.security import current_user_id
from tasktracker.platform.smorest import SIGNED_IN_401_CODES, FunctionBlueprint

from .schemas import (
    ChangePasswordSchema,
    LoginSchema,
    RefreshSchema,
    RegisterSchema,
    TokenSchema,
    UserSchema,
    user_json,
)

blp = FunctionBlueprint(
    "auth",
    __name__,
    url_prefix="/api/v1/auth",
    description="Sign up, sign in, refresh tokens, sign out, change password.",
)


def use_cases() -> AuthUseCases:
    auth: AuthUseCases = current_app.extensions["auth_use_cases"]
    return auth


@blp.route("/register", methods=["POST"])
@login_limit
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema, serialize=user_json)
@blp.error(409, description="An account with this email already exists")
def register(body: dict[str, Any]) -> User:
    """Create an account"""
    return use_cases().register(body["email"], body["password"], body.get("full_name"))


@blp.route("/login", methods=["POST"])
@login_limit
@blp.arguments(LoginSchema)
@blp.response(200, TokenSchema)
@blp.error(401, description="Email or password is incorrect")
def login(body: dict[str, Any]) -> TokenPair:
    """Sign in: a 15-minute access token and a rotating refresh token"""
    return use_cases().login(body["email"], body["password"])


@blp.route("/refresh", methods=["POST"])
@login_limit
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
@blp.error(
    401,
    description="The refresh token does not work; the code says why: INVALID_REFRESH_TOKEN, REFRESH_TOKEN_EXPIRED,"
    " REFRESH_TOKEN_REVOKED (its sign-in was signed out, or the password was changed or the account deactivated"
    " since it was issued),"
    " REFRESH_TOKEN_REUSED (it was already traded, and this sign-in has now ended) or ACCOUNT_DISABLED."
    " Each needs a new sign-in",
)
def refresh(body: dict[str, Any]) -> TokenPair:
    """Trade a refresh token for new tokens; the old refresh token stops working

    The same token sent again within a few seconds (two tabs refreshing at once) is answered with the same new
    refresh token and a new access token; sent again later, it ends every session of its sign-in."""
    return use_cases().refresh(body["refresh_token"])


@blp.route("/logout", methods=["POST"])
@login_limit
@blp.arguments(RefreshSchema)
@blp.response(204)
@blp.error(401, description="The refresh token is not one this API issued (INVALID_REFRESH_TOKEN)")
def logout(body: dict[str, Any]) -> None:
    """Sign out: end the sign-in this refresh token belongs to

    Every refresh token of this sign-in stops working at once (a refresh answers 401 REFRESH_TOKEN_REVOKED).
    Access tokens already issued stay valid until they expire (at most 15 minutes); the user's other sign-ins
    are not affected. Idempotent: a token of this sign-in that was already signed out, rotated, revoked or that
    has expired is answered 204 too. No bearer token is needed: the refresh token is the proof, as for a
    refresh."""
    # Only possession of the refresh token is required, whoever sends it: whoever holds it could refresh with it
    # (or, once rotated, end its sign-in through reuse detection) anyway. The standard behaviour (RFC 7009).
    use_cases().logout(body["refresh_token"])


@blp.route("/me", methods=["GET"])
@blp.requires_sign_in
@blp.response(200, UserSchema, serialize=user_json)
def me() -> User:
    """The signed-in user"""
    return use_cases().me(current_user_id())


@blp.route("/change-password", methods=["POST"])
@blp.requires_sign_in
@blp.arguments(ChangePasswordSchema)
@blp.response(204)
@blp.error(
    401,
    description="The current password is incorrect (INVALID_CURRENT_PASSWORD), or not signed in: "
    + SIGNED_IN_401_CODES,
)
def change_password(body: dict[str, Any]) -> None:
    """Change the password and end every session of the user, this one included

    Every access and refresh token issued before stops at once (401 TOKEN_REVOKED, REFRESH_TOKEN_REVOKED):
    sign in again with the new password."""
    use_cases().change_password(current_user_id(), body["current_password"], body["new_password"])
