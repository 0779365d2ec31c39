"""How large and how deep a JSON request body may be, computed once from the domain's limits.

Every operation reads its JSON body through the arguments parser (platform/smorest.py), which holds a body to
these limits before anything looks inside it, behind the router and under Lambda alike. A function that takes
no files is also capped at MAX_JSON_BODY_BYTES as a whole (MAX_CONTENT_LENGTH, platform/app_factory.py); the
attachments function keeps the upload limit for its multipart bodies and the JSON cap for its JSON ones.
"""

from __future__ import annotations

from typing import Any

from tasktracker.domain import rules

# The most bytes JSON can spend on one character: one beyond the Basic Multilingual Plane, escaped as a
# surrogate pair ("\ud83d\ude00"), counts as one character against a length limit. Raw UTF-8 takes at most 4.
JSON_BYTES_PER_CHARACTER = 12

# The largest valid body of any operation is a task's (POST/PUT /tasks) with its title, its description and
# every one of its tags at their limits; any other body (sign-up, password change, confirm) is a small part of it.
LARGEST_TASK_CHARACTERS = (
    rules.TITLE_MAX_LENGTH + rules.DESCRIPTION_MAX_LENGTH + rules.TAGS_MAX_PER_TASK * rules.TAG_MAX_LENGTH
)

# Room for the rest of that body: field names (escaped too), status, priority, due date, punctuation and
# the indentation of a pretty-printed body.
STRUCTURE_MARGIN_BYTES = 64 * 1024

# 199,936 bytes (about 195 KiB): a body over it cannot be valid, so it is refused (413) before it is parsed.
MAX_JSON_BODY_BYTES = LARGEST_TASK_CHARACTERS * JSON_BYTES_PER_CHARACTER + STRUCTURE_MARGIN_BYTES

# A valid body is at most two levels deep (a task, its list of tags). Anything past this is refused (400)
# before a recursive walk (validation, serialisation) could exhaust the stack on it.
MAX_JSON_DEPTH = 32


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels deep in a parsed JSON value; walked without
    recursion, so that any depth can be measured."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
