"""The floor for the HTTP figures: Flask + psycopg + psycopg_pool serving the same SQL without the layers.

No sign-in check, no validation, no use cases, no ORM: a pooled connection, the statements, json. It runs in the
same gunicorn settings and behind the same router as the functions (under /bare/...).

Part 8's signed-in reads (/bare/tasks/mine, /bare/tasks/<id>, /bare/auth/me) do check the bearer token, as cheaply
as it can be done: PyJWT decodes it (HS256 with the functions' JWT_SECRET_KEY, signature and expiry checked, an
access token only). No Redis: the product's session check (is the user active, is the token's session epoch
current) comes from Redis in the rate limit's round trip, and the floor has neither; /bare/auth/me reads the user's
row anyway, so it checks those two there. Their statements are the product's own (bench/queries.py, compared with
what the product compiles by bench/product_sql.py), on a connection in autocommit as the product's reads are.

The unfiltered total is counted the way `?count=` says: `exact` reads the table (SELECT count(*)), `counters`
adds up the rows of task_counts that the product's triggers keep with each write (404 where there are none).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
from flask import Flask, Response, request
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from bench.queries import (
    COUNTERS_COUNT,
    COUNTERS_TABLE,
    DEFAULT_PAGE,
    DEFAULT_PAGE_SIZE,
    EXACT_COUNT,
    OWN_COUNT,
    OWN_PAGE,
    RANKED_COLUMN,
    SEARCH_COUNT,
    TASK_ATTACHMENTS,
    TASK_VIEW,
    USER_BY_ID,
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


# The columns of bench.queries' _VIEW rows (the product's task view): the task, then its owner's email and tags.
VIEW_COLUMNS = (*COLUMNS, "version", "status_rank", "priority_rank")
ATTACHMENT_COLUMNS = ("id", "task_id", "filename", "content_type", "size_bytes", "storage_path", "created_at")
UNAUTHORIZED = ({"code": "AUTHENTICATION_REQUIRED", "message": "A valid bearer access token is required"}, 401)


def _view(row: tuple[Any, ...]) -> dict[str, Any]:
    """A task as the product answers it (TaskSchema): its fields without version and ranks, owner email, tags."""
    task = {name: _json(value) for name, value in zip(VIEW_COLUMNS, row[:12], strict=True)}
    for internal in ("version", "status_rank", "priority_rank"):
        del task[internal]
    return {**task, "owner_email": row[12], "tags": row[13]}


def _claims(secret: str) -> dict[str, Any] | None:
    """The bearer access token's claims, or None: signature (HS256 only) and expiry checked, nothing else read."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        claims: dict[str, Any] = jwt.decode(header[7:], secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    return claims if claims.get("type") == "access" and "sub" in claims else None


def create_app() -> Flask:
    app = Flask(__name__)
    pool = ConnectionPool(os.environ["DATABASE_URL"], min_size=4, max_size=8, open=True)
    # The product's reads run in autocommit (no BEGIN, nothing to end): so do part 8's floors.
    reads = ConnectionPool(os.environ["DATABASE_URL"], min_size=2, max_size=8, open=True, kwargs={"autocommit": True})
    secret = os.environ["JWT_SECRET_KEY"]
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

    @app.get("/bare/tasks/mine")
    def own_first_page() -> Response | tuple[dict[str, str], int]:
        """GET /api/v1/tasks?owner=me: the signed-in user's first page, newest first, and their total."""
        claims = _claims(secret)
        if claims is None:
            return UNAUTHORIZED
        owner = uuid.UUID(claims["sub"])
        with reads.connection() as connection:
            rows = connection.execute(OWN_PAGE, {"owner": owner, "limit": DEFAULT_PAGE_SIZE, "offset": 0}).fetchall()
            # Each row carries the total; a page with no rows has it asked alone, as the product does.
            counted = (rows[0][14],) if rows else connection.execute(OWN_COUNT, {"owner": owner}).fetchone()
            total = counted[0] if counted else 0
        body = {"items": [_view(row) for row in rows], "page": 1, "page_size": DEFAULT_PAGE_SIZE,
                "total": int(total)}  # fmt: skip
        return Response(json.dumps(body), mimetype="application/json")

    @app.get("/bare/tasks/<uuid:task_id>")
    def task_detail(task_id: uuid.UUID) -> Response | tuple[dict[str, str], int]:
        """GET /api/v1/tasks/<id>: the task with its owner's email and tags, and its attachments oldest first."""
        if _claims(secret) is None:
            return UNAUTHORIZED
        with reads.connection() as connection:
            row = connection.execute(TASK_VIEW, {"task": task_id}).fetchone()
            if row is None:
                return {"code": "TASK_NOT_FOUND", "message": "Task not found"}, 404
            files = connection.execute(TASK_ATTACHMENTS, {"task": task_id}).fetchall()
        attachments = [
            {name: _json(value) for name, value in zip(ATTACHMENT_COLUMNS, file, strict=True) if name in
             ("id", "filename", "content_type", "size_bytes", "created_at")}
            for file in files
        ]  # fmt: skip
        body = json.dumps({"task": _view(row), "attachments": attachments})
        return Response(body, mimetype="application/json", headers={"ETag": f'"{row[9]}"'})

    @app.get("/bare/auth/me")
    def me() -> dict[str, Any] | tuple[dict[str, str], int]:
        """GET /api/v1/auth/me: the user's row; refused when inactive or when the token's session epoch is old."""
        claims = _claims(secret)
        if claims is None:
            return UNAUTHORIZED
        with reads.connection() as connection:
            user = connection.execute(USER_BY_ID, {"user": uuid.UUID(claims["sub"])}).fetchone()
        if user is None or not user[4] or claims.get("session_epoch") != user[7]:
            return UNAUTHORIZED
        return {"id": str(user[0]), "email": user[1], "full_name": user[3], "created_at": user[5].isoformat()}

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
