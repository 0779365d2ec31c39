"""HTTP only: parse, call the use case, answer. Rules live in the application layer."""

from __future__ import annotations

from typing import Any

from flask import current_app

from tasktracker.application.auth import AuthUseCases, TokenPair
from tasktracker.domain.entities import User
from tasktracker.platform.rate_limits import login_limit
from tasktracker.platform.security import current_user_id
from tasktracker.platform.smorest import FunctionBlueprint

from .schemas import ChangePasswordSchema, LoginSchema, RefreshSchema, RegisterSchema, TokenSchema, UserSchema

blp = FunctionBlueprint(
    "auth", __name__, url_prefix="/api/v1/auth", description="Sign up, sign in, refresh tokens, change password."
)


def use_cases() -> AuthUseCases:
    auth: AuthUseCases = current_app.extensions["auth_use_cases"]
    return auth


@blp.route("/register", methods=["POST"])
@login_limit
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
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
@blp.error(401, description="The refresh token is invalid, expired or was already used")
def refresh(body: dict[str, Any]) -> TokenPair:
    """Trade a refresh token for new tokens; the old refresh token stops working"""
    return use_cases().refresh(body["refresh_token"])


@blp.route("/me", methods=["GET"])
@blp.requires_sign_in
@blp.response(200, UserSchema)
def me() -> User:
    """The signed-in user"""
    return use_cases().me(current_user_id())


@blp.route("/change-password", methods=["POST"])
@blp.requires_sign_in
@blp.arguments(ChangePasswordSchema)
@blp.response(204)
@blp.error(401, description="Missing token, or the current password is incorrect")
def change_password(body: dict[str, Any]) -> None:
    """Change the password; every refresh token of the user is revoked"""
    use_cases().change_password(current_user_id(), body["current_password"], body["new_password"])
