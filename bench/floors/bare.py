"""The floor for the HTTP figures: Flask + psycopg + psycopg_pool serving the same SQL without the layers.

No sign-in check, no validation, no use cases, no ORM: a pooled connection, the statements, json. It runs in the
same gunicorn settings and behind the same router as the functions (under /bare/...).

The unfiltered total is counted the way `?count=` says: `exact` reads the table (SELECT count(*)), `counters`
adds up the rows of task_counts that the product's triggers keep with each write (404 where there are none).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from bench.queries import (
    COUNTERS_COUNT,
    COUNTERS_TABLE,
    DEFAULT_PAGE,
    EXACT_COUNT,
    RANKED_COLUMN,
    SEARCH_COUNT,
    search_page,
)

COLUMNS = ("id", "owner_id", "title", "description", "status", "priority", "due_date", "created_at", "updated_at")


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID | datetime):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    return value


def _page(rows: list[tuple[Any, ...]], total: int) -> Response:
    items = [
        {**{name: _json(value) for name, value in zip(COLUMNS, row[:9], strict=True)}, "owner_email": row[9],
         "tags": row[10]}
        for row in rows
    ]  # fmt: skip
    body = json.dumps({"items": items, "page": 1, "page_size": 20, "total": total})
    return Response(body, mimetype="application/json")


def create_app() -> Flask:
    app = Flask(__name__)
    pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=4, max_size=8, open=True)
    with pool.connection() as connection:
        row = connection.execute(f"SELECT to_regclass('{COUNTERS_TABLE}') IS NOT NULL").fetchone()
        has_counters = bool(row and row[0])
        ranked = connection.execute(RANKED_COLUMN).fetchone()
    search_statement = search_page(bool(ranked and ranked[0]))

    @app.get("/health/live")
    def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/bare/tasks")
    def default_list() -> Response | tuple[dict[str, str], int]:
        if request.args.get("count") == "counters" and not has_counters:
            return {"error": f"no {COUNTERS_TABLE} table in this database"}, 404
        count = COUNTERS_COUNT if request.args.get("count") == "counters" else EXACT_COUNT
        with pool.connection() as connection:
            rows = connection.execute(DEFAULT_PAGE).fetchall()
            total = connection.execute(count).fetchone()
        return _page(rows, int(total[0]) if total else 0)

    @app.get("/bare/tasks/search")
    def search() -> Response:
        with pool.connection() as connection:
            rows = connection.execute(search_statement).fetchall()
            total = connection.execute(SEARCH_COUNT).fetchone()
        return _page(rows, int(total[0]) if total else 0)

    @app.post("/bare/tasks")
    def create() -> tuple[dict[str, Any], int]:
        """The task, its tags and its audit event in one transaction (the database's triggers keep any counts)."""
        body = request.get_json()
        task_id, now = uuid.uuid4(), datetime.now(UTC)
        with pool.connection() as connection, connection.transaction():
            owner = connection.execute("SELECT id FROM users WHERE email = %s", (body["owner_email"],)).fetchone()
            if owner is None:
                return {"error": "unknown owner"}, 400
            connection.execute(
                "INSERT INTO tasks (id, owner_id, title, description, status, priority, due_date, created_at, "
                "updated_at) VALUES (%s, %s, %s, %s, 'TODO', %s, %s, %s, %s)",
                (task_id, owner[0], body["title"], body.get("description"), body["priority"], body.get("due_date"),
                 now, now),
            )  # fmt: skip
            tags = body.get("tags", [])
            connection.execute(
                "INSERT INTO tags (id, name) SELECT gen_random_uuid(), name FROM unnest(%s::text[]) AS name "
                "ON CONFLICT (name) DO NOTHING",
                (tags,),
            )
            connection.execute(
                "INSERT INTO task_tags (task_id, tag_id, position) SELECT %s, tags.id, array_position(%s::text[], "
                "tags.name) - 1 FROM tags WHERE tags.name = ANY(%s)",
                (task_id, tags, tags),
            )
            connection.execute(
                "INSERT INTO audit_events (id, user_id, event_type, task_id, details, created_at) "
                "VALUES (%s, %s, 'TASK_CREATED', %s, %s, %s)",
                (uuid.uuid4(), owner[0], task_id, Jsonb({"title": body["title"]}), now),
            )
        return {"id": str(task_id), "title": body["title"], "tags": tags, "created_at": now.isoformat()}, 201

    return app
