"""The storage outbox: the bucket follows the attachment rows, never the other way round.

A transaction that records an upload or deletes attachments writes, with its rows, one StorageChange per
object: 'keep' (the object loses its pending tag) or 'discard' (the object is deleted). Storage is changed
only after the commit: the request carries its changes out at once and removes them, and whatever it could
not carry out (its process died, storage refused) stays in the outbox for the settler, which runs every
minute. So an object is kept only once its row is committed, and the object of a deleted row always goes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from time import perf_counter
from typing import Any
from uuid import UUID

from tasktracker.domain.entities import new_id

from .context import new_correlation_id, set_correlation_id
from .ports import Clock, FileStorage, StorageAction, StorageChange, UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)

# What a change keeps of the error that stopped it: enough to act on.
MAX_ERROR_LENGTH = 500
# At most this many keys in one log line.
LOGGED_KEYS = 20


def new_change(storage_key: str, action: StorageAction, now: datetime) -> StorageChange:
    return StorageChange(id=new_id(), storage_key=storage_key, action=action, created_at=now)


def describe(error: BaseException) -> str:
    text = str(error).strip()
    described = f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
    return described[:MAX_ERROR_LENGTH]


def forget(uow: UnitOfWorkFactory, changes: Collection[StorageChange]) -> None:
    """Removes changes that storage has carried out. If that fails they stay, and the settler, doing them again,
    finds them done."""
    if not changes:
        return
    try:
        with uow() as unit:
            unit.storage_changes.remove([change.id for change in changes])
            unit.commit()
    except Exception:
        logger.warning(
            "storage changes already carried out are left to the settler",
            exc_info=True,
            extra={"storage_keys": [change.storage_key for change in changes][:LOGGED_KEYS]},
        )


def discard_now(uow: UnitOfWorkFactory, storage: Callable[[], FileStorage], changes: Collection[StorageChange]) -> None:
    """Right after the commit that deleted their rows: delete the objects, and remove the changes of those that
    are gone. Never raises: the rows are deleted whatever storage says, and what it refused stays for the settler.
    """
    keys = [change.storage_key for change in changes]
    if not keys:
        return
    try:
        refused = storage().delete_many(keys)
    except Exception:
        logger.warning(
            "the files of deleted attachments are left to the settler",
            exc_info=True,
            extra={"storage_keys": keys[:LOGGED_KEYS]},
        )
        return
    if refused:
        logger.warning(
            "storage refused to delete files of deleted attachments; they are left to the settler",
            extra={"refused": dict(list(refused.items())[:LOGGED_KEYS]), "refused_count": len(refused)},
        )
    forget(uow, [change for change in changes if change.storage_key not in refused])


@dataclass(frozen=True)
class StorageSettlement:
    """settled: carried out (or found moot) and removed; failed: tried and still waiting; abandoned: discards
    given up on and left pending, so that storage expires their objects."""

    settled: int = 0
    failed: int = 0
    abandoned: int = 0

    def __add__(self, other: StorageSettlement) -> StorageSettlement:
        return StorageSettlement(
            self.settled + other.settled, self.failed + other.failed, self.abandoned + other.abandoned
        )


@dataclass(frozen=True)
class StorageSettlementReport:
    """What one settler run did, for the worker's logs and metrics, the Lambda's answer and the CLI."""

    correlation_id: str
    settled: int
    failed: int
    abandoned: int
    duration_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SettleStorageChanges:
    """Carries out the changes their requests left behind.

    Only changes older than `grace_seconds` are taken, so that the settler does not race the request that is
    still carrying out its own. A 'keep' whose row is gone is dropped (the delete that removed the row wrote a
    'discard' of its own); a 'discard' is done once the object is gone. A change that fails is tried again by
    the next run; a 'discard' that failed `max_attempts` times is tagged pending instead, so that storage
    expires the object. A 'keep' is never given up: its row needs the file.
    """

    uow: UnitOfWorkFactory
    # Loaded at the first change to carry out: a run with nothing to do never connects to storage.
    storage: Callable[[], FileStorage]
    clock: Clock
    grace_seconds: float = 30
    batch_size: int = 500
    max_attempts: int = 10

    def __call__(self, grace_seconds: float | None = None) -> StorageSettlement:
        started = self.clock.now()
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        created_before = started - timedelta(seconds=grace)
        total = StorageSettlement()
        while True:
            # One transaction per batch: the changes stay locked while storage carries them out. Changes that
            # failed in this run are not taken again by it (attempted since it started).
            with self.uow() as uow:
                changes = uow.storage_changes.claim(created_before, started, self.batch_size)
                if not changes:
                    break
                total += self._carry_out(uow, changes)
                uow.commit()
            if len(changes) < self.batch_size:
                break
        return total

    def run(self, correlation_id: str | None = None, grace_seconds: float | None = None) -> StorageSettlementReport:
        """One run under its own correlation id: the one entry point of the worker, the Lambda and the CLI."""
        run_id = correlation_id or new_correlation_id()
        set_correlation_id(run_id)
        started = perf_counter()
        settlement = self(grace_seconds)
        report = StorageSettlementReport(
            correlation_id=run_id,
            settled=settlement.settled,
            failed=settlement.failed,
            abandoned=settlement.abandoned,
            duration_seconds=round(perf_counter() - started, 6),
        )
        # Every minute, mostly with nothing to do: only a run that found something says so at INFO.
        found_any = settlement.settled or settlement.failed or settlement.abandoned
        logger.log(
            logging.INFO if found_any else logging.DEBUG,
            "storage changes settled",
            extra={
                "settled": report.settled,
                "failed": report.failed,
                "abandoned": report.abandoned,
                "duration_seconds": report.duration_seconds,
            },
        )
        return report

    def _carry_out(self, uow: UnitOfWork, changes: list[StorageChange]) -> StorageSettlement:
        storage = self.storage()
        failures: dict[UUID, str] = {}
        done: list[StorageChange] = []

        keeps = [change for change in changes if change.action is StorageAction.KEEP]
        recorded = uow.attachments.recorded_keys({change.storage_key for change in keeps}) if keeps else set()
        for change in keeps:
            if change.storage_key in recorded:
                try:
                    if not storage.mark_kept(change.storage_key):
                        logger.error(
                            "a recorded attachment's file is missing", extra={"storage_key": change.storage_key}
                        )
                except Exception as error:
                    logger.warning(
                        "storage did not keep a recorded file", exc_info=True, extra={"storage_key": change.storage_key}
                    )
                    failures[change.id] = describe(error)
                    continue
            done.append(change)

        discards = [change for change in changes if change.action is StorageAction.DISCARD]
        if discards:
            keys = sorted({change.storage_key for change in discards})
            try:
                refused = storage.delete_many(keys)
            except Exception as error:
                logger.warning(
                    "storage did not delete the files of deleted rows",
                    exc_info=True,
                    extra={"storage_keys": keys[:LOGGED_KEYS]},
                )
                refused = dict.fromkeys(keys, describe(error))
            for change in discards:
                if change.storage_key in refused:
                    failures[change.id] = refused[change.storage_key][:MAX_ERROR_LENGTH]
                else:
                    done.append(change)

        now = self.clock.now()
        abandoned: list[StorageChange] = []
        for change in changes:
            reason = failures.get(change.id)
            if reason is None:
                continue
            attempts = change.attempts + 1
            if (
                change.action is StorageAction.DISCARD
                and attempts >= self.max_attempts
                and self._leave_to_expiry(storage, change)
            ):
                abandoned.append(change)
                continue
            uow.storage_changes.record_failure(change.id, reason, now)
            # A 'keep' that keeps failing leaves a recorded file pending: storage would expire it.
            logger.log(
                logging.ERROR if attempts >= self.max_attempts else logging.WARNING,
                "a storage change failed and waits for the next run",
                extra={
                    "storage_key": change.storage_key,
                    "action": str(change.action),
                    "attempts": attempts,
                    "error": reason,
                },
            )
        uow.storage_changes.remove([change.id for change in (*done, *abandoned)])
        return StorageSettlement(settled=len(done), failed=len(failures) - len(abandoned), abandoned=len(abandoned))

    @staticmethod
    def _leave_to_expiry(storage: FileStorage, change: StorageChange) -> bool:
        try:
            storage.mark_pending(change.storage_key)
        except Exception:
            logger.warning("a file that cannot be deleted could not be left to expire either", exc_info=True)
            return False
        logger.error(
            "a file that could not be deleted is left for storage to expire",
            extra={"storage_key": change.storage_key, "attempts": change.attempts + 1},
        )
        return True
