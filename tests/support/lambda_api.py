"""The API as API Gateway serves it on AWS: each request becomes an HTTP API (payload 2.0) event sent to the
function whose route the gateway picks from the SAM template, in that function's emulated Lambda environment.

`LambdaApi` speaks like `tests.support.api.Api` (same methods, `requests.Response` answers), so the API suite's
flows replay unchanged through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from local.lambda_runtime import Emulator, http_event, load_template, response_body
from tests.support.api import Api

GATEWAY_URL = "https://api.example.com"


@dataclass(frozen=True)
class GatewayRoute:
    """One HttpApi event of the template: `method path` sent to the function of functions/<function>."""

    function: str
    method: str
    path: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_greedy(self) -> bool:
        return self.path.endswith("+}")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when the route takes the request, else None."""
        if self.method not in ("ANY", method.upper()):
            return None
        pattern = re.sub(r"\\\{([^/{}]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{([^/{}]+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None

    def specificity(self) -> tuple[bool, int, int, bool]:
        """API Gateway prefers a route without a greedy variable, then the one with the most literal segments,
        the longest, and a route of the request's method over ANY."""
        literal = sum(1 for part in self.path.split("/") if part and not part.startswith("{"))
        return (not self.is_greedy, literal, len(self.path.split("/")), self.method != "ANY")


def gateway_routes(template: Mapping[str, Any] | None = None) -> list[GatewayRoute]:
    template = template or load_template()
    routes = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        function = resource["Properties"]["Handler"].split(".")[1]
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.append(
                    GatewayRoute(function, event["Properties"]["Method"].upper(), event["Properties"]["Path"])
                )
    return routes


def select_route(method: str, path: str, routes: list[GatewayRoute]) -> tuple[GatewayRoute, dict[str, str]] | None:
    """The route API Gateway picks for a request: the most specific one that matches."""
    matching = [(route, parameters) for route in routes if (parameters := route.match(method, path)) is not None]
    return max(matching, key=lambda pair: pair[0].specificity()) if matching else None


def _response(status: int, headers: Mapping[str, str], body: bytes, request: requests.PreparedRequest) -> Any:
    response = requests.Response()
    response.status_code = status
    response.headers = CaseInsensitiveDict(headers)
    response._content = body
    response._content_consumed = True  # type: ignore[attr-defined]
    response.url = request.url or ""
    response.request = request
    response.encoding = None
    return response


class GatewayAdapter(BaseAdapter):
    """A requests transport that is API Gateway: the request becomes an event for the function its route
    names, invoked in that function's emulator, and the function's answer becomes the response."""

    def __init__(self, emulators: Mapping[str, Emulator], routes: list[GatewayRoute] | None = None):
        super().__init__()
        self.emulators = emulators
        self.routes = routes or gateway_routes()
        self.served: list[str] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        method = request.method or "GET"
        chosen = select_route(method, url.path, self.routes)
        if chosen is None:
            # What API Gateway itself answers for a path no route takes.
            return _response(404, {"content-type": "application/json"}, b'{"message":"Not Found"}', request)
        route, parameters = chosen
        body = request.body.encode() if isinstance(request.body, str) else request.body
        headers = {key: value for key, value in request.headers.items() if key.lower() != "content-length"}
        if body is not None:
            headers["content-length"] = str(len(body))
        event = http_event(
            method,
            url.path,
            query=url.query,
            headers=headers,
            body=body,
            route_key=route.route_key,
            path_parameters=parameters,
        )
        result = self.emulators[route.function].invoke(event).result
        self.served.append(route.function)
        if "statusCode" not in result:
            raise AssertionError(f"{route.function} answered no HTTP response: {str(result)[:1000]}")
        answer_headers = dict(result.get("headers") or {})
        if result.get("cookies"):
            answer_headers["set-cookie"] = ", ".join(result["cookies"])
        response: requests.Response = _response(
            int(result["statusCode"]), answer_headers, response_body(result), request
        )
        return response

    def close(self) -> None:
        pass


class LambdaApi(Api):
    """The API suite's client with API Gateway and the emulated functions behind its base URL."""

    def __init__(self, emulators: Mapping[str, Emulator], routes: list[GatewayRoute] | None = None):
        super().__init__(GATEWAY_URL)
        self.gateway = GatewayAdapter(emulators, routes)
        self.session.mount(GATEWAY_URL, self.gateway)
