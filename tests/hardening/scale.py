"""How hard the hardening suites push: `make test` runs a scale that fits its time, `make harden` the long runs."""

from __future__ import annotations

import os

LONG = os.environ.get("HARDEN") == "long"


def scaled(short: int, long: int) -> int:
    """`short` inside `make test`, `long` under `make harden` (HARDEN=long)."""
    return long if LONG else short
