"""flask-smorest, adjusted once for the whole project: 400 for invalid input, the spec's error schema, and JSON
bodies held to the limits of platform/request_bodies.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

import marshmallow as ma
from flask import Request, Response, current_app
from flask_smorest import Api, Blueprint
from flask_smorest.utils import unpack_tuple_response
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from tasktracker.domain.errors import PayloadTooLargeError

from .errors import handle_http_exception
from .rate_limits import exempt_from_api_limit
from .request_bodies import MAX_JSON_BODY_BYTES, MAX_JSON_DEPTH, nested_deeper_than
from .security import BEARER_SECURITY, login_required


def _unstorable_text(value: Any) -> bool:
    """NUL characters and lone surrogates (valid JSON escapes, but not UTF-8) cannot be stored or compared
    in PostgreSQL text; found anywhere in an argument, they make it invalid rather than a server error."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, Mapping):
        return any(_unstorable_text(key) or _unstorable_text(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_unstorable_text(item) for item in value)
    return False


def body_too_large() -> PayloadTooLargeError:
    return PayloadTooLargeError("The request body is larger than allowed", details={"max_bytes": MAX_JSON_BODY_BYTES})


def _fresh(value: Any) -> Any:
    """A copy of the containers of parsed arguments (their values are immutable: str, int, enum, datetime)."""
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return value


class _Parser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400
    # Distinct query strings whose parsed arguments are kept, per parser (a few kilobytes each at most).
    KEPT_QUERIES = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parsed_queries: dict[tuple[Any, ...], Any] = {}
        self._parsed_queries_lock = threading.Lock()

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        """As webargs', except that a query string already parsed by the same schema is not parsed again.

        Parsing a query is a function of its text alone (no query schema reads the time, the user or the
        request's other parts): the list's few query strings were marshmallow's whole load again on every
        request, about 40 us of a page's. What is kept is the arguments of a query that passed; one that is
        refused is parsed, and refused, every time. Each request gets its own copy."""
        if location != "query" or not isinstance(argmap, ma.Schema) or kwargs.get("validate") is not None:
            return super().parse(argmap, req, location=location, **kwargs)
        request = req if req is not None else self.get_default_request()
        key = (argmap, kwargs.get("unknown"), request.query_string)
        parsed = self._parsed_queries.get(key)
        if parsed is None:
            parsed = super().parse(argmap, request, location=location, **kwargs)
            with self._parsed_queries_lock:
                if len(self._parsed_queries) >= self.KEPT_QUERIES:
                    # The oldest kept first: dicts keep insertion order.
                    del self._parsed_queries[next(iter(self._parsed_queries))]
                self._parsed_queries[key] = parsed
        return _fresh(parsed)

    def _raw_load_json(self, req: Request) -> Any:
        """The body as JSON, held to the limits of platform/request_bodies.py: read only up to the largest
        valid body (413 past it), and refused (400) when it nests deeper than any valid one."""
        if not is_json_request(req):
            return core.missing
        # The same cap whatever the function's own limit (far larger where it takes uploads); it takes effect
        # because nothing has opened the body yet. One byte over it, so that a body sent in chunks, without a
        # Content-Length, is seen to pass it: werkzeug stops reading such a stream at the limit without a word.
        req.max_content_length = MAX_JSON_BODY_BYTES + 1
        try:
            raw = req.get_data(cache=True)
        except RequestEntityTooLarge:
            raise body_too_large() from None
        if len(raw) > MAX_JSON_BODY_BYTES:
            raise body_too_large()
        try:
            value = core.parse_json(raw)
            if not nested_deeper_than(value, MAX_JSON_DEPTH):
                return value
        except RecursionError:
            # Thousands of levels: the decoder itself gave up.
            pass
        abort(400, messages={"json": [f"Arrays and objects may nest at most {MAX_JSON_DEPTH} levels deep."]})

    def pre_load(self, location_data: Mapping[str, Any], *, schema: ma.Schema, req: Any, location: str) -> Any:
        if isinstance(location_data, Mapping):
            invalid = {
                str(name): ["Must not contain NUL characters or unpaired surrogates."]
                for name in location_data
                if _unstorable_text(name) or _unstorable_text(location_data[name])
            }
            if invalid:
                raise ma.ValidationError(invalid)
        return super().pre_load(location_data, schema=schema, req=req, location=location)


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable machine-readable code"})
    message = ma.fields.String(required=True)
    details = ma.fields.Dict(required=True, metadata={"description": "Field errors and other specifics"})
    correlation_id = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "Quote it when reporting a problem"}
    )


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema, required=True)


def _integer_header(description: str) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": {"type": "integer"}}


RATE_LIMIT_HEADERS = {
    "Retry-After": _integer_header("Seconds to wait before trying again"),
    "X-RateLimit-Limit": _integer_header("Requests allowed in the window"),
    "X-RateLimit-Remaining": _integer_header("Requests left in the window"),
}


# Why a signed-in operation answers 401, by error code; documented on each of them.
SIGNED_IN_401_CODES = (
    "AUTHENTICATION_REQUIRED (no bearer token), INVALID_TOKEN, TOKEN_EXPIRED (refresh it), TOKEN_REVOKED (issued"
    " before the password was changed or the account deactivated: sign in again) or ACCOUNT_DISABLED"
)
SIGNED_IN_401 = f"Not signed in; the code says why: {SIGNED_IN_401_CODES}"


