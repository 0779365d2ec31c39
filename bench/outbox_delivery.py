"""Benchmark (not a test): the outbox's deliveries through a real SMTP server and a real HTTP receiver.

    PYTHONPATH=.:layers python -m bench.outbox_delivery [--webhooks 2000] [--emails 500] [--due 200] [--json]

`make bench` runs it as its part 9. Two figures:
- throughput: one delivery run sends what is queued (webhook deliveries and e-mails), against the floor of the
  same POSTs and e-mails sent by the same number of threads with no outbox at all (no claim, no record);
- time from due-soon to delivery: a reminder pass over tasks due soon whose owners have a webhook and e-mail on,
  then a delivery run, as the worker chains them; from each message's creation (the pass) to its delivery.
The receiver and the mail server run in a process of their own, so they do not share the sender's interpreter.
DATABASE_URL names a PostgreSQL server to use (a scratch database is created on it and dropped), else an
embedded one is started.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import smtplib
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from bench.reminders_pass import bench_database
from tasktracker.adapters.sqlalchemy.migrate import upgrade
from tasktracker.application.outbox import webhook_body
from tasktracker.bootstrap.reminders import deliver_outbox, send_reminders
from tasktracker.config import Settings
from tests.support.webhook_receiver import WebhookReceiver

CONCURRENCY = 8
USERS = 100

SEED = (
    """
INSERT INTO users (id, email, password_hash)
SELECT gen_random_uuid(), 'bench-' || n || '@example.com', 'not-a-hash' FROM generate_series(1, %(users)s) AS n
""",
    """
INSERT INTO webhooks (id, user_id, url, events, secret)
SELECT gen_random_uuid(), id, %(url)s, ARRAY['task.created', 'reminder.sent']::varchar[], 'whsec_bench' FROM users
""",
)
QUEUE = (
    """
INSERT INTO outbox_messages (id, channel, user_id, webhook_id, event_type, payload)
SELECT gen_random_uuid(), 'webhook', w.user_id, w.id, 'task.created',
       jsonb_build_object('id', gen_random_uuid(), 'type', 'task.created', 'occurred_at', now(),
                          'data', jsonb_build_object('id', gen_random_uuid(), 'title', 'Task ' || n))
FROM generate_series(1, %(webhooks)s) AS n JOIN (SELECT row_number() OVER () AS k, * FROM webhooks) w
  ON w.k = 1 + n %% %(users)s
""",
    """
INSERT INTO outbox_messages (id, channel, user_id, event_type, payload)
SELECT gen_random_uuid(), 'email', u.id, 'reminder.sent',
       jsonb_build_object('to', u.email, 'task_id', gen_random_uuid(), 'title', 'Task ' || n,
                          'due_date', now() + interval '3 hours', 'message', 'This task is due within 24 hours.')
FROM generate_series(1, %(emails)s) AS n JOIN (SELECT row_number() OVER () AS k, * FROM users) u
  ON u.k = 1 + n %% %(users)s
""",
)
DUE_SOON = """
INSERT INTO tasks (id, owner_id, title, status, priority, due_date, created_at, updated_at)
SELECT gen_random_uuid(), u.id, 'Due ' || n, 'TODO', 'MEDIUM', now() + interval '2 hours', now(), now()
FROM generate_series(1, %(due)s) AS n JOIN (SELECT row_number() OVER () AS k, * FROM users) u
  ON u.k = 1 + n %% %(users)s
