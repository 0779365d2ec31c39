"""Turning what a caller asks for (strings) into a TaskQuery or AuditQuery, with errors that name the field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from tasktracker.domain import rules
from tasktracker.domain.errors import ValidationError

from .ports import SortKey

MAX_PAGE_SIZE = 100
# Far past any real list, and low enough that the row offset of the last page stays a small database integer.
MAX_PAGE = 1_000_000
DEFAULT_PAGE_SIZE = 20
TASK_SORT_FIELDS = ("title", "status", "priority", "due_date", "created_at", "updated_at")

E = TypeVar("E", bound=StrEnum)


def split_csv(values: str | Iterable[str] | None) -> list[str]:
    """`status=TODO,DONE` and `status=TODO&status=DONE` mean the same."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def parse_enums(field: str, values: str | Iterable[str] | None, enum: type[E]) -> tuple[E, ...]:
    parsed: list[E] = []
    for raw in split_csv(values):
        try:
            parsed.append(enum(raw.upper()))
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise ValidationError.for_field(field, f"'{raw}' is not one of: {allowed}.") from None
    return tuple(dict.fromkeys(parsed))


def parse_tags(values: str | Iterable[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(rules.normalize_tag(raw) for raw in split_csv(values)))


def parse_sort(value: str | None, allowed: Iterable[str] = TASK_SORT_FIELDS) -> tuple[SortKey, ...]:
    allowed = tuple(allowed)
    keys: list[SortKey] = []
    seen: set[str] = set()
    for part in split_csv(value):
        name, _, direction = part.partition(":")
        name, direction = name.strip(), (direction.strip().lower() or "asc")
        if name not in allowed:
            raise ValidationError.for_field("sort", f"Cannot sort by '{name}'; allowed fields: {', '.join(allowed)}.")
        if direction not in ("asc", "desc"):
            raise ValidationError.for_field("sort", f"Direction of '{name}' must be asc or desc, not '{direction}'.")
        if name in seen:
            raise ValidationError.for_field("sort", f"'{name}' appears more than once.")
        seen.add(name)
        keys.append(SortKey(name, direction == "desc"))
    return tuple(keys)


def check_page(page: int, page_size: int) -> None:
    if not 1 <= page <= MAX_PAGE:
        raise ValidationError.for_field("page", f"Must be between 1 and {MAX_PAGE}.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValidationError.for_field("page_size", f"Must be between 1 and {MAX_PAGE_SIZE}.")


def check_range(field_from: str, start: datetime | None, field_to: str, end: datetime | None) -> None:
    for name, value in ((field_from, start), (field_to, end)):
        problem = rules.moment_problem(value) if value is not None else None
        if problem:
            raise ValidationError.for_field(name, problem)
    if start is not None and end is not None and start > end:
        raise ValidationError.for_field(field_to, f"Must not be before {field_from}.")


def parse_uuid(field: str, value: str | UUID | None) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except ValueError:
        raise ValidationError.for_field(field, "Not a valid id.") from None
