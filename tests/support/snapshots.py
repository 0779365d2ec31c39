"""What the hardening suites compare and check: the whole state (every table, every stored object), tokens made
by hand, the API's documented operations, and no secret ever leaving in a response."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import jwt
import psycopg
import pytest
import redis
import requests
from psycopg import sql

from tasktracker.routes import load_routes
from tests.support.api import Api
from tests.support.stack import TEST_JWT_SECRET

WRITE_METHODS = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Snapshot:
    """A digest of every row of every table and the key and ETag of every object in the bucket."""

    tables: dict[str, str]
    objects: dict[str, str]

    def differences(self, other: Snapshot) -> list[str]:
        changed = [
            f"table {name}"
            for name in sorted(set(self.tables) | set(other.tables))
            if self.tables.get(name) != other.tables.get(name)
        ]
        changed += [
            f"object {key}"
            for key in sorted(set(self.objects) | set(other.objects))
            if self.objects.get(key) != other.objects.get(key)
        ]
        return changed


class Bucket:
    def __init__(self, endpoint_url: str, name: str):
        self.name = name
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def objects(self, prefix: str = "") -> dict[str, str]:
        found: dict[str, str] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = item["ETag"]
        return found

    def unfinished_uploads(self, prefix: str = "") -> list[str]:
        listed = self.client.list_multipart_uploads(Bucket=self.name, Prefix=prefix)
        return [item["Key"] for item in listed.get("Uploads", [])]


def table_names(db: psycopg.Connection) -> list[str]:
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()
    return [row[0] for row in rows]


def take_snapshot(db: psycopg.Connection, bucket: Bucket) -> Snapshot:
    tables = {}
    for name in table_names(db):
        query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t")
        count, digest = db.execute(query.format(sql.Identifier(name))).fetchone() or (0, "")
        tables[name] = f"{count}:{digest}"
    return Snapshot(tables, bucket.objects())


def reset_rate_limits(client: redis.Redis) -> None:
    """Every test comes from one address: windows are emptied where a test needs more than a minute's share."""
    for pattern in ("LIMITS*", "tasktracker*"):
        for key in client.scan_iter(pattern):
            client.delete(key)


def mint_token(
    subject: str,
    *,
    key: str | None = TEST_JWT_SECRET,
    algorithm: str = "HS256",
    expires_in: int = 600,
    token_type: str = "access",
    **claims: Any,
) -> str:
    """An access token made by hand, as an attacker (or a test) would: any key, algorithm, expiry and type."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": subject,
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + expires_in,
        "type": token_type,
        "jti": str(uuid.uuid4()),
        "fresh": False,
        **claims,
    }
    return jwt.encode(payload, key, algorithm=algorithm)


@dataclass(frozen=True)
class Operation:
    function: str
    method: str
    path: str
    signed_in: bool
    document: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def success_status(self) -> int:
        return min(int(code) for code in self.document["responses"] if code.startswith("2"))

    def concrete_path(self, **values: str) -> str:
        """The path with its parameters filled: by name where given, by fresh UUIDs otherwise."""
        return re.sub(r"\{(\w+)\}", lambda match: values.get(match.group(1), str(uuid.uuid4())), self.path)


def documented_operations(api: Api) -> list[Operation]:
    """Every operation every function in the route table documents, read from the functions' own documents."""
    operations = []
    for route in load_routes():
        response = api.get(f"/api/v1/{route.name}/openapi.json")
        assert response.status_code == 200, f"{route.name} publishes no OpenAPI document: {response.status_code}"
        document = response.json()
        default_security = document.get("security", [])
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method not in (*WRITE_METHODS, "get"):
                    continue
                security = operation.get("security", default_security)
                operations.append(Operation(route.name, method, path, bool(security), operation))
    return operations


def write_operations(api: Api) -> list[Operation]:
    return [operation for operation in documented_operations(api) if operation.method in WRITE_METHODS]


_ARGON2 = re.compile(rb"\$argon2(id|i|d)\$")


@dataclass
class SecretWatch:
    """Keeps every response body seen, to show none ever carried a password hash or a stored token hash."""

    bodies: list[tuple[str, bytes]] = field(default_factory=list)

    def record(self, response: requests.Response) -> None:
        headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items()).encode()
        self.bodies.append((f"{response.request.method} {response.url}", headers + b"\n" + response.content))

    def assert_no_secrets(self, db: psycopg.Connection) -> int:
        stored = [row[0] for row in db.execute("SELECT token_hash FROM refresh_tokens").fetchall()]
        stored += [row[0] for row in db.execute("SELECT password_hash FROM users").fetchall()]
        # A webhook's secret is shown once, in the answer that made it, and never again.
        webhook_secrets = [row[0] for row in db.execute("SELECT secret FROM webhooks").fetchall()]
        for where, body in self.bodies:
            assert not _ARGON2.search(body), f"a password hash left in the response to {where}"
            for secret in stored:
                assert secret.encode() not in body, f"a stored hash left in the response to {where}"
            if not where.startswith("POST ") or not where.rstrip("/").endswith("/api/v1/webhooks"):
                for secret in webhook_secrets:
                    assert secret.encode() not in body, f"a webhook's secret left in the response to {where}"
        seen = len(self.bodies)
        self.bodies.clear()
        return seen


class WatchedApi(Api):
    """The test client, with every response handed to a SecretWatch."""

    def __init__(self, base_url: str, watch: SecretWatch):
        super().__init__(base_url)
        self.watch = watch

    def request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        response = super().request(method, path, token=token, **kwargs)
        self.watch.record(response)
        return response


@dataclass
class Figures:
    """The counts a hardening suite prints at its end."""

    title: str
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount

    def line(self) -> str:
        return f"{self.title}: " + ", ".join(f"{value} {name}" for name, value in self.counts.items())


def print_figures(request: pytest.FixtureRequest, figures: Figures) -> Iterator[Figures]:
    """For a module fixture: yields the figures, then writes them, with the module's failed tests, to the output."""
    failed_before = request.session.testsfailed
    yield figures
    figures.counts["failed tests"] = request.session.testsfailed - failed_before
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n{figures.line()}")