"""


def _receive(ready: Any, folder: str) -> None:
    """The peers: the tests' webhook receiver (answering 200 at once), and the project's local mail server."""
    from local.mail_sink import MailSink

    with WebhookReceiver() as receiver, MailSink(folder) as mail:
        ready.send((receiver.url, mail.smtp_port))
        # Until the bench kills this process: both serve from threads of their own.
        threading.Event().wait()


def _floor(webhook_url: str, smtp_port: int, bodies: list[bytes], emails: int) -> float:
    """The same POSTs and e-mails, by the same number of threads, a new connection each as the sender makes."""
    target = urlsplit(webhook_url)

    def post(body: bytes) -> None:
        connection = HTTPConnection(target.netloc, timeout=5)
        connection.request("POST", target.path, body=body, headers={"Content-Type": "application/json"})
        connection.getresponse().read()
        connection.close()

    def mail(n: int) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "bench@example.com", f"bench-{n}@example.com", "Due"
        message["Message-ID"] = f"<floor-{n}-{time.time_ns()}@bench>"
        message.set_content("This task is due within 24 hours.")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as client:
            client.send_message(message)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(post, bodies))
        list(pool.map(mail, range(emails)))
    return time.perf_counter() - started


def measure(webhooks: int, emails: int, due: int) -> dict[str, float | int]:
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    with (
        tempfile.TemporaryDirectory(prefix="tasktracker-bench-mail-") as folder,
        bench_database("tasktracker_bench_outbox") as url,
    ):
        peers = context.Process(target=_receive, args=(there, str(Path(folder) / "mail")), daemon=True)
        peers.start()
        try:
            webhook_url, smtp_port = here.recv()
            upgrade(url)
            settings = Settings(
                environment="test",
                database_url=url,
                rate_limit_enabled=False,
                smtp_url=f"smtp://127.0.0.1:{smtp_port}",
                webhook_allow_private_targets=True,
                outbox_batch_size=500,
                outbox_concurrency=CONCURRENCY,
            )
            with psycopg.connect(url, autocommit=True) as connection:
                parameters = {"users": USERS, "url": webhook_url, "webhooks": webhooks, "emails": emails, "due": due}
                for statement in SEED + QUEUE:
                    connection.execute(statement, parameters)
                connection.execute("VACUUM ANALYZE")
                payloads = [
                    row[0]
                    for row in connection.execute("SELECT payload FROM outbox_messages WHERE channel = 'webhook'")
                ]

            run = deliver_outbox(settings).run("bench")
            sent = run.webhooks_delivered + run.emails_sent
            assert sent == webhooks + emails, run
            floor_seconds = _floor(webhook_url, smtp_port, [webhook_body(payload) for payload in payloads], emails)

            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("TRUNCATE outbox_messages")
                connection.execute(DUE_SOON, parameters)
            started = time.perf_counter()
            reminded = send_reminders(settings).run_pass("bench-due-soon")
            chained = deliver_outbox(settings).run("bench-due-soon")
            chain_seconds = time.perf_counter() - started
            assert chained.webhooks_delivered == chained.emails_sent == reminded.sent == due, (reminded, chained)
            with psycopg.connect(url) as connection:
                latencies = [
                    float(row[0])
                    for row in connection.execute(
                        "SELECT extract(epoch FROM delivered_at - created_at) FROM outbox_messages"
                    )
                ]
        finally:
            peers.kill()
    latencies.sort()
    return {
        "webhooks": webhooks,
        "emails": emails,
        "run_seconds": run.duration_seconds,
        "deliveries_per_s": sent / run.duration_seconds,
        "floor_deliveries_per_s": sent / floor_seconds,
        "due": due,
        "pass_and_delivery_seconds": chain_seconds,
        "latency_p50_s": statistics.median(latencies),
        "latency_p95_s": latencies[int(len(latencies) * 0.95) - 1],
        "latency_max_s": latencies[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--emails", type=int, default=500)
    parser.add_argument("--due", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures instead of prose")
    args = parser.parse_args()
    figures = measure(args.webhooks, args.emails, args.due)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"throughput: {figures['webhooks']:,} webhook deliveries and {figures['emails']:,} e-mails in "
        f"{figures['run_seconds']:.2f} s, {figures['deliveries_per_s']:,.0f}/s; floor (no outbox) "
        f"{figures['floor_deliveries_per_s']:,.0f}/s"
    )
    print(
        f"due soon to delivered: {figures['due']} reminders (a webhook call and an e-mail each), pass and delivery "
        f"{figures['pass_and_delivery_seconds']:.2f} s; p50 {figures['latency_p50_s']:.3f} s, "
        f"p95 {figures['latency_p95_s']:.3f} s, max {figures['latency_max_s']:.3f} s"
    )


if __name__ == "__main__":
    main()
