"""The rules of every list that the application keeps: here, what makes a date range valid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasktracker.application.queries import check_range
from tasktracker.domain.errors import ValidationError


def test_a_range_that_ends_before_it_starts_is_refused_naming_its_end() -> None:
    with pytest.raises(ValidationError) as error:
        check_range("due_from", datetime(2025, 2, 1, tzinfo=UTC), "due_to", datetime(2025, 1, 1, tzinfo=UTC))
    assert error.value.details["fields"] == {"due_to": ["Must not be before due_from."]}


def test_a_naive_bound_is_refused_and_named() -> None:
    with pytest.raises(ValidationError) as error:
        check_range("due_from", None, "due_to", datetime(2025, 1, 1))
    assert list(error.value.details["fields"]) == ["due_to"]


def test_a_bound_past_the_calendar_in_utc_is_refused_and_named() -> None:
    with pytest.raises(ValidationError) as error:
        check_range("from", datetime.fromisoformat("0001-01-01T00:00:00+01:00"), "to", None)
    assert error.value.details["fields"] == {"from": ["Must fall between the years 1 and 9999 in UTC."]}


def test_open_and_single_instant_ranges_are_accepted() -> None:
    instant = datetime(2025, 1, 1, tzinfo=UTC)
    check_range("due_from", None, "due_to", None)
    check_range("due_from", instant, "due_to", instant)
