"""ETag and If-Match (RFC 9110, sections 8.8.3 and 13.1.1) at the edge: the header parsed once into the
application's `IfMatch`, and the headers documented as every function documents its answers.

The rule itself (a stale version is refused) is the application's, checked inside the use case's transaction.
flask-smorest's own ETag support is not used: it answers 428 when a PUT, PATCH or DELETE comes without
If-Match, and it compares in the view, outside the transaction that writes, so a change could slip between
the check and the write.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma

from tasktracker.application.preconditions import ANY_VERSION, IfMatch

# One element of the list (RFC 9110, section 5.6.1): an entity-tag, or nothing (empty elements are allowed and
# ignored), between optional whitespace, then a comma or the end.
_LIST_ELEMENT = re.compile(r'[ \t]*(?:(?P<weak>W/)?"(?P<opaque>[\x21\x23-\x7e\x80-\xff]*)")?[ \t]*(?P<separator>,|\Z)')
_IF_MATCH_FORM = '`*`, or one or more entity tags separated by commas, each in double quotes: "3", W/"3"'
# The same grammar for the OpenAPI document (ASCII only; the parser also takes the obsolete bytes 0x80-0xFF).
_ENTITY_TAG_PATTERN = r'(W/)?"[\x21\x23-\x7e]*"'
IF_MATCH_PATTERN = rf"^[ \t]*(\*|{_ENTITY_TAG_PATTERN}([ \t]*,[ \t]*({_ENTITY_TAG_PATTERN})?)*)[ \t]*$"


def parse_if_match(value: str) -> IfMatch:
    """`*`, or a list of entity tags; weak ones are read, and dropped: If-Match compares strongly, so a weak tag
    never matches (a list of weak tags only is a precondition nothing meets). ValueError if it is neither."""
    if value.strip(" \t") == "*":
        return ANY_VERSION
    strong: list[str] = []
    elements = 0
    position = 0
    while True:
        element = _LIST_ELEMENT.match(value, position)
        if element is None:
            raise ValueError(f"Must be {_IF_MATCH_FORM}.")
        if element["opaque"] is not None:
            elements += 1
            if element["weak"] is None:
                strong.append(element["opaque"])
        if not element["separator"]:
            break
        position = element.end()
    if not elements:
        raise ValueError(f"Must be {_IF_MATCH_FORM}; it is empty.")
    return IfMatch(tags=frozenset(strong))


def entity_tag(tag: str) -> str:
    """The ETag header's value for an opaque tag: strong, so quoted and without W/."""
    return f'"{tag}"'


class IfMatchField(ma.fields.Field[IfMatch]):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> IfMatch:
        if not isinstance(value, str):
            raise ma.ValidationError("Must be a string.")
        try:
            return parse_if_match(value)
        except ValueError as error:
            raise ma.ValidationError(str(error)) from error


class IfMatchHeaderSchema(ma.Schema):
    """For `@blp.arguments(IfMatchHeaderSchema, location="headers", as_kwargs=True)`: the view receives
    `if_match` (an IfMatch) when the header was sent, and nothing when it was not."""

    if_match = IfMatchField(
        data_key="If-Match",
        metadata={
            "type": "string",
            "pattern": IF_MATCH_PATTERN,
            "description": "Carry out the request only if the current ETag is one of these (strong comparison: a "
            "weak tag never matches), or if the resource exists at all (`*`); otherwise 412, and nothing is changed "
            "or deleted. Optional: without it the request applies to whatever version is current.",
            "example": '"3"',
        },
    )


def etag_response_header(what: str) -> dict[str, dict[str, Any]]:
    """The ETag header of a successful answer, for `@blp.response(..., headers=...)`."""
    return {
        "ETag": {
            "description": f"A strong entity tag of {what}; send it back in If-Match to change or delete only "
            "that version",
            "required": True,
            "schema": {"type": "string", "example": '"3"'},
        }
    }
