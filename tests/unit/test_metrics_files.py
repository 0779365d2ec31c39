"""Several gunicorn workers share a metrics directory; one that is starting must not break the others."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.mmap_dict import MmapedDict

from tasktracker.platform.metrics import _WorkersFilesCollector


def a_worker_mid_creation(directory: Path) -> None:
    # prometheus_client opens a worker's file empty and sizes it a moment later.
    (directory / "counter_4242.db").touch()


def a_running_worker(directory: Path) -> None:
    MmapedDict(str(directory / "counter_4241.db")).close()


def test_a_file_still_being_created_is_skipped_not_fatal(tmp_path: Path) -> None:
    a_running_worker(tmp_path)
    a_worker_mid_creation(tmp_path)

    with pytest.raises(struct.error):  # what prometheus_client's own collector does with it
        list(multiprocess.MultiProcessCollector(None, path=str(tmp_path)).collect())  # type: ignore[no-untyped-call]
    assert list(_WorkersFilesCollector(None, path=str(tmp_path)).collect()) == []  # type: ignore[no-untyped-call]


def test_registering_the_collector_reads_no_file(tmp_path: Path) -> None:
    a_worker_mid_creation(tmp_path)
    registry = CollectorRegistry(auto_describe=False)

    _WorkersFilesCollector(registry, path=str(tmp_path))  # type: ignore[no-untyped-call]
