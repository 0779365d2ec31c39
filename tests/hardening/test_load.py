"""Concurrent clients create, change and delete tasks through the router, and nothing is lost.

Each client is a user of its own and keeps a ledger of every answer it got: the tasks it created with what
the last successful answer said about them, the updates and the deletions. At the end the tasks table and
the audit trail must say exactly what the ledgers say: no lost or phantom write, no missing or extra event.
Any status other than the documented successes (a 5xx, a 404 for a task the client just created, a 429
on a stack whose limits are far above this load) is a failure.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from local.services import LocalServices
from tasktracker.routes import load_routes
from tests.hardening.scale import scaled
from tests.support.api import Api, SignedInUser, sign_up
from tests.support.stack import RunningStack, function_environment, start_stack

CLIENTS = scaled(8, 32)
DURATION_SECONDS = scaled(12, 60)
STATUSES = ("TODO", "IN_PROGRESS", "DONE", "BLOCKED")
SUCCESS = {"POST": 201, "PATCH": 200, "PUT": 200, "DELETE": 204, "GET": 200}


@pytest.fixture(scope="module")
def load_stack(
    services: LocalServices, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    """Only the functions the load uses, with limits far above it: this measures the product, not the limiter."""
    env = function_environment(
        database_url,
        services.redis_url,
        services.s3_endpoint_url,
        RATE_LIMIT_DEFAULT="1000000/minute",
        RATE_LIMIT_LOGIN="100000/minute",
        RATE_LIMIT_OPS="100000/minute",
    )
    routes = [route for route in load_routes() if route.name in ("auth", "tasks")]
    running = start_stack(env, Path(tmp_path_factory.mktemp("load-stack")), routes=routes)
    yield running
    running.stop()


@dataclass
class Ledger:
    """What one client was told: the live tasks as last acknowledged, and how each task got there."""

    live: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    updates: Counter[str] = field(default_factory=Counter)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, status: int, seconds: float, problem: str | None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[f"{method} {status}"] += 1
            if problem:
                self.failures.append(problem)


def acknowledged(body: dict[str, Any]) -> tuple[str, str, list[str]]:
    return body["title"], body["status"], list(body["tags"])


class Client:
    def __init__(self, number: int, base_url: str, user: SignedInUser, tags: list[str], results: Results):
        self.number = number
        self.base_url = base_url
        self.user = user
        self.tags = tags
        self.results = results
        self.ledger = Ledger()
        self.random = random.Random(number)
        self.session = requests.Session()
        self.writes = 0

    def send(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The answer's body when it is the documented success; otherwise the failure is recorded."""
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {self.user.access_token}"},
                timeout=30,
            )
        except requests.RequestException as error:
            self.results.record(method, 0, time.monotonic() - started, f"{method} {path}: {error!r}")
            return None
        seconds = time.monotonic() - started
        if response.status_code != SUCCESS[method]:
            problem = f"{method} {path} -> {response.status_code}: {response.text[:300]}"
            self.results.record(method, response.status_code, seconds, problem)
            return None
        self.results.record(method, response.status_code, seconds, None)
        parsed: dict[str, Any] = response.json() if response.content else {}
        return parsed

    def check(self, what: str, sent: tuple[str, str, list[str]], answer: tuple[str, str, list[str]]) -> None:
        if sent != answer:
            with self.results.lock:
                self.results.failures.append(f"{what}: sent {sent}, answered {answer}")

    def some_fields(self) -> tuple[str, str, list[str]]:
        self.writes += 1
        title = f"load {self.number}-{self.writes} {uuid.uuid4().hex[:6]}"
        return title, self.random.choice(STATUSES), self.random.sample(self.tags, self.random.randint(0, 3))

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            roll = self.random.random()
            if not self.ledger.live or roll < 0.4:
                self.create()
            elif roll < 0.75:
                self.update(self.random.choice(list(self.ledger.live)), replace=roll < 0.55)
            elif roll < 0.9:
                self.delete(self.random.choice(list(self.ledger.live)))
            else:
                self.read(self.random.choice(list(self.ledger.live)))

    def create(self) -> None:
        title, status, tags = self.some_fields()
        body = self.send("POST", "/api/v1/tasks", {"title": title, "status": status, "tags": tags})
        if body is not None:
            self.check("create", (title, status, tags), acknowledged(body))
            self.ledger.created.add(body["id"])
            self.ledger.live[body["id"]] = acknowledged(body)

    def update(self, task_id: str, *, replace: bool) -> None:
        # A new title every time: each update changes the task, so each one leaves exactly one TASK_UPDATED.
        title, status, tags = self.some_fields()
        if replace:
            sent = (title, status, tags)
            body = self.send("PUT", f"/api/v1/tasks/{task_id}", {"title": title, "status": status, "tags": tags})
        else:
            _, old_status, old_tags = self.ledger.live[task_id]
            changes: dict[str, Any] = {"title": title}
            if self.random.random() < 0.5:
                changes["status"] = status
            if self.random.random() < 0.5:
                changes["tags"] = tags
            sent = (title, changes.get("status", old_status), changes.get("tags", old_tags))
            body = self.send("PATCH", f"/api/v1/tasks/{task_id}", changes)
        if body is not None:
            self.check("update", sent, acknowledged(body))
            self.ledger.live[task_id] = acknowledged(body)
            self.ledger.updates[task_id] += 1

    def delete(self, task_id: str) -> None:
        if self.send("DELETE", f"/api/v1/tasks/{task_id}") is not None:
            del self.ledger.live[task_id]
            self.ledger.deleted.add(task_id)

    def read(self, task_id: str) -> None:
        body = self.send("GET", f"/api/v1/tasks/{task_id}")
        if body is not None:
            self.check("read", self.ledger.live[task_id], acknowledged(body["task"]))