class FunctionBlueprint(Blueprint):  # type: ignore[misc]
    """`rate_limited=False` exempts every route of the blueprint from the API's rate limits (a route may still
    take a limit of its own with `limited_by`); otherwise each operation documents the 429 answer the limits
    give."""

    ARGUMENTS_PARSER = _Parser()
    PAGINATION_ARGUMENTS_PARSER = _Parser()

    def __init__(self, *args: Any, rate_limited: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rate_limited = rate_limited
        if not rate_limited:
            exempt_from_api_limit(self)

    def route(self, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        register = super().route(rule, **options)

        def decorator(view: Callable[..., Any]) -> Any:
            if self.rate_limited:
                view = self.alt_response(
                    429,
                    schema=ErrorSchema,
                    headers=RATE_LIMIT_HEADERS,
                    description="Too many requests: the rate limit of the user, or of the address when signed out",
                )(view)
            return register(view)

        return decorator

    def limited_by(self, limit: Callable[[Callable[..., Any]], Any], description: str) -> Any:
        """A limit of the route's own (e.g. rate_limits.monitoring_limit), with the 429 answer it gives."""

        def decorator(view: Callable[..., Any]) -> Any:
            documented = self.alt_response(429, schema=ErrorSchema, headers=RATE_LIMIT_HEADERS, description=description)
            return limit(documented(view))

        return decorator

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        """As flask-smorest's; an operation that reads a JSON body also documents the 413 of one too large.

        A schema class is made an instance here, once: given the class, webargs would build a new schema (and
        copy its fields) for every request. Loading keeps no state in the schema, so one instance serves all."""
        if isinstance(schema, type):
            schema = schema()
        parse: Callable[[Callable[..., Any]], Any] = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return parse

        def decorator(view: Callable[..., Any]) -> Any:
            return self.error(
                413, f"The body is larger than any valid one (over {MAX_JSON_BODY_BYTES} bytes; details.max_bytes)"
            )(parse(view))

        return decorator

    def response(
        self, status_code: int, schema: Any = None, *, serialize: Callable[[Any], Any] | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Any]:
        """As flask-smorest's. With `serialize`, the answer's body is what that function makes of the view's result,
        and the schema only documents it: on the most read answers (a page of tasks), marshmallow's dump, field by
        field, costs more than the rest of the request's own Python. Each such function is held equal to its
        schema's dump by tests/unit/test_serializers.py, so the documents stay true to the answers."""
        documented: Callable[[Callable[..., Any]], Any] = super().response(status_code, schema, **kwargs)
        if serialize is None:
            return documented

        def decorator(view: Callable[..., Any]) -> Any:
            @wraps(view)
            def serialized(*args: Any, **view_kwargs: Any) -> Any:
                result, status, headers = unpack_tuple_response(view(*args, **view_kwargs))
                if isinstance(result, Response):
                    return result, status, headers
                response = current_app.json.response(serialize(result))
                response.status_code = status or status_code
                return response, None, headers

            return documented(serialized)

        return decorator

    def error(self, status: int, description: str) -> Any:
        """Documents an error answer of this operation, in the spec's error format."""
        return self.alt_response(status, schema=ErrorSchema, description=description)

    def requires_sign_in(self, view: Callable[..., Any]) -> Any:
        """A signed-in, active user only (see login_required), documented once: the bearer scheme and the
        401 answer, unless the view documents a 401 of its own."""
        documented_statuses = getattr(view, "_apidoc", {}).get("response", {}).get("responses", {})
        if 401 not in documented_statuses:
            view = self.error(401, SIGNED_IN_401)(view)
        return login_required(self.doc(security=BEARER_SECURITY)(view))


class FunctionApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, with the OpenAPI document built when it is first asked for (the document, the
    Swagger UI, ops merging the documents) rather than when the app is built: turning every operation's
    schemas into the document is work that no cold start answering an API request needs. The blueprints are
    registered in the app at once; the document is built from them in the same order as flask-smorest would,
    so it is the same document."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any):
        self._spec: Any = None
        self._spec_options: dict[str, Any] | None = None
        self._documented: list[tuple[Blueprint, str, Any]] = []
        self._spec_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> Any:
        if self._spec is None and self._spec_options is not None:
            with self._spec_lock:
                if self._spec is None:
                    self._build_spec()
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        # flask-smorest's own __init__ sets it to None; nothing else sets it.
        self._spec = value

    def _init_spec(self, **options: Any) -> None:
        self._spec_options = options
        # What flask-smorest's _init_spec also does: the `flask openapi` commands work before any document.
        from flask_smorest.spec import openapi_cli

        self._app.cli.add_command(openapi_cli)

    def _build_spec(self) -> None:
        super()._init_spec(**(self._spec_options or {}))
        spec = self._spec
        for blueprint, name, parameters in self._documented:
            blueprint.register_views_in_doc(self, self._app, spec, name=name, parameters=parameters)
            spec.tag({"name": name, "description": blueprint.description})

    def register_blueprint(self, blp: Blueprint, *, parameters: Any = None, **options: Any) -> None:
        """As flask-smorest's, but the blueprint's operations enter the document when it is built."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._documented.append((blp, name, parameters))

    def handle_http_exception(self, error: HTTPException) -> Any:
        response: Response = handle_http_exception(error)
        return response
