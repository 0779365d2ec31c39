"""Optimistic concurrency: a change may say which versions of a task it was based on.

HTTP carries this as `If-Match` (RFC 9110, section 13.1.1) and the task's version as its `ETag`; the edge
parses the header into an `IfMatch` and quotes `version_tag` into the ETag. The rule lives here: a change
based on a version that is no longer current is refused, and nothing is written. It is checked under the
task's row lock, in the transaction that writes, so no other change can come between the check and the write.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasktracker.domain.entities import Task
from tasktracker.domain.errors import PreconditionFailedError


@dataclass(frozen=True)
class IfMatch:
    """The versions a change was based on: any version at all (`*`: the task must only exist), or one of `tags`.

    `tags` holds strong tags only: a weak one can never match, since If-Match compares strongly. No tags and
    not `any_version` is a precondition nothing meets (an If-Match of weak tags only).
    """

    tags: frozenset[str] = frozenset()
    any_version: bool = False


ANY_VERSION = IfMatch(any_version=True)


def version_tag(task: Task) -> str:
    """The opaque tag of the task's current version, unquoted: the same for every reader, changed by every change."""
    return str(task.version)


def ensure_current(task: Task, if_match: IfMatch | None) -> None:
    """No precondition (None) always holds: clients that never send If-Match keep last-write-wins."""
    if if_match is None or if_match.any_version:
        return
    if version_tag(task) not in if_match.tags:
        raise PreconditionFailedError(
            "The task has changed since you loaded it: load it again, then reapply your change",
            code="PRECONDITION_FAILED",
        )
