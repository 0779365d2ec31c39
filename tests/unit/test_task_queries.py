from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from tasktracker.application.ports import SortKey
from tasktracker.application.task_queries import (
    check_page,
    check_range,
    parse_enums,
    parse_sort,
    parse_tags,
    parse_uuid,
    split_csv,
)
from tasktracker.domain.enums import TaskPriority, TaskStatus
from tasktracker.domain.errors import ValidationError

# split_csv


def test_split_csv_reads_one_comma_separated_value() -> None:
    assert split_csv("TODO, DONE ,,BLOCKED") == ["TODO", "DONE", "BLOCKED"]


def test_split_csv_reads_repeated_values_and_commas_alike() -> None:
    assert split_csv(["TODO,DONE", " BLOCKED "]) == ["TODO", "DONE", "BLOCKED"]


@pytest.mark.parametrize("values", [None, "", " , ", []])
def test_split_csv_of_nothing_is_empty(values: str | list[str] | None) -> None:
    assert split_csv(values) == []


# parse_enums


def test_parse_enums_is_case_insensitive_and_drops_duplicates() -> None:
    assert parse_enums("status", "todo,DONE,Todo", TaskStatus) == (TaskStatus.TODO, TaskStatus.DONE)


def test_parse_enums_of_nothing_is_empty() -> None:
    assert parse_enums("priority", None, TaskPriority) == ()


def test_parse_enums_names_the_field_and_the_allowed_values() -> None:
    with pytest.raises(ValidationError) as error:
        parse_enums("priority", ["HIGH", "urgent"], TaskPriority)
    [message] = error.value.details["fields"]["priority"]
    assert "'urgent'" in message
    assert "LOW, MEDIUM, HIGH, CRITICAL" in message


# parse_sort


def test_parse_sort_reads_several_pairs_in_order() -> None:
    assert parse_sort("due_date:asc,priority:desc,title") == (
        SortKey("due_date", descending=False),
        SortKey("priority", descending=True),
        SortKey("title", descending=False),
    )


def test_parse_sort_direction_is_case_insensitive() -> None:
    assert parse_sort("created_at:DESC") == (SortKey("created_at", descending=True),)


@pytest.mark.parametrize("value", [None, ""])
def test_parse_sort_of_nothing_is_empty(value: str | None) -> None:
    assert parse_sort(value) == ()


def test_parse_sort_refuses_an_unknown_field_and_names_it() -> None:
    with pytest.raises(ValidationError) as error:
        parse_sort("due_date:asc,owner_id:desc")
    [message] = error.value.details["fields"]["sort"]
    assert "'owner_id'" in message


def test_parse_sort_refuses_a_bad_direction() -> None:
    with pytest.raises(ValidationError) as error:
        parse_sort("title:sideways")
    [message] = error.value.details["fields"]["sort"]
    assert "'sideways'" in message


def test_parse_sort_refuses_a_field_given_twice() -> None:
    with pytest.raises(ValidationError) as error:
        parse_sort("title:asc,title:desc")
    [message] = error.value.details["fields"]["sort"]
    assert "'title'" in message


def test_parse_sort_accepts_only_the_fields_it_is_given() -> None:
    assert parse_sort("created_at", allowed=["created_at"]) == (SortKey("created_at", descending=False),)
    with pytest.raises(ValidationError):
        parse_sort("title", allowed=["created_at"])


# check_page, check_range and the rest


@pytest.mark.parametrize(("page", "page_size"), [(1, 1), (1, 100), (7, 20)])
def test_check_page_accepts_pages_from_1_and_sizes_from_1_to_100(page: int, page_size: int) -> None:
    check_page(page, page_size)


@pytest.mark.parametrize(
    ("page", "page_size", "field"), [(0, 20, "page"), (-1, 20, "page"), (1, 0, "page_size"), (1, 101, "page_size")]
)
def test_check_page_names_the_field_that_is_out_of_range(page: int, page_size: int, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        check_page(page, page_size)
    assert list(error.value.details["fields"]) == [field]


def test_check_range_refuses_an_end_before_the_start() -> None:
    with pytest.raises(ValidationError) as error:
        check_range("due_from", datetime(2025, 2, 1, tzinfo=UTC), "due_to", datetime(2025, 1, 1, tzinfo=UTC))
    assert list(error.value.details["fields"]) == ["due_to"]


def test_check_range_refuses_a_naive_bound_and_names_it() -> None:
    with pytest.raises(ValidationError) as error:
        check_range("due_from", None, "due_to", datetime(2025, 1, 1))
    assert list(error.value.details["fields"]) == ["due_to"]


def test_check_range_accepts_open_and_single_instant_ranges() -> None:
    instant = datetime(2025, 1, 1, tzinfo=UTC)
    check_range("due_from", None, "due_to", None)
    check_range("due_from", instant, "due_to", instant)


def test_parse_tags_normalises_like_task_tags() -> None:
    assert parse_tags("Backend, URGENT,backend") == ("backend", "urgent")


def test_parse_uuid_names_the_field_of_a_bad_id() -> None:
    value = "0b7f5f3e-6a8e-4c53-9f37-0d6cb4a2f1a0"
    assert parse_uuid("task_id", value) == UUID(value)
    assert parse_uuid("task_id", None) is None
    with pytest.raises(ValidationError) as error:
        parse_uuid("task_id", "not-an-id")
    assert list(error.value.details["fields"]) == ["task_id"]
