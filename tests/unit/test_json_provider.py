"""Every JSON answer is encoded by orjson (platform/json_provider.py): the same JSON as Flask's own provider,
keys in the order the answer was built, and what orjson cannot encode handed to the standard encoder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from tasktracker.platform.json_provider import OrjsonProvider


@dataclass
class Point:
    x: int
    label: str


ANSWERS: dict[str, Any] = {
    "a page": {
        "items": [{"id": UUID(int=7), "title": "Caf\u00e9 \u4e2d \U0001f600", "tags": ["a", "b"], "due": None}],
        "page": 1,
        "total": 10**12,
    },
    "dates as HTTP dates": {"at": datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "on": date(2026, 11, 27)},
    "decimals, dataclasses and number keys": {"price": Decimal("1.10"), "point": Point(1, "p"), "by": {3: 1, 1: 0.5}},
    "an error echoing a request's text": {"error": {"details": {"fields": {"bad": ['\\u0000 and quotes "']}}}},
}


def app(*, debug: bool = False) -> Flask:
    made = Flask(__name__)
    made.json = OrjsonProvider(made)
    made.debug = debug
    return made


def flask_own(value: Any) -> Any:
    # A provider keeps only a weak reference to its app: the app is held for as long as it is used.
    flask_app = Flask(__name__)
    return json.loads(DefaultJSONProvider(flask_app).dumps(value))


@pytest.mark.parametrize("name", list(ANSWERS))
def test_answers_are_the_json_flasks_own_provider_gives(name: str) -> None:
    value = ANSWERS[name]
    made = app()
    assert json.loads(made.json.dumps(value)) == flask_own(value)
    with made.app_context():
        response = made.json.response(value)
    assert response.mimetype == "application/json"
    assert response.get_data().endswith(b"\n")
    assert json.loads(response.get_data()) == flask_own(value)


def test_keys_stay_in_the_order_the_answer_was_built_and_text_stays_utf8() -> None:
    made = app()
    body = made.json.dumps({"error": {"code": "X", "message": "\u00e9", "details": {}, "correlation_id": "c"}})
    assert body == '{"error":{"code":"X","message":"\u00e9","details":{},"correlation_id":"c"}}'


@pytest.mark.parametrize(
    "value",
    [{"fields": {"\ud800": ["Unknown field."]}}, {"huge": 2**70}],
    ids=["a lone surrogate echoed from a request", "an integer beyond 64 bits"],
)
def test_what_orjson_cannot_encode_is_encoded_by_the_standard_encoder(value: dict[str, Any]) -> None:
    made = app()
    with made.app_context():
        response = made.json.response(value)
    assert response.get_data() == (json.dumps(value, separators=(",", ":")) + "\n").encode()
    assert made.json.dumps(value) == json.dumps(value)


def test_what_neither_can_encode_is_still_a_type_error() -> None:
    made = app()
    with pytest.raises(TypeError):
        made.json.dumps({"object": object()})


def test_debug_answers_are_indented_as_flasks_are() -> None:
    made = app(debug=True)
    with made.app_context():
        response = made.json.response({"a": [1]})
    assert response.get_data() == b'{\n  "a": [\n    1\n  ]\n}\n'


def test_arguments_orjson_does_not_take_go_to_the_standard_encoder() -> None:
    made = app()
    assert made.json.dumps({"b": 1, "a": 2}, sort_keys=True) == '{"a": 2, "b": 1}'
