"""A query string already parsed by the same schema is not parsed again (platform/smorest.py's parser), and no
request sees what another did to its arguments."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from werkzeug.exceptions import BadRequest

from tasktracker.platform.paging import PageQuerySchema
from tasktracker.platform.query_fields import SeparatedValues
from tasktracker.platform.smorest import FunctionBlueprint

app = Flask(__name__)


class CountingQuerySchema(PageQuerySchema):
    words = SeparatedValues("Words")
    filters = ma.fields.Dict()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loads = 0

    @ma.pre_load
    def count(self, data: Any, **kwargs: Any) -> Any:
        self.loads += 1
        return data


def parse(schema: ma.Schema, query: str, parser: Any = None) -> dict[str, Any]:
    parser = parser or type(FunctionBlueprint.ARGUMENTS_PARSER)()
    with app.test_request_context(f"/items?{query}"):
        parsed: dict[str, Any] = parser.parse(schema, location="query")
    return parsed


def test_the_same_query_is_parsed_once_per_schema_and_answered_alike() -> None:
    parser, schema, other = type(FunctionBlueprint.ARGUMENTS_PARSER)(), CountingQuerySchema(), CountingQuerySchema()
    first = parse(schema, "words=a,b&page=2", parser)
    assert first == {"words": ("a", "b"), "page": 2, "page_size": 20}
    assert [parse(schema, "words=a,b&page=2", parser) for _ in range(3)] == [first] * 3
    assert schema.loads == 1
    assert parse(schema, "words=a", parser)["words"] == ("a",)
    assert parse(other, "words=a,b&page=2", parser) == first
    assert (schema.loads, other.loads) == (2, 1)


def test_each_request_gets_its_own_arguments() -> None:
    parser, schema = type(FunctionBlueprint.ARGUMENTS_PARSER)(), CountingQuerySchema()
    with app.test_request_context("/items"):
        first = parser.parse(schema, location="query")
        first["page"] = 99
        first["extra"] = [1]
    again = parse(schema, "", parser)
    assert again == {"page": 1, "page_size": 20}
    assert schema.loads == 1


def test_a_refused_query_is_refused_every_time() -> None:
    parser, schema = type(FunctionBlueprint.ARGUMENTS_PARSER)(), CountingQuerySchema()
    for _ in range(2):
        with pytest.raises(BadRequest) as refused, app.test_request_context("/items?page=0"):
            parser.parse(schema, location="query")
        assert refused.value.code == 400
    assert schema.loads == 2


def test_the_kept_queries_are_bounded() -> None:
    parser, schema = type(FunctionBlueprint.ARGUMENTS_PARSER)(), CountingQuerySchema()
    for page in range(1, parser.KEPT_QUERIES + 11):
        parse(schema, f"page={page}", parser)
    assert len(parser._parsed_queries) == parser.KEPT_QUERIES
    assert parse(schema, f"page={parser.KEPT_QUERIES + 10}", parser)["page"] == parser.KEPT_QUERIES + 10
    loads = schema.loads
    parse(schema, "page=1", parser)
    assert schema.loads == loads + 1, "the oldest query was let go"
