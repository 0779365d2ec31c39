"""flask-smorest, adjusted once for the whole project: 400 for invalid input and the spec's error schema."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import Api, Blueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from .errors import handle_http_exception


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


class FunctionApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        response: Response = handle_http_exception(error)
        return response
