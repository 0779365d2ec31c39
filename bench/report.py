"""One table on stdout and the same figures as JSON: each figure with its floor, the ratio, the target, met or not."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]


@dataclass
class Figure:
    part: str
    name: str
    value: float | None
    unit: str
    floor: float | None = None
    floor_name: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.floor:
            return None
        return self.value / self.floor


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        shown = figure.note if figure.value is None and figure.note else f"{_number(figure.value)} {figure.unit}"
        print(f"  {figure.part} {figure.name}: {shown}", flush=True)
        return figure

    def table(self) -> str:
        header = ("part", "figure", "value", "floor", "ratio", "target", "met", "note")
        rows = [header]
        for f in self.figures:
            floor = f"{_number(f.floor)} {f.floor_name}".strip() if f.floor is not None or f.floor_name else ""
            ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
            met = {True: "yes", False: "NO", None: ""}[f.met]
            figure = f"{f.name} ({f.unit})" if f.unit else f.name
            value = _number(f.value) if f.value is not None or not f.note else ""
            rows.append((f.part, figure, value, floor, ratio, f.target, met, f.note))
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        figures = [{**asdict(f), "ratio": f.ratio} for f in self.figures]
        path.write_text(json.dumps({"machine": machine(), "figures": figures, "details": self.details}, indent=2))


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
