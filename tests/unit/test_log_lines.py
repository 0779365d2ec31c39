"""Log lines are one JSON object each, with the request's correlation id and user, whatever the text they carry."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tasktracker.application import context
from tasktracker.platform.logs import configure_logging


def logged(capsys: pytest.CaptureFixture[str], message: str, **extra: Any) -> dict[str, Any]:
    configure_logging("INFO")
    context.set_correlation_id("c-1")
    context.set_user_id("u-1")
    logging.getLogger("tasktracker.test").info(message, extra=extra)
    [line] = capsys.readouterr().out.splitlines()
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_a_line_carries_level_logger_message_context_and_extras(capsys: pytest.CaptureFixture[str]) -> None:
    line = logged(capsys, "request %s", path="/api/v1/tasks", status=200, latency_ms=1.25)
    assert {key: line[key] for key in ("level", "logger", "message", "correlation_id", "user_id")} == {
        "level": "INFO",
        "logger": "tasktracker.test",
        "message": "request %s",
        "correlation_id": "c-1",
        "user_id": "u-1",
    }
    assert (line["path"], line["status"], line["latency_ms"]) == ("/api/v1/tasks", 200, 1.25)
    assert line["timestamp"].endswith("+00:00")


@pytest.mark.parametrize(
    "extra",
    [{"path": "/api/v1/tasks/\ud800"}, {"count": 2**70}, {"error": ValueError("bad")}],
    ids=["a lone surrogate", "an integer beyond 64 bits", "an exception"],
)
def test_what_orjson_cannot_encode_is_still_one_json_line(capsys: pytest.CaptureFixture[str], extra: Any) -> None:
    line = logged(capsys, "odd text", **extra)
    assert line["message"] == "odd text"
    [(name, value)] = extra.items()
    assert line[name] == (value if not isinstance(value, Exception) else "ValueError: bad")
