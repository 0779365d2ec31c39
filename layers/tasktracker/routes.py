"""The route table (routes.toml, shipped with this package): which function serves which paths, at which port.

Standard library only, so any function can read it without slowing its cold start. The table is read as
package data, so it is found the same way from a source tree, an installed wheel or a Lambda layer.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources

ROUTES_RESOURCE = "routes.toml"


@dataclass(frozen=True)
class FunctionRoute:
    name: str
    module: str
    port: int
    patterns: tuple[str, ...]
    # How much of an unbuffered response nginx takes from the function per read (proxy_buffer_size); the
    # default of one page makes a large download a series of 4 KiB reads and writes.
    response_chunk: str | None = None

    def matches(self, path: str) -> bool:
        return any(re.search(pattern, path) for pattern in self.patterns)


def load_routes() -> list[FunctionRoute]:
    """The functions in the table's order, which is the order their patterns are tried in."""
    table = tomllib.loads((resources.files("tasktracker") / ROUTES_RESOURCE).read_text(encoding="utf-8"))
    return [
        FunctionRoute(
            entry["name"], entry["module"], int(entry["port"]), tuple(entry["patterns"]), entry.get("response_chunk")
        )
        for entry in table["function"]
    ]


def route_for(path: str, routes: list[FunctionRoute]) -> FunctionRoute | None:
    """The function a path goes to: the first whose patterns match it."""
    return next((route for route in routes if route.matches(path)), None)
