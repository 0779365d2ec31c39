"""Every JSON answer encoded by orjson: a page of tasks in a tenth of the standard encoder's time.

The answers are the same JSON as Flask's own provider gives, with two differences a client cannot tell apart:
keys stay in the order the answer was built in (the spec's order: the error format's code, message, details,
correlation id), and characters beyond ASCII are written as UTF-8 rather than as escapes. What orjson would say
otherwise than Flask is handed to Flask's own conversions (dates as HTTP dates, dataclasses, decimals), and what
orjson cannot encode at all (a lone surrogate echoed from a request, an integer beyond 64 bits) is encoded by the
standard encoder, so nothing that Flask answered turns into a 500. Request bodies are still parsed by the standard
decoder: what is accepted is unchanged.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Response as FlaskResponse
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response

# Dates and dataclasses go through Flask's `default`, so they read as they did; UUIDs are str() either way.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False

    def _encoded(self, obj: Any, *, indent: bool) -> bytes | None:
        try:
            return orjson.dumps(
                obj, default=self.default, option=(_OPTIONS | orjson.OPT_INDENT_2) if indent else _OPTIONS
            )
        except orjson.JSONEncodeError:
            return None

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # Only the arguments Flask itself passes are orjson's to honour; anything else is the standard encoder's.
        if set(kwargs) <= {"separators", "indent"} and kwargs.get("indent") in (None, 2):
            encoded = self._encoded(obj, indent=kwargs.get("indent") == 2)
            if encoded is not None:
                return encoded.decode()
        return super().dumps(obj, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        encoded = self._encoded(obj, indent=indent)
        if encoded is None:
            return super().response(obj)
        response_class = cast(type[FlaskResponse], self._app.response_class)
        return response_class(encoded + b"\n", mimetype=self.mimetype)