def reconcile(db: psycopg.Connection[Any], clients: list[Client]) -> list[str]:
    """Every difference between what the clients were told and what the database holds."""
    owners = [client.user.id for client in clients]
    live: dict[str, tuple[str, str, list[str]]] = {}
    created: set[str] = set()
    deleted: set[str] = set()
    updates: Counter[str] = Counter()
    for client in clients:
        live.update(client.ledger.live)
        created |= client.ledger.created
        deleted |= client.ledger.deleted
        updates.update(client.ledger.updates)

    tags: dict[str, list[str]] = {
        str(task_id): names
        for task_id, names in db.execute(
            "SELECT task_tags.task_id, array_agg(tags.name ORDER BY task_tags.position) FROM task_tags"
            " JOIN tags ON tags.id = task_tags.tag_id JOIN tasks ON tasks.id = task_tags.task_id"
            " WHERE tasks.owner_id = ANY(%s::uuid[]) GROUP BY task_tags.task_id",
            (owners,),
        ).fetchall()
    }
    stored = {
        str(task_id): (title, status, tags.get(str(task_id), []))
        for task_id, title, status in db.execute(
            "SELECT id, title, status FROM tasks WHERE owner_id = ANY(%s::uuid[])", (owners,)
        ).fetchall()
    }
    mismatches = [
        f"task {task_id}: acknowledged {live.get(task_id)}, stored {stored.get(task_id)}"
        for task_id in sorted(set(live) | set(stored))
        if live.get(task_id) != stored.get(task_id)
    ]

    events: dict[str, Counter[str]] = {}
    for task_id, event_type, count in db.execute(
        "SELECT task_id, event_type, count(*) FROM audit_events"
        " WHERE task_id = ANY(%s::uuid[]) OR (user_id = ANY(%s::uuid[]) AND event_type LIKE 'TASK%%')"
        " GROUP BY task_id, event_type",
        (list(created), owners),
    ).fetchall():
        events.setdefault(str(task_id), Counter())[event_type] = count
    for task_id in sorted(created | set(events)):
        expected = Counter(
            {"TASK_CREATED": 1, "TASK_UPDATED": updates[task_id], "TASK_DELETED": int(task_id in deleted)}
        )
        if task_id not in created:
            expected = Counter()
        if +expected != events.get(task_id, Counter()):
            mismatches.append(f"audit of {task_id}: expected {dict(+expected)}, stored {dict(events.get(task_id, {}))}")
    return mismatches


def test_concurrent_clients_create_update_and_delete_and_the_database_agrees_with_every_answer(
    load_stack: RunningStack, database_url: str
) -> None:
    api = Api(load_stack.base_url)
    run = uuid.uuid4().hex[:6]
    # A few tags shared by every client, new to the database: their first uses race each other.
    shared_tags = [f"load-{run}-{n}" for n in range(6)]
    results = Results()
    clients = [
        Client(number, load_stack.base_url, sign_up(api, f"load{number}"), shared_tags, results)
        for number in range(CLIENTS)
    ]

    started = time.monotonic()
    deadline = started + DURATION_SECONDS
    threads = [
        threading.Thread(target=client.run, args=(deadline,), name=f"load-{client.number}") for client in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DURATION_SECONDS + 120)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "a client never finished"

    with psycopg.connect(database_url, autocommit=True) as db:
        mismatches = reconcile(db, clients)

    requests_sent = len(results.latencies)
    latencies = sorted(results.latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"\n[load] clients={CLIENTS}, duration_s={elapsed:.1f}, requests={requests_sent}, "
        f"rps={requests_sent / elapsed:.0f}, p50_ms={statistics.median(latencies) * 1000:.0f}, "
        f"p99_ms={p99 * 1000:.0f}, statuses={dict(sorted(results.statuses.items()))}, "
        f"tasks_live={sum(len(c.ledger.live) for c in clients)}, "
        f"tasks_deleted={sum(len(c.ledger.deleted) for c in clients)}, "
        f"updates={sum(sum(c.ledger.updates.values()) for c in clients)}, failures={len(results.failures)}, "
        f"mismatches={len(mismatches)}",
        flush=True,
    )
    assert requests_sent > CLIENTS * 10, "the load hardly ran"
    assert results.failures == [], "\n".join(results.failures[:20])
    assert mismatches == [], "\n".join(mismatches[:20])
