from __future__ import annotations

from typing import Any

import marshmallow as ma

from tasktracker.domain import rules
from tasktracker.domain.entities import User

_password = ma.validate.Length(min=1, max=rules.PASSWORD_MAX_LENGTH)


class RegisterSchema(ma.Schema):
    email = ma.fields.String(
        required=True, validate=ma.validate.Length(max=rules.EMAIL_MAX_LENGTH), metadata={"format": "email"}
    )
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=rules.PASSWORD_MIN_LENGTH, max=rules.PASSWORD_MAX_LENGTH),
    )
    full_name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=rules.FULL_NAME_MAX_LENGTH))


class UserSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    email = ma.fields.String(required=True)
    full_name = ma.fields.String(required=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)


def user_json(user: User) -> dict[str, Any]:
    """What UserSchema dumps, built directly (FunctionBlueprint.response's `serialize`): /auth/me answers every
    signed-in client's start; tests/unit/test_serializers.py holds the two equal."""
    return {
        "id": str(user.id),
        "email": user.email,
        "full_name": user.full_name,
        "created_at": user.created_at.isoformat(),
    }


class LoginSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(max=rules.EMAIL_MAX_LENGTH))
    password = ma.fields.String(required=True, load_only=True, validate=_password)


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"example": "bearer"})
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Seconds until the access token expires"})


class RefreshSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=512))


class ChangePasswordSchema(ma.Schema):
    current_password = ma.fields.String(required=True, load_only=True, validate=_password)
    new_password = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=rules.PASSWORD_MIN_LENGTH, max=rules.PASSWORD_MAX_LENGTH),
    )
