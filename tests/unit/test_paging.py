"""The paging parameters and the page envelope every list shares."""

from __future__ import annotations

import marshmallow as ma
import pytest

from tasktracker.application.queries import MAX_PAGE, MAX_PAGE_SIZE
from tasktracker.platform.paging import PageQuerySchema, PageSchema, page_of


def test_paging_defaults_to_the_first_page_of_20() -> None:
    assert PageQuerySchema().load({}) == {"page": 1, "page_size": 20}


@pytest.mark.parametrize(("page", "page_size"), [("1", "1"), ("1", str(MAX_PAGE_SIZE)), (str(MAX_PAGE), "20")])
def test_pages_from_1_and_sizes_from_1_to_the_maximum_are_accepted(page: str, page_size: str) -> None:
    assert PageQuerySchema().load({"page": page, "page_size": page_size}) == {
        "page": int(page),
        "page_size": int(page_size),
    }


@pytest.mark.parametrize(
    ("page", "page_size", "field"),
    [
        ("0", "20", "page"),
        ("-1", "20", "page"),
        (str(MAX_PAGE + 1), "20", "page"),
        ("two", "20", "page"),
        ("1", "0", "page_size"),
        ("1", str(MAX_PAGE_SIZE + 1), "page_size"),
        ("1", "1.5", "page_size"),
    ],
)
def test_a_page_or_size_out_of_range_is_named(page: str, page_size: str, field: str) -> None:
    with pytest.raises(ma.ValidationError) as error:
        PageQuerySchema().load({"page": page, "page_size": page_size})
    assert list(error.value.normalized_messages()) == [field]


def test_a_page_schema_is_named_after_its_items_and_lists_them_first() -> None:
    class ThingSchema(ma.Schema):
        name = ma.fields.String(required=True)

    things = page_of(ThingSchema)
    assert things.__name__ == "ThingPageSchema"
    assert issubclass(things, PageSchema)
    assert list(things().fields) == ["items", "page", "page_size", "total"]
    page = {"items": [{"name": "a"}], "page": 1, "page_size": 20, "total": 1}
    assert things().dump(page) == page
