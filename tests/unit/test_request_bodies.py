"""The limits of JSON request bodies, derived from the domain's: large enough for the largest valid body in
any spelling JSON allows, deep enough for any valid one, and measured without recursion."""

from __future__ import annotations

import json

import pytest

from tasktracker.domain import rules
from tasktracker.platform.request_bodies import MAX_JSON_BODY_BYTES, MAX_JSON_DEPTH, nested_deeper_than


def test_the_largest_valid_task_fits_in_its_costliest_spelling_with_room_to_spare() -> None:
    beyond_the_plane = "\U0001f600"
    task = {
        "title": beyond_the_plane * rules.TITLE_MAX_LENGTH,
        "description": beyond_the_plane * rules.DESCRIPTION_MAX_LENGTH,
        "tags": [chr(0x1F600 + number) * rules.TAG_MAX_LENGTH for number in range(rules.TAGS_MAX_PER_TASK)],
        "status": "IN_PROGRESS",
        "priority": "CRITICAL",
        "due_date": "2030-12-31T23:59:59.999999+14:00",
    }
    costliest = len(json.dumps(task, ensure_ascii=True, indent=8).encode())
    assert costliest < MAX_JSON_BODY_BYTES < costliest + 128 * 1024
    assert MAX_JSON_BODY_BYTES == 199_936  # as the README says


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("x", 0), ([], 1), ({}, 1), ({"tags": ["a"]}, 2), ([[[]]], 3), ({"a": [{"b": {}}]}, 4)],
)
def test_depth_counts_nested_arrays_and_objects(value: object, depth: int) -> None:
    assert not nested_deeper_than(value, depth)
    assert nested_deeper_than(value, depth - 1) == (depth > 0)


def test_any_depth_is_measured_without_recursion() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert nested_deeper_than(deep, MAX_JSON_DEPTH)
    assert nested_deeper_than({"a": [1, 2, {"b": deep}]}, MAX_JSON_DEPTH)
    assert not nested_deeper_than([[0] * 1000] * 1000, MAX_JSON_DEPTH)
