"""The rules of every list: paging limits, the fields tasks sort by, and what makes a date range valid.

Query strings are parsed once, at the edge (tasktracker.platform.query_fields and .paging, whose schemas
take their limits from here); the use cases receive typed values and apply the rules that are not about
spelling, such as a range that ends before it starts.
"""

from __future__ import annotations

from datetime import datetime

from tasktracker.domain import rules
from tasktracker.domain.errors import ValidationError

MAX_PAGE_SIZE = 100
# Far past any real list, and low enough that the row offset of the last page stays a small database integer.
MAX_PAGE = 1_000_000
DEFAULT_PAGE_SIZE = 20
TASK_SORT_FIELDS = ("title", "status", "priority", "due_date", "created_at", "updated_at")


def check_range(field_from: str, start: datetime | None, field_to: str, end: datetime | None) -> None:
    """Each bound a moment a due date could be, and the end not before the start; errors name the bound."""
    for name, value in ((field_from, start), (field_to, end)):
        problem = rules.moment_problem(value) if value is not None else None
        if problem:
            raise ValidationError.for_field(name, problem)
    if start is not None and end is not None and start > end:
        raise ValidationError.for_field(field_to, f"Must not be before {field_from}.")
