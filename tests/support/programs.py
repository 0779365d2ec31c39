"""The system programs some suites drive, and what happens when one is missing.

`make test` installs them first (local/system_packages.py), so a missing one fails its tests: a skip would
hide a product path. Only the user can ask to leave a suite out, with the variable the program names
(SKIP_BROWSER=1, SKIP_INFRA=1); those tests are then reported as skipped on request.
"""

from __future__ import annotations

import os

import pytest

from local.system_packages import CHROMIUM, COMPOSE, NGINX, PROMTOOL, Program

SYSTEM_PROGRAMS = (NGINX, CHROMIUM, COMPOSE, PROMTOOL)

# The only skips the suite accepts start with this (tests/conftest.py turns any other into a failure).
ON_REQUEST = "on request:"


def require_system_program(program: Program) -> str:
    """The program's path; a failure when it is missing, a skip only when the user asked for one."""
    if program.skipped_by and os.environ.get(program.skipped_by) == "1":
        pytest.skip(f"{ON_REQUEST} {program.skipped_by}=1 leaves out {program.why}")
    path = program.locate()
    if path is None:
        pytest.fail(
            f"{program.command} is not installed ({program.why}): `make test` installs it "
            f"(apt-get install -y {program.package}); set {program.skipped_by or 'nothing: it is required'}"
            f"{'=1 to leave these tests out' if program.skipped_by else ''}",
            pytrace=False,
        )
    return path
