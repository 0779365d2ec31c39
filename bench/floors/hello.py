"""The floor for cold start: a bare Flask app with one route, nothing else imported."""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "ok"}

    return app
