"""What `make up`/`make test` do when the system lacks a program: install it as root with apt-get, otherwise
stop at once with one line naming the packages. A stand-in apt-get on PATH records what it was asked."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from local import system_packages
from local.system_packages import Program

ROOT = Path(__file__).resolve().parents[2]


def run_without_system_directories(target: str, path: str) -> subprocess.CompletedProcess[str]:
    """The module's main in a child process that looks for programs on `path` alone."""
    code = (
        "import sys; from local import system_packages as packages; packages.SYSTEM_DIRECTORIES = (); "
        f"sys.exit(packages.main([{target!r}]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": path, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def missing_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system_packages, "SYSTEM_DIRECTORIES", ())
    monkeypatch.setattr(Program, "locate", lambda self: None)


def test_a_missing_program_without_root_stops_with_one_line_naming_the_packages(
    missing_everything: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert system_packages.main(["test"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "chromium docker-compose nginx prometheus" in error
    assert "apt-get install -y chromium docker-compose nginx prometheus" in error


def test_skip_variables_leave_their_programs_out(
    missing_everything: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("SKIP_BROWSER", "1")
    monkeypatch.setenv("SKIP_INFRA", "1")
    assert system_packages.main(["test"]) == 1
    assert "needs these system packages: nginx (" in capsys.readouterr().err


def test_as_root_it_asks_apt_get_for_what_is_missing(tmp_path: Path) -> None:
    """The real module in a child process, with PATH holding only a stand-in apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    apt_get = bin_dir / "apt-get"
    # Installs nothing: a second look still finds the programs missing, which must fail loudly too.
    apt_get.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    apt_get.chmod(apt_get.stat().st_mode | stat.S_IEXEC)
    (bin_dir / "sh").symlink_to("/bin/sh")
    result = run_without_system_directories("bench", str(bin_dir))
    if os.geteuid() != 0:
        assert result.returncode == 1 and "needs these system packages: nginx wrk" in result.stderr
        assert not calls.exists()
        return
    recorded = calls.read_text().splitlines()
    assert recorded[0] == "update -qq"
    assert recorded[1].startswith("install -y -qq") and recorded[1].split()[-2:] == ["nginx", "wrk"]
    assert result.returncode == 1
    assert "still missing: nginx wrk" in result.stderr
