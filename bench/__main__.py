"""`make bench`: seeds its own data, drives the real stack through the router, prints one table and a JSON file.

Every figure is set against a floor measured in the same run (absolute times on a shared machine drift).
Settings (environment): BENCH_SECONDS per load point (5), BENCH_SIZES for the growth steps
(10000,100000,1000000), BENCH_ATTACHMENT_MB for the attachment sizes (256,1024), BENCH_PARTS to run only some
parts (list,reads,writes,attachments,coldstart,reminders,lambda,delivery; growth is part of list), BENCH_REPEAT
to run every compared load point that many times, alternating product and floor, and report medians (1),
BENCH_PROFILE=1 to record a py-spy profile of the tasks function under the default list's load, DATABASE_URL to
use another PostgreSQL server, BENCH_KEEP_DATABASE=1 to keep the seeded database afterwards.

Every wrk point also measures the CPU its server spent per request (the gunicorn master and workers, bench/cpu.py),
for the product and for the bare handler alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psycopg
import requests

from bench import attachments, coldstart, lambda_coldstart, product_sql, seed
from bench.load import REPEAT, Point, alternate, pgbench, require_wrk, wrk
from bench.queries import (
    BUSIEST_OWNER,
    COUNTERS_COUNT,
    DEFAULT_PAGE,
    DEFAULT_PAGE_SIZE,
    DEFAULT_PATH,
    EXACT_COUNT,
    LIST_PATH,
    ME_PATH,
    OWN_COUNT,
    OWN_PAGE,
    OWN_PAGE_PATH,
    RANKED_COLUMN,
    SEARCH_COUNT,
    TASK_ATTACHMENTS,
    TASK_PATH,
    TASK_VIEW,
    USER_BY_ID,
    search_page,
)
from bench.report import Figure, Report
from bench.services import BENCH, PASSWORD, Services, backing_services, bench_environment, running_stack, sign_in
from local.stack import RunningStack
from tasktracker.adapters.sqlalchemy.migrate import upgrade

RESULTS = BENCH / "results" / "latest.json"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
WARM_LOAD_SECONDS = 1.0
SIZES = [int(size) for size in os.environ.get("BENCH_SIZES", "10000,100000,1000000").split(",")]
ATTACHMENT_MB = [int(mb) for mb in os.environ.get("BENCH_ATTACHMENT_MB", "256,1024").split(",")]
PARTS = set(
    os.environ.get("BENCH_PARTS", "list,reads,writes,attachments,coldstart,reminders,lambda,delivery").split(",")
)
CONCURRENCIES = (1, 8, 32)
GROWTH_CONCURRENCY = 8
READS_CONCURRENCY = 8
# How many tasks are seeded so far (parts 1 and 8 both need the largest size; whichever runs first seeds).
SEEDED = {"tasks": 0}


def say(text: str) -> None:
    print(text, flush=True)


def warm(url: str, token: str | None) -> None:
    """A few requests first: pools connect, caches fill, and a broken endpoint fails the run loudly."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for _ in range(3):
        answer = requests.get(url, headers=headers, timeout=120)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {url} answered {answer.status_code}: {answer.text[:300]}")


def point(url: str, concurrency: int, token: str | None = None, serving: int | None = None) -> Point:
    """Warmed, then one wrk point; `serving` is the gunicorn master whose CPU per request is measured.

    The warm-up ends with a second of the same load, not counted: a few requests one after another leave a pool
    with one connection, so the point itself opened the rest (and each new PostgreSQL backend filled its caches)
    and its p99 measured the start rather than the steady state (a run's first points read p99 at 4 to 6 times
    p50, the same request later in the run 2 to 3)."""
    warm(url, token)
    wrk(url, concurrency=concurrency, seconds=WARM_LOAD_SECONDS, token=token)
    return wrk(url, concurrency=concurrency, seconds=SECONDS, token=token, serving=serving)


def measure(url: str, concurrency: int, token: str | None = None, serving: int | None = None) -> Callable[[], Point]:
    """A point to take later, for `alternate` (BENCH_REPEAT rounds, product and floor in turn)."""
    return partial(point, url, concurrency, token, serving)


def served_by(stack: RunningStack, name: str) -> int:
    """The pid of the gunicorn master of one function (or of the bare handler, "bare")."""
    return stack.processes[name].pid


