"""CPU time of the processes that serve a load point: a steadier figure than throughput on a shared machine.

Throughput on 2 shared cores mostly measures how much CPU the other processes leave;
the CPU a request costs its server moves far less. For a gunicorn, that is the user + system time of its master
and its workers, read from /proc/<pid>/stat before and after a load point, over the requests served.

The master's own figure includes the time of the workers it has reaped (cutime + cstime), so a worker that is
replaced during a point (a crash, max_requests) still counts: its time moves from the live workers' sum into the
master's. nginx, PostgreSQL and Redis are not counted, for the product or for the floor.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil  # type: ignore[import-untyped]

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_ticks(pid: int, *, reaped_children: bool) -> int:
    """utime + stime (and cutime + cstime) of one process, in clock ticks; 0 once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    # The command name (field 2) may hold spaces and parentheses: the fields that follow start after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime, stime, cutime, cstime are fields 14-17.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def serving_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by the gunicorn master `pid` and every process under it (its workers)."""
    try:
        children = [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        children = []
    ticks = _stat_ticks(pid, reaped_children=True)
    ticks += sum(_stat_ticks(child, reaped_children=False) for child in children)
    return ticks / TICKS_PER_SECOND
