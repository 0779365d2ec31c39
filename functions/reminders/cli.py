"""`python -m functions.reminders.cli run|settle-storage|deliver|worker|beat`

run             one reminder pass now; prints how many were sent, in how many batches, how long it took, how
                many in-app notifications it wrote, how many e-mails and webhook deliveries it queued (sent by
                `deliver`, or by the worker), and its correlation id (to find its log lines and audit events)
settle-storage  one storage settler run now: carries out the file changes (keep, delete) that requests left
                in the outbox; prints what it did. --grace SECONDS takes only changes at least that old
                (default STORAGE_SETTLE_GRACE_SECONDS; 0 takes them all). Exits 1 if a change failed.
deliver         one outbox delivery run now: sends the e-mails and webhook deliveries that are due (with their
                backoff) until none is left; prints what it sent and what failed. A failed attempt is part of a
                run's work (it is tried again later, or given up): the exit status is 1 only when the run itself
                could not be made (the database away).
worker          the Celery worker (arguments after `worker` go to `celery worker`, e.g. --concurrency 1)
beat            the Celery beat (arguments go to `celery beat`, e.g. --schedule .local/beat/celerybeat-schedule).
                Run exactly one beat per schedule: two would publish every run twice (harmless, but wasted).
"""

from __future__ import annotations

import argparse
import sys

from tasktracker.config import settings as environment_settings
from tasktracker.platform.logs import configure_logging

from .passes import run_outbox_delivery, run_reminder_pass, run_storage_settlement


def run_once() -> int:
    settings = environment_settings()
    configure_logging(settings.log_level)
    report = run_reminder_pass(settings)
    notified = sum(report.notifications.values())
    print(
        f"Sent {report.sent} reminder{'' if report.sent == 1 else 's'} in {report.batches} "
        f"batch{'' if report.batches == 1 else 'es'} in {report.duration_seconds:.3f} s, "
        f"notifying {notified} owner{'' if notified == 1 else 's'} in the app; queued "
        f"{report.emails_queued} e-mail{'' if report.emails_queued == 1 else 's'} and "
        f"{report.webhook_events_queued} webhook deliver{'y' if report.webhook_events_queued == 1 else 'ies'} "
        f"(correlation id {report.correlation_id})",
        flush=True,
    )
    return 0


def settle_once(grace_seconds: float | None) -> int:
    settings = environment_settings()
    configure_logging(settings.log_level)
    report = run_storage_settlement(settings, grace_seconds=grace_seconds)
    print(
        f"Settled {report.settled} storage change{'' if report.settled == 1 else 's'}, "
        f"{report.failed} failed, {report.abandoned} left to expire, in {report.duration_seconds:.3f} s "
        f"(correlation id {report.correlation_id})",
        flush=True,
    )
    return 1 if report.failed else 0


def deliver_once() -> int:
    settings = environment_settings()
    configure_logging(settings.log_level)
    report = run_outbox_delivery(settings)
    failed = report.emails_failed + report.webhooks_failed
    print(
        f"Sent {report.emails_sent} e-mail{'' if report.emails_sent == 1 else 's'} and delivered "
        f"{report.webhooks_delivered} webhook event{'' if report.webhooks_delivered == 1 else 's'}; "
        f"{failed} attempt{'' if failed == 1 else 's'} failed "
        f"({report.emails_given_up + report.webhooks_given_up} given up), in {report.duration_seconds:.3f} s "
        f"(correlation id {report.correlation_id})",
        flush=True,
    )
    return 0


def _grace(value: str) -> float:
    seconds = float(value)
    if seconds < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m functions.reminders.cli", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=("run", "settle-storage", "deliver", "worker", "beat"))
    args, celery_arguments = parser.parse_known_args(argv)
    if args.command in ("run", "deliver"):
        if celery_arguments:
            parser.error(f"{args.command} takes no arguments: {' '.join(celery_arguments)}")
        return run_once() if args.command == "run" else deliver_once()
    if args.command == "settle-storage":
        settle_parser = argparse.ArgumentParser(prog="python -m functions.reminders.cli settle-storage")
        settle_parser.add_argument("--grace", type=_grace, default=None, metavar="SECONDS")
        return settle_once(settle_parser.parse_args(celery_arguments).grace)
    # Imported only here: `run`, `settle-storage` and `deliver` never load Celery.
    from .worker import app

    if args.command == "worker":
        app.worker_main(["worker", *celery_arguments])
    else:
        app.start(["beat", *celery_arguments])
    return 0


if __name__ == "__main__":
    sys.exit(main())