def cpu_figure(part: str, ours: Point, floor: Point | None, floor_name: str) -> Figure:
    """CPU milliseconds the serving gunicorn spent per request, against the floor's (lower is better)."""
    return Figure(part, "CPU per request", ours.cpu_ms_per_request, "ms", floor.cpu_ms_per_request if floor else None,
                  floor_name if floor else "")  # fmt: skip


def explain(
    database_url: str, statements: dict[str, str], params: dict[str, dict[str, object]] | None = None
) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of each statement; `params` binds a statement's parameters (client-side, into its text)."""
    with psycopg.connect(database_url) as connection:
        cursor = psycopg.ClientCursor(connection)
        plans = {}
        for name, sql in statements.items():
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", (params or {}).get(name))
            plans[name] = [row[0] for row in cursor.fetchall()]
        return plans


def grow_to(report: Report, services: Services, size: int) -> None:
    """Seeds tasks up to `size` (no-op when there are as many already)."""
    if size <= SEEDED["tasks"]:
        return
    seconds = seed.grow_tasks(services.database_url, SEEDED["tasks"] + 1, size)
    say(f"seeded tasks {SEEDED['tasks'] + 1:,}..{size:,} in {seconds:.1f} s")
    report.details.setdefault("seed_seconds", {})[size] = seconds
    SEEDED["tasks"] = size


def list_and_growth(report: Report, services: Services, stack: RunningStack, bare: RunningStack, token: str) -> None:
    base, bare_url = stack.base_url, bare.base_url
    tasks, floor = served_by(stack, "tasks"), served_by(bare, "bare")
    with psycopg.connect(services.database_url) as connection:
        found = connection.execute(RANKED_COLUMN).fetchone()
        has_counters = seed.counters_exist(connection)
    search_sql = [search_page(bool(found and found[0])), SEARCH_COUNT]
    growth: dict[int, dict[str, Point]] = {}
    for size in SIZES:
        grow_to(report, services, size)
        search, default = alternate(
            measure(base + LIST_PATH, GROWTH_CONCURRENCY, token, tasks),
            measure(base + DEFAULT_PATH, GROWTH_CONCURRENCY, token, tasks),
        )
        growth[size] = {"search": search, "default": default}
        for name, figures in growth[size].items():
            say(f"  {size:>9,} tasks, {name} list, c={GROWTH_CONCURRENCY}: {figures.rps:.1f} req/s")
    report.details["growth"] = {size: {k: p.as_dict() for k, p in pts.items()} for size, pts in growth.items()}
    report.details["explain"] = explain(
        services.database_url,
        {"search page": search_sql[0], "search total": SEARCH_COUNT, "default page": DEFAULT_PAGE,
         "default total": COUNTERS_COUNT if has_counters else EXACT_COUNT},
    )  # fmt: skip

    # Part 1 at the largest size.
    largest = SIZES[-1]
    for concurrency in CONCURRENCIES:
        product = measure(base + LIST_PATH, concurrency, token, tasks)
        floors = (
            measure(f"{bare_url}/bare/tasks/search", concurrency, serving=floor),
            partial(pgbench, services.database_url, search_sql, concurrency=concurrency, seconds=SECONDS),
        )
        if concurrency == GROWTH_CONCURRENCY and REPEAT == 1:
            # One round: the growth step's point at this size is this one (no need to load it twice).
            ours = growth[largest]["search"]
            bare_point, sql = alternate(*floors)
        else:
            ours, bare_point, sql = alternate(product, *floors)
        report.details.setdefault("list", {})[concurrency] = {
            "product": ours.as_dict(), "bare": bare_point.as_dict(), "pgbench": sql.as_dict()
        }  # fmt: skip
        part = f"1 list c={concurrency}"
        ratio = ours.rps / bare_point.rps
        report.add(Figure(part, "throughput", ours.rps, "req/s", bare_point.rps, "bare", ">= 0.5 x bare", ratio >= 0.5))
        report.add(Figure(part, "vs pgbench", ours.rps, "req/s", sql.rps, "pgbench"))
        report.add(Figure(part, "p50", ours.p50_ms, "ms", bare_point.p50_ms, "bare"))
        report.add(
            Figure(part, "p99", ours.p99_ms, "ms", ours.p50_ms, "own p50", "< 4 x p50", ours.p99_ms < 4 * ours.p50_ms)
        )
        report.add(cpu_figure(part, ours, bare_point, "bare"))
        if ours.errors:
            report.add(Figure(part, "errors", ours.errors, "req", note="non-2xx or socket errors"))

    default_floors = [measure(f"{bare_url}/bare/tasks?count=exact", GROWTH_CONCURRENCY, serving=floor)]
    if has_counters:
        default_floors.append(measure(f"{bare_url}/bare/tasks?count=counters", GROWTH_CONCURRENCY, serving=floor))
    if REPEAT == 1:
        ours = growth[largest]["default"]
        found_floors = alternate(*default_floors)
    else:
        ours, *found_floors = alternate(measure(base + DEFAULT_PATH, GROWTH_CONCURRENCY, token, tasks), *default_floors)
    exact, counted = found_floors[0], (found_floors[1] if has_counters else None)
    part = f"1 default list {largest:,}"
    report.add(
        Figure(part, "vs count(*)", ours.rps, "req/s", exact.rps, "bare count(*)", ">= 5 x", ours.rps >= 5 * exact.rps)
    )
    report.add(
        Figure(
            part, "vs counters", ours.rps if counted else None, "req/s", counted.rps if counted else None,
            "bare counters", ">= 0.5 x", (ours.rps >= 0.5 * counted.rps) if counted else None,
            note="" if counted else "no task_counts table in this schema",
        )
    )  # fmt: skip
    # The bare handler's Python is the same whichever way it counts (the count is the database's CPU, not
    # gunicorn's): the counters' floor where there is one.
    report.add(cpu_figure(part, ours, counted or exact, "bare counters" if counted else "bare count(*)"))
    report.details["default_list"] = {
        "product": ours.as_dict(),
        "bare_exact": exact.as_dict(),
        "bare_counters": counted.as_dict() if counted else None,
    }

    first = SIZES[0]
    for name in ("search", "default"):
        small, large = growth[first][name].rps, growth[largest][name].rps
        report.add(
            Figure(f"3 growth {name}", f"{first:,}->{largest:,}", large, "req/s", small, f"at {first:,}",
                   ">= 0.5 x", large >= 0.5 * small)
        )  # fmt: skip
        report.add(cpu_figure(f"3 growth {name}", growth[largest][name], growth[first][name], f"at {first:,}"))
    if os.environ.get("BENCH_PROFILE"):
        profile(stack, base + DEFAULT_PATH, token)


