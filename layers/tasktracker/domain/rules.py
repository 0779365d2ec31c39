"""Validation rules shared by every entry point. Limits live here, once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from .enums import TaskPriority, TaskStatus
from .errors import ValidationError

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000
TAG_MAX_LENGTH = 50
TAGS_MAX_PER_TASK = 20
EMAIL_MAX_LENGTH = 254
FULL_NAME_MAX_LENGTH = 200
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
FILENAME_MAX_LENGTH = 255

# The tasks filter takes tag names separated by commas, so a name with one could never be asked for.
TAG_FILTER_SEPARATOR = ","
TAG_WITH_A_COMMA = "Tag names cannot contain commas."

Choice = TypeVar("Choice", bound=StrEnum)

# Deliberately simple: one @, something on each side, a dot in the domain, no spaces.
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not cleaned or len(cleaned) > EMAIL_MAX_LENGTH or not _EMAIL_PATTERN.match(cleaned):
        raise ValidationError.for_field("email", "Not a valid email address.")
    return cleaned


def validate_password(password: str, field: str = "password") -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError.for_field(field, f"Must be at least {PASSWORD_MIN_LENGTH} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError.for_field(field, f"Must be at most {PASSWORD_MAX_LENGTH} characters.")
    return password


def normalize_full_name(full_name: str | None) -> str | None:
    if full_name is None:
        return None
    cleaned = full_name.strip()
    if len(cleaned) > FULL_NAME_MAX_LENGTH:
        raise ValidationError.for_field("full_name", f"Must be at most {FULL_NAME_MAX_LENGTH} characters.")
    return cleaned or None


def normalize_title(title: str | None) -> str:
    cleaned = (title or "").strip()
    if not cleaned:
        raise ValidationError.for_field("title", "Title is required.")
    if len(cleaned) > TITLE_MAX_LENGTH:
        raise ValidationError.for_field("title", f"Must be at most {TITLE_MAX_LENGTH} characters.")
    return cleaned


def normalize_description(description: str | None) -> str | None:
    if description is None:
        return None
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ValidationError.for_field("description", f"Must be at most {DESCRIPTION_MAX_LENGTH} characters.")
    return description if description.strip() else None


def clean_tag(name: str) -> str:
    """A tag name as stored: inner whitespace collapsed, trimmed, lower-cased."""
    return " ".join(name.split()).lower()


def tag_problem(cleaned: str) -> str | None:
    """Why a cleaned name cannot be a tag's, or None if it can."""
    if not cleaned:
        return "Tag names cannot be empty."
    if TAG_FILTER_SEPARATOR in cleaned:
        return TAG_WITH_A_COMMA
    if len(cleaned) > TAG_MAX_LENGTH:
        return f"Tag names must be at most {TAG_MAX_LENGTH} characters."
    return None


def normalize_tag(name: str) -> str:
    cleaned = clean_tag(name)
    problem = tag_problem(cleaned)
    if problem:
        raise ValidationError.for_field("tags", problem)
    return cleaned


def normalize_tags(names: Iterable[str] | None) -> list[str]:
    """Trimmed, lower-cased, de-duplicated, in first-seen order."""
    unique: dict[str, None] = {}
    for name in names or ():
        unique.setdefault(normalize_tag(name), None)
    if len(unique) > TAGS_MAX_PER_TASK:
        raise ValidationError.for_field("tags", f"At most {TAGS_MAX_PER_TASK} tags per task.")
    return list(unique)


def moment_problem(moment: datetime) -> str | None:
    """Why a date-time cannot be a due date or a bound of a date filter, or None if it can."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return "Must include a timezone, e.g. 2025-12-31T10:00:00Z."
    try:
        # Stored and compared in UTC: an offset may push the edges of the calendar past year 1 or 9999.
        moment.astimezone(UTC)
    except OverflowError:
        return "Must fall between the years 1 and 9999 in UTC."
    return None


def validate_due_date(due_date: datetime | None) -> datetime | None:
    problem = moment_problem(due_date) if due_date is not None else None
    if problem:
        raise ValidationError.for_field("due_date", problem)
    return due_date


def parse_status(value: object) -> TaskStatus:
    return _parse_choice("status", value, TaskStatus)


def parse_priority(value: object) -> TaskPriority:
    return _parse_choice("priority", value, TaskPriority)


def _parse_choice(field: str, value: object, choices: type[Choice]) -> Choice:
    if isinstance(value, str):
        try:
            return choices(value.strip().upper())
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in choices)
    raise ValidationError.for_field(field, f"Must be one of: {allowed}.")


def sanitize_filename(filename: str | None) -> str:
    """A display name only: storage keys never derive from it."""
    name = (filename or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > FILENAME_MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and len(extension) < 16:
            name = stem[: FILENAME_MAX_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:FILENAME_MAX_LENGTH]
    return name or "file"
