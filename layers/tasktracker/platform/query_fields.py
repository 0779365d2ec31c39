"""Query-string fields that turn what a list is asked for into typed values, once, at the edge.

`status=TODO,DONE` and `status=TODO&status=DONE` mean the same: these fields are documented as arrays of
strings (form style, exploded) and also split each value at its commas, dropping blanks.

Bad values are answered in two ways, as the API always has. A value that is not of its type (a page that is
not a number, a date without a timezone, an id that is no id) fails the schema, and every such parameter is
named in one answer, "The request is not valid". A well-formed value that names nothing known (a status, a
sort field) or breaks a rule (a tag name too long) is answered alone, once everything else is valid, with
the parameter in the message: "status: 'X' is not one of: ...". So these fields do not raise: they load a
`Refusal`, and `QuerySchema` answers the first one in the order the fields are declared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

import marshmallow as ma

from tasktracker.application.ports import SortKey
from tasktracker.domain import rules
from tasktracker.domain.errors import ValidationError

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Refusal:
    """What a separated-values field loads instead of raising; see the module's docstring."""

    message: str


class QuerySchema(ma.Schema):
    """Base of the schemas of query strings that use the separated-values fields below."""

    @ma.post_load
    def answer_the_first_refusal(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # Only reached when every other parameter is valid: marshmallow skips post_load after any error.
        for name, field in self.load_fields.items():
            value = data.get(field.attribute or name)
            if isinstance(value, Refusal):
                raise ValidationError.for_field(field.data_key or name, value.message)
        return data


class SeparatedValues(ma.fields.List[str]):
    """Strings given comma-separated, repeated, or both; each is trimmed and blanks are dropped.

    A subclass of List so that webargs reads every repetition and the OpenAPI document shows an array."""

    def __init__(self, description: str, **kwargs: Any):
        kwargs.setdefault("metadata", {})["description"] = f"{description}, comma-separated or repeated"
        super().__init__(ma.fields.String(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        strings = super()._deserialize(value, attr, data, **kwargs)
        return self.parse([part.strip() for string in strings for part in (string or "").split(",") if part.strip()])

    def parse(self, values: list[str]) -> tuple[Any, ...] | Refusal:
        """The typed value of the parameter, or why it is refused."""
        return tuple(values)


class EnumValues(SeparatedValues, Generic[E]):
    """Members of an enum, in any case, each once, in the order given."""

    def __init__(self, enum: type[E], **kwargs: Any):
        self.enum = enum
        self.names = ", ".join(member.value for member in enum)
        super().__init__(f"One or more of {self.names}", **kwargs)

    def parse(self, values: list[str]) -> tuple[E, ...] | Refusal:
        members: list[E] = []
        for value in values:
            try:
                members.append(self.enum(value.upper()))
            except ValueError:
                return Refusal(f"'{value}' is not one of: {self.names}.")
        return tuple(dict.fromkeys(members))


class TagNames(SeparatedValues):
    """Tag names cleaned as a task's tags are (trimmed, lower-cased), each once, in the order given, and held to
    the same rules (rules.tag_problem). The split at commas loses no tag: a tag name cannot hold one."""

    def parse(self, values: list[str]) -> tuple[str, ...] | Refusal:
        names = tuple(dict.fromkeys(rules.clean_tag(value) for value in values))
        for name in names:
            problem = rules.tag_problem(name)
            if problem:
                return Refusal(problem)
        return names


class SortKeys(SeparatedValues):
    """`field:direction` pairs, applied in order: a field of `allowed`, each at most once, and asc (the
    default) or desc in any case."""

    def __init__(self, allowed: Sequence[str], *, order: str, **kwargs: Any):
        self.allowed = tuple(allowed)
        super().__init__(
            f"`field:direction` pairs, applied in order; fields: {', '.join(self.allowed)}; direction asc "
            f"(the default) or desc. {order}",
            **kwargs,
        )

    def parse(self, values: list[str]) -> tuple[SortKey, ...] | Refusal:
        keys: list[SortKey] = []
        for value in values:
            name, _, direction = value.partition(":")
            name, direction = name.strip(), (direction.strip().lower() or "asc")
            if name not in self.allowed:
                return Refusal(f"Cannot sort by '{name}'; allowed fields: {', '.join(self.allowed)}.")
            if direction not in ("asc", "desc"):
                return Refusal(f"Direction of '{name}' must be asc or desc, not '{direction}'.")
            if any(key.field == name for key in keys):
                return Refusal(f"'{name}' appears more than once.")
            keys.append(SortKey(name, direction == "desc"))
        return tuple(keys)