def profile(stack: RunningStack, url: str, token: str) -> None:
    """py-spy on the tasks function's gunicorn (its master and every worker, `--subprocesses`) while wrk loads it:
    collapsed stacks in bench/results/. Says why when it wrote none: bench/results/ did not exist yet (it is made
    when latest.json is written, at the end), so py-spy failed to open its output, and its error went to
    /dev/null while the run announced a file."""
    out = BENCH / "results" / "profile-tasks.txt"
    spy_program = Path(sys.executable).parent / "py-spy"
    if not spy_program.exists():
        say(f"profile: no file: py-spy is not installed at {spy_program} (it is in requirements-dev.txt)")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    spy = subprocess.Popen(
        [str(spy_program), "record", "--pid", str(stack.processes["tasks"].pid), "--subprocesses", "--format", "raw",
         "--duration", str(int(SECONDS) + 2), "--rate", "200", "--output", str(out), "--nonblocking"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(1)
    wrk(url, concurrency=GROWTH_CONCURRENCY, seconds=SECONDS, token=token)
    try:
        output, _ = spy.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        output, _ = spy.communicate()
    say(profile_outcome(out, spy.returncode, output))


def profile_outcome(out: Path, returncode: int | None, output: str) -> str:
    """What the run says about its profile: where the file is, or exactly why there is none."""
    if returncode == 0 and out.exists() and out.stat().st_size > 0:
        return f"profile (collapsed stacks) in {out}"
    said = " ".join(line.strip() for line in output.splitlines() if line.strip() and not line.startswith("   "))
    if returncode != 0:
        why = f"py-spy exited with {returncode}: {said[-600:]}"
        if "permission" in said.lower() or "ptrace" in said.lower():
            why += " (py-spy needs ptrace: run as root or with CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=0)"
        return f"profile: no file: {why}"
    if not out.exists():
        return f"profile: no file: py-spy exited 0 but wrote nothing at {out}: {said[-600:]}"
    return f"profile: {out} is empty (no samples: was the tasks function idle?): {said[-600:]}"


def log_in(base_url: str, email: str) -> str:
    answer = requests.post(f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def reads_setup(services: Services, stack: RunningStack, email: str) -> tuple[str, str, dict[str, object]]:
    """The busiest seeded owner signed in through the real API, and a task of theirs with tags and attachments.

    Seeded users have no usable password: the busiest one is given the bench user's (`email`'s) password hash,
    then signs in with /auth/login like anyone. The task is made through the API (three tags) and given two small
    files through the attachments function, so GET /tasks/<id> reads a task with tags and attachments.
    Returns the token, the task's id and what the part's JSON says about them."""
    with psycopg.connect(services.database_url) as connection:
        owner = connection.execute(BUSIEST_OWNER).fetchone()
        if owner is None:
            raise RuntimeError("no seeded task has an owner")
        owned = connection.execute(OWN_COUNT, {"owner": owner[0]}).fetchone()
        connection.execute(
            "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE email = %s) WHERE id = %s",
            (email, owner[0]),
        )
    token = log_in(stack.base_url, owner[1])
    headers = {"Authorization": f"Bearer {token}"}
    created = requests.post(
        f"{stack.base_url}/api/v1/tasks",
        json={"title": "bench read", "description": "read by part 8", "priority": "HIGH",
              "tags": ["bench", "work", "docs"]},
        headers=headers, timeout=60,
    )  # fmt: skip
    created.raise_for_status()
    task_id: str = created.json()["id"]
    for name in ("notes.txt", "plan.txt"):
        uploaded = requests.post(
            f"{stack.base_url}/api/v1/tasks/{task_id}/attachments",
            files={"file": (name, b"part 8 " * 1000, "text/plain")},
            headers=headers, timeout=60,
        )  # fmt: skip
        if uploaded.status_code != 201:
            raise RuntimeError(f"upload answered {uploaded.status_code}: {uploaded.text[:300]}")
    return token, task_id, {"user": str(owner[0]), "owned_tasks": int(owned[0]) + 1 if owned else 1, "task": task_id}


def same_answers(product: requests.Response, floor: requests.Response, kind: str) -> str:
    """Empty when the floor answers what the product does (the same tasks, total, tags, attachments, user), else
    how they differ: a check that the floor does the same work, not only the same SQL."""

    def essence(body: dict[str, object]) -> object:
        if kind == "own page":
            items = body["items"]
            assert isinstance(items, list)
            return [(item["id"], item["tags"], item["owner_email"]) for item in items], body["total"]
        if kind == "task":
            task, files = body["task"], body["attachments"]
            assert isinstance(task, dict) and isinstance(files, list)
            return task["id"], task["tags"], task["owner_email"], [file["id"] for file in files]
        return body["id"], body["email"], body["full_name"]

    if product.status_code != 200 or floor.status_code != 200:
        return f"{kind}: product answered {product.status_code}, floor {floor.status_code}"
    ours, theirs = essence(product.json()), essence(floor.json())
    return "" if ours == theirs else f"{kind}: product {str(ours)[:150]}, floor {str(theirs)[:150]}"


def signed_in_reads(report: Report, services: Services, stack: RunningStack, bare: RunningStack, email: str) -> None:
    """Part 8: one user's own first page, one task with its attachments and tags, and /auth/me, at c=8 each,
    against the bare handler sending the same statements (after a cheap JWT check, without Redis)."""
    largest = SIZES[-1]
    grow_to(report, services, largest)
    differ = product_sql.differences()
    said = "; ".join(differ)[:300] if differ else "every statement, compiled from its repositories"
    report.add(Figure("8 reads", "same SQL as the product", None, "", met=not differ, note=said))
    token, task_id, setup = reads_setup(services, stack, email)
    requests_ = {
        "own page": ("8 own first page", OWN_PAGE_PATH, "/bare/tasks/mine", "tasks"),
        "task": ("8 task with files", TASK_PATH.format(task_id=task_id), f"/bare/tasks/{task_id}", "tasks"),
        "me": ("8 auth me", ME_PATH, "/bare/auth/me", "auth"),
    }
    headers = {"Authorization": f"Bearer {token}"}
    mismatches = [
        same_answers(
            requests.get(stack.base_url + path, headers=headers, timeout=60),
            requests.get(bare.base_url + bare_path, headers=headers, timeout=60),
            kind,
        )
        for kind, (_, path, bare_path, _) in requests_.items()
    ]
    mismatches = [found for found in mismatches if found]
    said = "; ".join(mismatches)[:300] if mismatches else "tasks, total, tags, files, user"
    report.add(Figure("8 reads", "same answers as the product", None, "", met=not mismatches, note=said))
    details: dict[str, object] = {**setup, "size": largest, "concurrency": READS_CONCURRENCY, "sql_differs": differ,
                                  "answers_differ": mismatches}  # fmt: skip
    floor = served_by(bare, "bare")
    for kind, (label, path, bare_path, function) in requests_.items():
        ours, bare_point = alternate(
            measure(stack.base_url + path, READS_CONCURRENCY, token, served_by(stack, function)),
            measure(bare.base_url + bare_path, READS_CONCURRENCY, token, floor),
        )
        details[kind] = {"path": path, "product": ours.as_dict(), "bare": bare_point.as_dict()}
        part = f"{label} c={READS_CONCURRENCY}"
        report.add(Figure(part, "throughput", ours.rps, "req/s", bare_point.rps, "bare", ">= 0.5 x bare",
                          ours.rps >= 0.5 * bare_point.rps))  # fmt: skip
        report.add(Figure(part, "p50", ours.p50_ms, "ms", bare_point.p50_ms, "bare"))
        report.add(Figure(part, "p99", ours.p99_ms, "ms", ours.p50_ms, "own p50", "< 3 x p50",
                          ours.p99_ms < 3 * ours.p50_ms))  # fmt: skip
        report.add(cpu_figure(part, ours, bare_point, "bare"))
        if ours.errors or bare_point.errors:
            report.add(Figure(part, "errors", ours.errors, "req", bare_point.errors, "bare",
                              note="non-2xx or socket errors"))  # fmt: skip
    report.details["reads"] = details
    params = {"owner": setup["user"], "task": task_id, "user": setup["user"], "limit": DEFAULT_PAGE_SIZE, "offset": 0}
    report.details["explain_reads"] = explain(
        services.database_url,
        {"own page": OWN_PAGE, "own total": OWN_COUNT, "task": TASK_VIEW, "task files": TASK_ATTACHMENTS,
         "me": USER_BY_ID},
        {name: params for name in ("own page", "own total", "task", "task files", "me")},
    )  # fmt: skip


def writes(report: Report, services: Services, stack: RunningStack, bare: RunningStack, token: str, email: str) -> None:
    bare_url = bare.base_url
    title = f"bench write {time.time_ns()}"
    task = {"title": title, "description": "written by the benchmark", "priority": "HIGH", "tags": ["bench", "work"]}
    bare_body = {**task, "title": title + " bare", "owner_email": email}

    def rows(pattern: str) -> tuple[int, int]:
        with psycopg.connect(services.database_url) as connection:
            found = connection.execute(
                "SELECT count(*), count(audit_events.id) FROM tasks LEFT JOIN audit_events"
                " ON audit_events.task_id = tasks.id AND audit_events.event_type = 'TASK_CREATED'"
                " WHERE tasks.title = %s",
                (pattern,),
            ).fetchone()
        return (int(found[0]), int(found[1])) if found else (0, 0)

    ours, bare_point = alternate(
        partial(wrk, f"{stack.base_url}/api/v1/tasks", concurrency=8, seconds=SECONDS, token=token,
                post=json.dumps(task), serving=served_by(stack, "tasks")),
        partial(wrk, f"{bare_url}/bare/tasks", concurrency=8, seconds=SECONDS, post=json.dumps(bare_body),
                serving=served_by(bare, "bare")),
    )  # fmt: skip
    # wrk drops the requests still in flight when its time is up (they may well commit), so the rows are checked
    # against the 201s with a client that waits for every answer: a fixed number of requests, 8 at a time.
    checked = f"{title} checked"
    answers = send_all(f"{stack.base_url}/api/v1/tasks", {**task, "title": checked}, token, count=400)
    tasks_written, audited = rows(checked)
    report.details["writes"] = {
        "product": ours.as_dict(), "bare": bare_point.as_dict(), "checked_requests": 400, "checked_201s": answers,
        "checked_rows": tasks_written, "checked_audit_events": audited,
    }  # fmt: skip
    report.add(Figure("2 writes c=8", "throughput", ours.rps, "req/s", bare_point.rps, "bare"))
    report.add(Figure("2 writes c=8", "p99", ours.p99_ms, "ms", bare_point.p99_ms, "bare"))
    report.add(cpu_figure("2 writes c=8", ours, bare_point, "bare"))
    report.add(
        Figure("2 writes c=8", "rows = 201s", tasks_written, "rows", answers, "201s", "equal",
               tasks_written == answers == audited, note=f"{audited} audit events, of 400 requests")
    )  # fmt: skip


def send_all(url: str, body: dict[str, object], token: str, count: int) -> int:
    """`count` POSTs, 8 at a time, every answer awaited; returns how many were 201."""
    from concurrent.futures import ThreadPoolExecutor

    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}

    def post(_: int) -> int:
        return session.post(url, json=body, headers=headers, timeout=120).status_code

    with ThreadPoolExecutor(8) as pool:
        return sum(status == 201 for status in pool.map(post, range(count)))


def attachment_transfers(report: Report, services: Services, stack: RunningStack, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    task = requests.post(f"{stack.base_url}/api/v1/tasks", json={"title": "bench files"}, headers=headers, timeout=60)
    task.raise_for_status()
    pid = stack.processes["attachments"].pid
    peaks = {}
    for mb in ATTACHMENT_MB:
        size = mb * 2**20
        ours = attachments.through_router(stack.base_url, token, task.json()["id"], size, pid)
        direct = attachments.direct_boto3(services.s3_endpoint_url, "tasktracker-bench", size)
        report.details.setdefault("attachments", {})[mb] = {
            "router": {k: vars(v) for k, v in ours.items()}, "boto3": {k: vars(v) for k, v in direct.items()}
        }  # fmt: skip
        for way in ("upload", "download"):
            ratio = ours[way].mb_per_s / direct[way].mb_per_s
            report.add(
                Figure(f"4 {mb} MiB {way}", "speed", ours[way].mb_per_s, "MB/s", direct[way].mb_per_s, "boto3",
                       ">= 0.7 x", ratio >= 0.7, note=f"{ours[way].seconds:.1f} s")
            )  # fmt: skip
            peak = ours[way].peak_over_idle_mib or 0.0
            peaks[(mb, way)] = peak
            report.add(Figure(f"4 {mb} MiB {way}", "peak memory", peak, "MiB over idle", None, "", "< 100", peak < 100))
    if len(ATTACHMENT_MB) > 1:
        small, large = min(ATTACHMENT_MB), max(ATTACHMENT_MB)
        for way in ("upload", "download"):
            growth = peaks[(large, way)] - peaks[(small, way)]
            report.add(
                Figure(f"4 {way} memory", f"{small}->{large} MiB", peaks[(large, way)], "MiB", peaks[(small, way)],
                       f"at {small} MiB", "flat (+< 25 MiB)", growth < 25)
            )  # fmt: skip


def cold_starts(report: Report, env: dict[str, str]) -> None:
    figures = coldstart.measure(env)
    report.details["cold_start"] = figures
    bare = figures.pop("bare flask")
    for name, found in figures.items():
        for key, label in (("first_answer_s", "start to first 200"), ("import_s", "import")):
            value, floor = float(found[key]), float(bare[key])  # type: ignore[arg-type]
            report.add(Figure(f"5 cold start {name}", label, value, "s", floor, "bare Flask", "<= 2 x",
                              value <= 2 * floor))  # fmt: skip
        report.add(
            Figure(f"5 cold start {name}", "does not load", None, "", note=", ".join(found["avoids"]) or "-")  # type: ignore[arg-type]
        )


def lambda_cold_starts(report: Report, stack: RunningStack, env: dict[str, str], token: str) -> None:
    """The built functions (make lambda-build) in fresh emulated Lambda environments against a bare function."""
    task = requests.post(
        f"{stack.base_url}/api/v1/tasks",
        json={"title": "Cold"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    task.raise_for_status()
    figures = lambda_coldstart.measure_all(env, token, task.json()["id"], BENCH / "results" / "lambda-logs")
    say(lambda_coldstart.table(figures))
    report.details["lambda_cold_start"] = {name: vars(figure) for name, figure in figures.items()}
    bare = figures.pop(lambda_coldstart.BARE)
    for name, figure in figures.items():
        report.add(Figure(f"7 lambda cold start {name}", "first answer", figure.first_ms, "ms", bare.first_ms,
                          "bare Flask+apig-wsgi", "<= 2 x", figure.first_ms <= 2 * bare.first_ms,
                          note=f"INIT {figure.init_ms} ms, warm {figure.warm_ms:.1f} ms"))  # fmt: skip


def reminders(report: Report, services: Services) -> None:
    tasks, due = SIZES[-1], SIZES[-1] // 10
    env = {**os.environ, "DATABASE_URL": services.server_url}
    done = subprocess.run(
        [sys.executable, "-m", "bench.reminders_pass", "--json", "--tasks", str(tasks), "--due", str(due)],
        capture_output=True, text=True, env=env, check=True, timeout=1800,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    report.details["reminders"] = figures
    rate, floor = figures["reminders_per_s"], figures["floor_reminders_per_s"]
    part = f"6 reminders {tasks:,}/{due:,} due"
    report.add(Figure(part, "rate", rate, "reminders/s", floor, "INSERT ... SELECT", ">= 0.8 x", rate >= 0.8 * floor))
    report.add(Figure(part, "peak memory", figures["peak_rss_mib"], "MiB RSS", note=f"+{figures['rss_growth_mib']:.0f}"
                      " MiB during the pass"))  # fmt: skip


def delivery(report: Report, services: Services) -> None:
    env = {**os.environ, "DATABASE_URL": services.server_url}
    done = subprocess.run(
        [sys.executable, "-m", "bench.outbox_delivery", "--json"],
        capture_output=True, text=True, env=env, check=True, timeout=1800,
    )  # fmt: skip
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    report.details["delivery"] = figures
    part = f"9 delivery {figures['webhooks']:,} webhooks + {figures['emails']:,} e-mails"
    rate, floor = figures["deliveries_per_s"], figures["floor_deliveries_per_s"]
    report.add(
        Figure(part, "rate", rate, "deliveries/s", floor, "same sends, no outbox", ">= 0.5 x", rate >= 0.5 * floor)
    )
    note = f"p95 {figures['latency_p95_s']:.3f} s; the pass, then the delivery run it starts, as in the worker"
    latency = figures["latency_p50_s"]
    report.add(Figure(f"9 delivery {figures['due']} due soon", "to delivered p50", latency, "s", note=note))


def run_part(report: Report, part: str, run: Callable[[], None]) -> None:
    """A part that fails is reported as failed, and the other parts still run."""
    try:
        run()
    except Exception as error:  # noqa: BLE001 - any failure becomes a line of the report
        traceback.print_exc()
        report.add(Figure(part, "FAILED", None, "", met=False, note=f"{type(error).__name__}: {error}"[:200]))


def main() -> None:
    require_wrk()
    started = time.perf_counter()
    report = Report()
    max_upload = max(ATTACHMENT_MB) * 2**20 + 1
    with backing_services() as services:
        say(f"PostgreSQL {services.server_url} (database tasktracker_bench), S3 {services.s3_endpoint_url}")
        upgrade(services.database_url)
        seed.seed_users(services.database_url)
        env = bench_environment(services, max_upload)
        with running_stack(env) as (stack, bare):
            say(f"stack up behind nginx at {stack.base_url}, bare handler at {bare.base_url}")
            email = f"bench-{time.time_ns()}@example.com"
            token = sign_in(stack.base_url, email)
            if "list" in PARTS:
                run_part(report, "1+3 list", lambda: list_and_growth(report, services, stack, bare, token))
            if "reads" in PARTS:
                run_part(report, "8 reads", lambda: signed_in_reads(report, services, stack, bare, email))
            if "writes" in PARTS:
                run_part(report, "2 writes", lambda: writes(report, services, stack, bare, token, email))
            if "attachments" in PARTS:
                run_part(report, "4 attachments", lambda: attachment_transfers(report, services, stack, token))
            if "lambda" in PARTS:
                run_part(report, "7 lambda cold start", lambda: lambda_cold_starts(report, stack, env, token))
        if "coldstart" in PARTS:
            run_part(report, "5 cold start", lambda: cold_starts(report, env))
        if "reminders" in PARTS:
            run_part(report, "6 reminders", lambda: reminders(report, services))
        if "delivery" in PARTS:
            run_part(report, "9 delivery", lambda: delivery(report, services))
    report.details["seconds"] = time.perf_counter() - started
    report.details["settings"] = {
        "seconds_per_point": SECONDS, "sizes": SIZES, "attachment_mb": ATTACHMENT_MB, "repeat": REPEAT,
        "parts": sorted(PARTS),
    }  # fmt: skip
    report.write_json(RESULTS)
    say("")
    say(report.table())
    say(f"\n{len(report.figures)} figures in {report.details['seconds']:.0f} s; JSON: {RESULTS}")


if __name__ == "__main__":
    main()
