"""The storage settler in the real worker, on beat's schedule: it finishes the file changes requests left behind."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Seeder, SettlerBucket, worker_metric
from .processes import CeleryProcess


def test_beat_schedules_the_settler_and_the_worker_keeps_and_deletes_the_files_left_in_the_outbox(
    seed: Seeder,
    settler_bucket: SettlerBucket,
    start_worker: Callable[..., CeleryProcess],
    start_beat: Callable[..., CeleryProcess],
) -> None:
    recorded = settler_bucket.recorded_but_pending(seed)
    deleted = settler_bucket.deleted_but_present()
    schedule = {"STORAGE_SETTLE_INTERVAL_SECONDS": "1", "REMINDER_INTERVAL_SECONDS": "300"}
    worker = start_worker(**schedule)

    beat = start_beat(**schedule)
    summary = worker.wait_for(
        lambda record: record.get("message") == "storage changes settled" and record.get("settled") == 2, timeout=30
    )

    assert settler_bucket.outbox() == []
    assert settler_bucket.tags(recorded) == {}
    assert not settler_bucket.exists(deleted)
    assert (summary["failed"], summary["abandoned"]) == (0, 0)
    assert summary["correlation_id"]
    assert worker_metric(worker, "storage_changes_settled_total") == 2
    assert worker_metric(worker, "storage_changes_failed_total") == 0
    assert any("Sending due task settle-storage-changes" in str(record.get("message")) for record in beat.records())


def test_a_change_younger_than_the_grace_is_left_to_its_request(
    seed: Seeder,
    settler_bucket: SettlerBucket,
    start_worker: Callable[..., CeleryProcess],
    start_beat: Callable[..., CeleryProcess],
) -> None:
    recorded = settler_bucket.recorded_but_pending(seed)
    settler_bucket.db.execute("UPDATE storage_changes SET created_at = now()")
    schedule = {
        "STORAGE_SETTLE_INTERVAL_SECONDS": "1",
        "STORAGE_SETTLE_GRACE_SECONDS": "600",
        "REMINDER_INTERVAL_SECONDS": "300",
        "LOG_LEVEL": "DEBUG",
    }
    worker = start_worker(**schedule)

    start_beat(**schedule)
    worker.wait_for(lambda record: record.get("message") == "storage changes settled", timeout=30)

    assert settler_bucket.outbox() == [(recorded, "keep")]
    assert settler_bucket.tags(recorded) == {"upload": "pending"}
