"""If-Match as the edge reads it (RFC 9110, sections 8.8.3 and 13.1.1)."""

from __future__ import annotations

import re

import marshmallow as ma
import pytest

from tasktracker.application.preconditions import ANY_VERSION, IfMatch
from tasktracker.platform.preconditions import IF_MATCH_PATTERN, IfMatchHeaderSchema, entity_tag, parse_if_match


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("*", ANY_VERSION),
        (" *\t", ANY_VERSION),
        ('"3"', IfMatch(tags=frozenset({"3"}))),
        ('"1", "2" ,"3"', IfMatch(tags=frozenset({"1", "2", "3"}))),
        # Weak tags are read but never match: If-Match compares strongly.
        ('W/"3", "4"', IfMatch(tags=frozenset({"4"}))),
        ('W/"3"', IfMatch()),
        # Empty list elements are allowed, and a comma may stand inside a tag.
        ('"1",, "2",', IfMatch(tags=frozenset({"1", "2"}))),
        ('"a,b"', IfMatch(tags=frozenset({"a,b"}))),
        ('""', IfMatch(tags=frozenset({""}))),
        ('"caf\xe9"', IfMatch(tags=frozenset({"caf\xe9"}))),
    ],
)
def test_star_and_lists_of_entity_tags_are_read(header: str, expected: IfMatch) -> None:
    assert parse_if_match(header) == expected


@pytest.mark.parametrize(
    "header", ["", " , ", "3", '"3', '3"', '"a" "b"', 'w/"3"', "W/", '"3", *', '*, "3"', "**", '"a"b', '"a\\"b"']
)
def test_anything_else_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="entity tags"):
        parse_if_match(header)


def test_the_documented_pattern_agrees_with_the_parser_on_plain_headers() -> None:
    for header in ("*", '"3"', 'W/"3", "4"', '"1" , "2"'):
        assert re.fullmatch(IF_MATCH_PATTERN, header), header
    for header in ("", "3", '"a" "b"', '*, "3"', 'w/"3"'):
        assert not re.fullmatch(IF_MATCH_PATTERN, header), header


def test_the_header_schema_loads_an_if_match_or_nothing_and_names_the_header_when_refused() -> None:
    schema = IfMatchHeaderSchema()
    assert schema.load({"If-Match": '"7"'}) == {"if_match": IfMatch(tags=frozenset({"7"}))}
    assert schema.load({}) == {}
    with pytest.raises(ma.ValidationError) as refused:
        schema.load({"If-Match": "7"})
    assert list(refused.value.messages_dict) == ["If-Match"]


def test_an_etag_is_strong() -> None:
    assert entity_tag("7") == '"7"'
