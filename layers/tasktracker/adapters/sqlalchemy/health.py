"""Is PostgreSQL answering? One `SELECT 1` on a pooled connection."""

from __future__ import annotations

from sqlalchemy import Engine, text

from tasktracker.application.ports import HealthState


class DatabaseProbe:
    def __init__(self, engine: Engine):
        self.engine = engine

    def check(self) -> HealthState:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "up"
