"""The query-string fields and the paging schema of the web platform: strings in, typed values out."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest

from tasktracker.application.ports import SortKey
from tasktracker.application.queries import TASK_SORT_FIELDS
from tasktracker.domain import rules
from tasktracker.domain.enums import TaskPriority, TaskStatus
from tasktracker.domain.errors import ValidationError
from tasktracker.platform.paging import PageQuerySchema
from tasktracker.platform.query_fields import EnumValues, SeparatedValues, SortKeys, TagNames


class ListQuerySchema(PageQuerySchema):
    words = SeparatedValues("Words")
    status = EnumValues(TaskStatus)
    priority = EnumValues(TaskPriority, data_key="prio")
    tags = TagNames("Tags")
    sort = SortKeys(TASK_SORT_FIELDS, order="Newest first when absent")
    limit = ma.fields.Integer()


SINGLE_VALUED = {"page", "page_size", "limit"}


def load(**query: str | list[str]) -> dict[str, Any]:
    """As webargs hands a query string to the schema: every separated-values field as a list."""
    values = {
        name: [value] if isinstance(value, str) and name not in SINGLE_VALUED else value
        for name, value in query.items()
    }
    loaded: dict[str, Any] = ListQuerySchema().load(values)
    return loaded


def refusal(**query: str | list[str]) -> tuple[str, str, str]:
    """The one field a refused value is answered for, its message, and the answer's message."""
    with pytest.raises(ValidationError) as error:
        load(**query)
    [(field, [message])] = error.value.details["fields"].items()
    return field, message, error.value.message


# separated values


def test_values_may_be_comma_separated_repeated_or_both() -> None:
    assert load(words="a, b ,,c")["words"] == ("a", "b", "c")
    assert load(words=["a,b", " c "])["words"] == ("a", "b", "c")


@pytest.mark.parametrize("value", ["", " , ", []])
def test_blank_values_are_no_values(value: str | list[str]) -> None:
    loaded = load(words=value, status=value, tags=value, sort=value)
    assert (loaded["words"], loaded["status"], loaded["tags"], loaded["sort"]) == ((), (), (), ())


def test_absent_parameters_are_absent() -> None:
    assert load() == {"page": 1, "page_size": 20}


# enums


def test_enum_values_ignore_case_and_duplicates() -> None:
    assert load(status="todo,DONE,Todo")["status"] == (TaskStatus.TODO, TaskStatus.DONE)


def test_an_unknown_enum_value_is_refused_naming_the_parameter_and_the_allowed_values() -> None:
    assert refusal(prio=["HIGH", "urgent"]) == (
        "prio",
        "'urgent' is not one of: LOW, MEDIUM, HIGH, CRITICAL.",
        "prio: 'urgent' is not one of: LOW, MEDIUM, HIGH, CRITICAL.",
    )


# tags


def test_tag_names_are_cleaned_like_task_tags() -> None:
    assert load(tags="Backend, URGENT,backend,  big   deal ")["tags"] == ("backend", "urgent", "big deal")


@pytest.mark.parametrize("name", ["Big Deal", "c++", "a;b", "x" * 50])
def test_every_name_a_task_may_carry_comes_through_the_split_whole(name: str) -> None:
    assert load(tags=name)["tags"] == (rules.normalize_tag(name),)


def test_a_tag_name_too_long_is_refused() -> None:
    assert refusal(tags="ok," + "x" * 51)[:2] == ("tags", "Tag names must be at most 50 characters.")


# sort


def test_sort_keys_are_read_in_order_with_asc_by_default() -> None:
    assert load(sort="due_date:asc,priority:desc, title ")["sort"] == (
        SortKey("due_date", descending=False),
        SortKey("priority", descending=True),
        SortKey("title", descending=False),
    )
    assert load(sort=["created_at:DESC", "title : asc"])["sort"] == (
        SortKey("created_at", descending=True),
        SortKey("title", descending=False),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("due_date:asc,owner_id:desc", f"Cannot sort by 'owner_id'; allowed fields: {', '.join(TASK_SORT_FIELDS)}."),
        (":desc", f"Cannot sort by ''; allowed fields: {', '.join(TASK_SORT_FIELDS)}."),
        ("title:sideways", "Direction of 'title' must be asc or desc, not 'sideways'."),
        ("title:asc,title:desc", "'title' appears more than once."),
    ],
)
def test_a_sort_that_is_not_allowed_is_refused(value: str, message: str) -> None:
    assert refusal(sort=value) == ("sort", message, f"sort: {message}")


def test_sort_keys_accept_only_the_fields_they_are_given() -> None:
    class OnlyCreated(PageQuerySchema):
        sort = SortKeys(["created_at"], order="")

    assert OnlyCreated().load({"sort": ["created_at"]})["sort"] == (SortKey("created_at", descending=False),)
    with pytest.raises(ValidationError):
        OnlyCreated().load({"sort": ["title"]})


# which error is answered


def test_values_of_the_wrong_type_are_answered_together_before_any_refusal() -> None:
    with pytest.raises(ma.ValidationError) as error:
        load(status="FINISHED", page="0", limit="many")
    assert set(error.value.normalized_messages()) == {"page", "limit"}


def test_the_first_refused_parameter_in_field_order_is_answered_alone() -> None:
    assert refusal(sort="owner_id", tags="x" * 51, status="FINISHED", prio="urgent")[0] == "status"
    assert refusal(sort="owner_id", tags="x" * 51, prio="urgent")[0] == "prio"
    assert refusal(sort="owner_id", tags="x" * 51)[0] == "tags"
