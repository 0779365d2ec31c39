"""flask-smorest, adjusted once for the whole project: 400 for invalid input and the spec's error schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from .errors import handle_http_exception
from .security import BEARER_SECURITY, login_required


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable machine-readable code"})
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(required=True, metadata={"description": "Field errors and other specifics"})
    correlation_id = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "Quote it when reporting a problem"}
    )


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


class FunctionBlueprint(Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = _Parser()
    PAGINATION_ARGUMENTS_PARSER = _Parser()

    def error(self, status: int, description: str) -> Any:
        """Documents an error answer of this operation, in the spec's error format."""
        return self.alt_response(status, schema=ErrorSchema, description=description)

    def requires_sign_in(self, view: Callable[..., Any]) -> Any:
        """A signed-in, active user only (see login_required), documented once: the bearer scheme and the
        401 answer, unless the view documents a 401 of its own."""
        documented_statuses = getattr(view, "_apidoc", {}).get("response", {}).get("responses", {})
        if 401 not in documented_statuses:
            view = self.error(401, "Missing, invalid or expired access token, or a deactivated account")(view)
        return login_required(self.doc(security=BEARER_SECURITY)(view))


class FunctionApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        response: Response = handle_http_exception(error)
        return response
