"""Every function's OpenAPI document merged into one, for the SPA's typed client and for reading.

Paths and tags are united. Components of the same name and the same content are shared; when two
functions define one name differently, the later function's copy is renamed with its function's name as a
prefix and the $refs in that function's part are rewritten. Security schemes are shared as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

OPENAPI_VERSION = "3.0.3"
SHARED_SECTIONS = frozenset({"securitySchemes"})
_COMPONENT_REF = re.compile(r"^#/components/(?P<section>[^/]+)/(?P<name>[^/]+)$")

Renames = dict[str, dict[str, str]]


def merge_documents(documents: Mapping[str, dict[str, Any]], *, title: str, description: str) -> dict[str, Any]:
    """`documents` maps a function's name to its document, in the order the merged document lists them."""
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {}
    for function, document in documents.items():
        renames = _renames_for(function, document.get("components", {}), components)
        rewritten = _rewrite_refs(document, renames)
        for section, entries in rewritten.get("components", {}).items():
            target = components.setdefault(section, {})
            for name, content in entries.items():
                target.setdefault(renames.get(section, {}).get(name, name), content)
        for path, operations in rewritten.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        for tag in rewritten.get("tags", []):
            tags.setdefault(tag["name"], tag)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": "1.0.0", "description": description},
        "servers": [{"url": "/"}],
        "tags": list(tags.values()),
        "paths": paths,
        "components": components,
    }


def _renames_for(function: str, own: dict[str, dict[str, Any]], merged: dict[str, dict[str, Any]]) -> Renames:
    """Which of this function's components must take a prefixed name.

    Content is compared after this function's renames are applied to it, since a schema that refers to a
    renamed schema differs from its namesake; renaming until nothing clashes reaches a fixed point.
    """
    renames: Renames = {}
    prefix = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", function))
    while True:
        rewritten = _rewrite_refs(own, renames)
        clashes = [
            (section, name)
            for section, entries in rewritten.items()
            if section not in SHARED_SECTIONS
            for name, content in entries.items()
            if name not in renames.get(section, {}) and merged.get(section, {}).get(name, content) != content
        ]
        if not clashes:
            return renames
        for section, name in clashes:
            renames.setdefault(section, {})[name] = f"{prefix}{name}"


def _rewrite_refs(node: Any, renames: Renames) -> Any:
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_refs(value, renames) for key, value in node.items()}
    reference = node.get("$ref")
    if isinstance(reference, str):
        match = _COMPONENT_REF.match(reference)
        if match and match["name"] in renames.get(match["section"], {}):
            rewritten["$ref"] = f"#/components/{match['section']}/{renames[match['section']][match['name']]}"
    return rewritten
