"""`make compose-test`: the compose stack under its own project name and ports, then the API suite through its
router and the checks of what only containers do (tests/compose), then the project removed with its volumes.

    python -m tests.compose.run [PYTEST_ARGS...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from local.compose import Stack, podman_service_answers, stop_podman_service
from local.containers import ROOT, detect_engine, say
from local.stack import TEST_JWT_SECRET, TEST_REFRESH_REUSE_GRACE_SECONDS

PROJECT = os.environ.get("COMPOSE_TEST_PROJECT", "tasktracker-test")
ROUTER_PORT = os.environ.get("COMPOSE_TEST_ROUTER_PORT", "18000")
ROUTER_DEV_PORT = os.environ.get("COMPOSE_TEST_ROUTER_DEV_PORT", "18010")
POSTGRES_PORT = os.environ.get("COMPOSE_TEST_POSTGRES_PORT", "15432")
REDIS_PORT = os.environ.get("COMPOSE_TEST_REDIS_PORT", "16379")
AUTH_PORT = os.environ.get("COMPOSE_TEST_AUTH_PORT", "18101")
MOTO_PORT = os.environ.get("COMPOSE_TEST_MOTO_PORT", "15000")
PROMETHEUS_PORT = os.environ.get("COMPOSE_TEST_PROMETHEUS_PORT", "19090")
MAILPIT_PORT = os.environ.get("COMPOSE_TEST_MAILPIT_PORT", "18025")
WEBHOOK_RECEIVER_PORT = os.environ.get("COMPOSE_TEST_WEBHOOK_RECEIVER_PORT", "18090")
# The stack as the API suite's own fixtures expect it (tests/support/stack.py's function_environment), and
# reminders every few seconds.
STACK_ENVIRONMENT = {
    "APP_ENV": "test",
    "JWT_SECRET_KEY": TEST_JWT_SECRET,
    "S3_BUCKET": "tasktracker-test",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "RATE_LIMIT_DEFAULT": "100/minute",
    "RATE_LIMIT_LOGIN": "10/minute",
    "REFRESH_REUSE_GRACE_SECONDS": str(TEST_REFRESH_REUSE_GRACE_SECONDS),
    "REMINDER_INTERVAL_SECONDS": "5",
    "ROUTER_PORT": ROUTER_PORT,
    "ROUTER_DEV_PORT": ROUTER_DEV_PORT,
    "MOTO_PORT": MOTO_PORT,
    "PROMETHEUS_PORT": PROMETHEUS_PORT,
    "MAILPIT_PORT": MAILPIT_PORT,
    "APP_BASE_URL": f"http://localhost:{ROUTER_PORT}",
    "GRAFANA_PORT": os.environ.get("COMPOSE_TEST_GRAFANA_PORT", "13001"),
    "TEST_POSTGRES_PORT": POSTGRES_PORT,
    "TEST_REDIS_PORT": REDIS_PORT,
    "TEST_AUTH_PORT": AUTH_PORT,
    "TEST_WEBHOOK_RECEIVER_PORT": WEBHOOK_RECEIVER_PORT,
    "S3_ENDPOINT_URL": "http://moto:5000",
    "S3_PUBLIC_ENDPOINT_URL": f"http://localhost:{MOTO_PORT}",
}
# What the test processes are told: the stack to go through and the stores behind it.
SUITE_ENVIRONMENT = {
    "API_BASE_URL": f"http://127.0.0.1:{ROUTER_PORT}",
    "TEST_DATABASE_URL": f"postgresql://tasktracker:tasktracker@127.0.0.1:{POSTGRES_PORT}/tasktracker",
    "TEST_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
    "TEST_S3_ENDPOINT_URL": f"http://127.0.0.1:{MOTO_PORT}",
    "COMPOSE_TEST_PROJECT": PROJECT,
    "API_FUNCTION_URLS": f"auth=http://127.0.0.1:{AUTH_PORT}",
    "MAILPIT_API_URL": f"http://127.0.0.1:{MAILPIT_PORT}",
    "WEBHOOK_RECEIVER_API_URL": f"http://127.0.0.1:{WEBHOOK_RECEIVER_PORT}",
}
# API tests that start functions of their own on the host (a second ops, a stack without S3, Lambda handlers
# in process) or read the host stack's files: they test the code, not the containers, and run in `make test`.
HOST_PROCESS_TESTS = [
    "tests/api/test_lambda_handlers.py",
    "tests/api/test_ops.py",
]
HOST_PROCESS_TEST_IDS = [
    "tests/api/test_attachments.py::test_while_s3_is_down_nothing_is_recorded_or_lost_and_the_answer_is_503",
]
# API tests that watch the outbox before anything is delivered: `make test`'s stack has no worker, but here the
# worker empties the outbox every few seconds (and at once after a reminder pass that queued something), so a
# message's first state would be a race. tests/compose checks the deliveries themselves.
UNDELIVERED_OUTBOX_TEST_IDS = [
    "tests/api/test_webhooks.py::test_a_users_task_changes_are_queued_for_the_webhooks_that_subscribed",
    "tests/api/test_webhooks.py::test_the_reminder_pass_queues_one_e_mail_per_owner_who_wants_it_and_the_webhook_event",
]
# The compose stack lets webhooks aim at private addresses, as a development stack does (tests/compose delivers to
# a receiver container): the refusals of such targets run in `make test`, where the setting is off. The refusals of
# malformed URLs run here too.
PRIVATE_TARGET_TESTS = (
    "tests/api/test_webhooks.py::test_private_and_malformed_targets_are_refused_and_nothing_is_written"
)
PRIVATE_TARGET_REFUSAL = "WEBHOOK_TARGET_NOT_ALLOWED"


def stack() -> Stack:
    return Stack(
        engine=detect_engine(),
        project=PROJECT,
        extra_files=[ROOT / "tests" / "compose" / "docker-compose.test.yml"],
        overrides=STACK_ENVIRONMENT,
    )


def pytest(*arguments: str) -> int:
    env = {**os.environ, **SUITE_ENVIRONMENT}
    return subprocess.run([sys.executable, "-m", "pytest", *arguments], cwd=ROOT, env=env, check=False).returncode


def private_target_refusals() -> list[str]:
    """The node ids of the refusals of private webhook targets (one parametrized test holds them among the
    refusals of malformed URLs)."""
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", PRIVATE_TARGET_TESTS],
        cwd=ROOT,
        env={**os.environ, **SUITE_ENVIRONMENT},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    found = [line for line in collected if line.startswith(PRIVATE_TARGET_TESTS) and PRIVATE_TARGET_REFUSAL in line]
    if not found:
        raise SystemExit(f"no {PRIVATE_TARGET_REFUSAL} case collected from {PRIVATE_TARGET_TESTS}")
    return found


def main(argv: list[str]) -> int:
    compose = stack()
    # podman's API service is stopped at the end only if this run started it.
    service_was_running = compose.engine.is_podman and podman_service_answers()
    compose.down(volumes=True)
    started = time.monotonic()
    try:
        compose.up()
        say(f"compose-test: stack healthy {time.monotonic() - started:.0f} s after start (images included)")
        deselected = [f"--ignore={path}" for path in HOST_PROCESS_TESTS]
        deselected += [f"--deselect={test}" for test in HOST_PROCESS_TEST_IDS + UNDELIVERED_OUTBOX_TEST_IDS]
        deselected += [f"--deselect={test}" for test in private_target_refusals()]
        status = pytest("tests/api", *deselected, "-p", "no:cacheprovider", *argv)
        status = pytest("tests/compose", "-p", "no:cacheprovider", *argv) or status
    finally:
        if os.environ.get("COMPOSE_TEST_KEEP") != "1":
            compose.down(volumes=True)
            if compose.engine.is_podman and not service_was_running:
                stop_podman_service()
    say(f"compose-test: {'passed' if status == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
