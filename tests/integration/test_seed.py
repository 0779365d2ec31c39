"""`make seed` gives a new user a living product, through the same use cases as the API, and only once."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import psycopg

from local.seed import DEMO_USERS, TASKS_PER_USER
from tests.support.stack import ROOT


def _seed(stack_env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "local.seed"],
        cwd=ROOT,
        env={**stack_env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def test_seed_creates_demo_data_with_its_audit_trail_and_files_once(
    stack_env: dict[str, str], db: psycopg.Connection
) -> None:
    emails = [email for email, _ in DEMO_USERS]
    first = _seed(stack_env)
    assert f"Seeded {len(emails)} users, {len(emails) * TASKS_PER_USER} tasks" in first

    task_total, tagged, due = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM task_tags tt WHERE tt.task_id = t.id)),"
        " count(due_date) FROM tasks t JOIN users u ON u.id = t.owner_id WHERE u.email = ANY(%s)",
        (emails,),
    ).fetchone()
    assert task_total == len(emails) * TASKS_PER_USER
    assert 0 < tagged < task_total and 0 < due < task_total
    created_events = db.execute(
        "SELECT count(*) FROM audit_events a JOIN users u ON u.id = a.user_id"
        " WHERE u.email = ANY(%s) AND a.event_type = 'TASK_CREATED'",
        (emails,),
    ).fetchone()[0]
    assert created_events == task_total
    keys = [
        row[0]
        for row in db.execute(
            "SELECT storage_path FROM attachments a JOIN tasks t ON t.id = a.task_id JOIN users u ON u.id = t.owner_id"
            " WHERE u.email = ANY(%s)",
            (emails,),
        )
    ]
    assert keys
    s3 = boto3.client(
        "s3",
        endpoint_url=stack_env["S3_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    for key in keys:
        assert s3.head_object(Bucket=stack_env["S3_BUCKET"], Key=key)["ContentLength"] > 0

    second = _seed(stack_env)
    assert "Seeded 0 users, 0 tasks and 0 attachments." in second
    assert (
        db.execute(
            "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.owner_id WHERE u.email = ANY(%s)", (emails,)
        ).fetchone()[0]
        == task_total
    )
