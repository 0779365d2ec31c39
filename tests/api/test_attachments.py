"""The attachments function through the real router, with a real (moto) S3 behind it, as a client uses it.

Tasks are written straight into the database: these tests need a task, not the tasks function.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import psycopg
import pytest
import requests
from werkzeug.http import parse_options_header

from local.services import LocalServices, free_port, start_moto
from tasktracker.routes import load_routes
from tests.support.api import Api, SignedInUser, assert_error, sign_up
from tests.support.refusing_s3 import RefusingS3
from tests.support.stack import ROOT, RunningStack, start_stack

MiB = 1024 * 1024
MAX_UPLOAD_BYTES = 25 * MiB  # the stack runs with the default MAX_UPLOAD_BYTES


def create_task(db: psycopg.Connection, owner: SignedInUser, title: str = "Quarterly report") -> str:
    task_id = str(uuid.uuid4())
    db.execute("INSERT INTO tasks (id, owner_id, title) VALUES (%s, %s, %s)", (task_id, owner.id, title))
    return task_id


def s3_client(endpoint_url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class Bucket:
    """A look into the bucket the function writes to."""

    def __init__(self, client: Any, name: str):
        self.client = client
        self.name = name

    def keys(self, task_id: str) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name, Prefix=f"tasks/{task_id}/")
        return [item["Key"] for item in listed.get("Contents", [])]

    def uploads(self, task_id: str) -> list[str]:
        """What presigned forms wrote for the task: never a recorded file."""
        listed = self.client.list_objects_v2(Bucket=self.name, Prefix=f"uploads/{task_id}/")
        return [item["Key"] for item in listed.get("Contents", [])]

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def unfinished_multipart_uploads(self, task_id: str) -> list[str]:
        listed = self.client.list_multipart_uploads(Bucket=self.name, Prefix=f"tasks/{task_id}/")
        return [item["Key"] for item in listed.get("Uploads", [])]

    def tags(self, key: str) -> dict[str, str]:
        tag_set = self.client.get_object_tagging(Bucket=self.name, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def lifecycle_rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self.client.get_bucket_lifecycle_configuration(Bucket=self.name)["Rules"]
        return rules


@pytest.fixture(scope="module")
def bucket(services: LocalServices, stack_env: dict[str, str]) -> Bucket:
    return Bucket(s3_client(services.s3_endpoint_url), stack_env["S3_BUCKET"])


@pytest.fixture
def owner(api: Api) -> SignedInUser:
    return sign_up(api, "owner")


@pytest.fixture
def task_id(db: psycopg.Connection, owner: SignedInUser) -> str:
    return create_task(db, owner)


def upload(
    api: Api,
    user: SignedInUser,
    task_id: str,
    content: bytes,
    filename: str = "notes.txt",
    content_type: str = "text/plain",
) -> requests.Response:
    return api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=user.access_token,
        files={"file": (filename, content, content_type)},
    )


def upload_raw_part(api: Api, user: SignedInUser, task_id: str, disposition_params: bytes) -> requests.Response:
    """A multipart body written by hand, to send filename parameters exactly as given."""
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '.encode()
        + disposition_params
        + b"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7 not really\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    return api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=user.access_token,
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def attachment_rows(db: psycopg.Connection, task_id: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT id::text, filename, content_type, size_bytes, storage_path FROM attachments WHERE task_id = %s "
        "ORDER BY created_at",
        (task_id,),
    ).fetchall()


def audit_events(db: psycopg.Connection, attachment_id: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT event_type, user_id::text, task_id::text, details FROM audit_events WHERE attachment_id = %s "
        "ORDER BY created_at",
        (attachment_id,),
    ).fetchall()


def outbox(db: psycopg.Connection, task_id: str) -> list[tuple[Any, ...]]:
    """The task's files whose change storage has yet to make (the storage outbox)."""
    return db.execute(
        "SELECT storage_key, action, attempts, last_error FROM storage_changes WHERE storage_key LIKE %s"
        " ORDER BY storage_key",
        (f"tasks/{task_id}/%",),
    ).fetchall()


def settle_storage(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One run of the storage settler, taking every change however young, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "functions.reminders.cli", "settle-storage", "--grace", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def download(api: Api, user: SignedInUser, attachment_id: str) -> requests.Response:
    return api.get(f"/api/v1/attachments/{attachment_id}/download", token=user.access_token)


def disposition_filename(header: str) -> str | None:
    """How a client that knows RFC 6266 reads Content-Disposition: filename* wins over filename."""
    disposition, params = parse_options_header(header)
    assert disposition == "attachment"
    return params.get("filename")


def header_values(response: requests.Response, name: str) -> set[str]:
    # The router adds some security headers too; a repeated header arrives joined by commas.
    return {value.strip() for value in response.headers.get(name, "").split(",")}


def test_owner_uploads_lists_downloads_and_deletes_a_file(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    content = b"Buy milk.\nCall the bank.\n"
    created = upload(api, owner, task_id, content, "notes.txt", "text/plain; charset=utf-8")
    assert created.status_code == 201, created.text
    attachment = created.json()
    assert set(attachment) == {"id", "filename", "content_type", "size_bytes", "created_at"}
    assert attachment["filename"] == "notes.txt"
    assert attachment["content_type"] == "text/plain"
    assert attachment["size_bytes"] == len(content)

    [row] = attachment_rows(db, task_id)
    storage_key = f"tasks/{task_id}/{attachment['id']}"
    assert row == (attachment["id"], "notes.txt", "text/plain", len(content), storage_key)
    assert bucket.keys(task_id) == [storage_key]
    assert bucket.read(storage_key) == content
    [(event_type, user_id, audited_task, details)] = audit_events(db, attachment["id"])
    assert (event_type, user_id, audited_task) == ("ATTACHMENT_ADDED", owner.id, task_id)
    assert details["filename"] == "notes.txt" and details["size_bytes"] == len(content)
    # Kept by the request itself: nothing is left for the settler.
    assert bucket.tags(storage_key) == {}
    assert outbox(db, task_id) == []

    listed = api.get(f"/api/v1/tasks/{task_id}/attachments", token=owner.access_token)
    assert listed.status_code == 200
    assert listed.json() == [attachment]

    downloaded = download(api, owner, attachment["id"])
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert downloaded.headers["Content-Type"] == "text/plain"
    assert downloaded.headers["Content-Length"] == str(len(content))
    assert downloaded.headers["Content-Disposition"] == "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    assert header_values(downloaded, "X-Content-Type-Options") == {"nosniff"}

    deleted = api.delete(f"/api/v1/attachments/{attachment['id']}", token=owner.access_token)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert attachment_rows(db, task_id) == []
    assert bucket.keys(task_id) == []
    assert outbox(db, task_id) == []
    assert [event[0] for event in audit_events(db, attachment["id"])] == ["ATTACHMENT_ADDED", "ATTACHMENT_REMOVED"]
    assert api.get(f"/api/v1/tasks/{task_id}/attachments", token=owner.access_token).json() == []
    assert_error(download(api, owner, attachment["id"]), 404, "ATTACHMENT_NOT_FOUND")
    again = api.delete(f"/api/v1/attachments/{attachment['id']}", token=owner.access_token)
    assert_error(again, 404, "ATTACHMENT_NOT_FOUND")


def test_the_function_itself_marks_a_download_nosniff(
    api: Api, stack: RunningStack, owner: SignedInUser, task_id: str
) -> None:
    """Behind API Gateway there is no router to add the header."""
    attachment = upload(api, owner, task_id, b"<script>alert(1)</script>", "page.html", "text/html").json()
    function_url = stack.function_urls.get("attachments", stack.base_url)
    direct = requests.get(
        f"{function_url}/api/v1/attachments/{attachment['id']}/download",
        headers={"Authorization": f"Bearer {owner.access_token}"},
        timeout=30,
    )
    assert direct.status_code == 200
    assert direct.headers["X-Content-Type-Options"] == "nosniff"
    assert direct.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 64, b"\x00", os.urandom(3 * MiB + 17)],
    ids=["every-byte-value", "a-single-nul-byte", "a-few-mebibytes"],
)
def test_a_file_downloads_byte_identical_to_what_was_uploaded(
    api: Api, owner: SignedInUser, task_id: str, content: bytes
) -> None:
    created = upload(api, owner, task_id, content, "data.bin", "application/octet-stream")
    assert created.status_code == 201, created.text
    assert created.json()["size_bytes"] == len(content)

    with api.session.get(
        f"{api.base_url}/api/v1/attachments/{created.json()['id']}/download",
        headers={"Authorization": f"Bearer {owner.access_token}"},
        stream=True,
        timeout=30,
    ) as streamed:
        assert streamed.status_code == 200
        assert streamed.headers["Content-Type"] == "application/octet-stream"
        assert streamed.headers["Content-Length"] == str(len(content))
        received = hashlib.sha256()
        for chunk in streamed.iter_content(64 * 1024):
            received.update(chunk)
    assert received.hexdigest() == hashlib.sha256(content).hexdigest()


def test_a_file_larger_than_one_part_reaches_s3_as_a_multipart_upload(
    api: Api, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    content = os.urandom(9 * MiB)  # the adapter sends parts of 8 MiB
    created = upload(api, owner, task_id, content, "video.mp4", "video/mp4")
    assert created.status_code == 201, created.text

    key = f"tasks/{task_id}/{created.json()['id']}"
    stored = bucket.client.head_object(Bucket=bucket.name, Key=key)
    assert stored["ETag"].strip('"').endswith("-2"), stored["ETag"]
    assert stored["ContentLength"] == len(content)
    assert download(api, owner, created.json()["id"]).content == content


def test_another_user_may_list_and_download_but_not_add_or_remove(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    other = sign_up(api, "other")
    attachment = upload(api, owner, task_id, b"owner's file").json()
    ticket = api.post(
        f"/api/v1/tasks/{task_id}/attachments/upload-url", token=owner.access_token, json={"content_type": "text/csv"}
    ).json()
    posted = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("a.csv", b"a,b\n1,2\n", "text/csv")}, timeout=30
    )
    assert posted.status_code in (200, 201, 204), posted.text
    rows_before, keys_before = attachment_rows(db, task_id), bucket.keys(task_id) + bucket.uploads(task_id)
    assert len(rows_before) == 1 and len(keys_before) == 2

    refused = [
        upload(api, other, task_id, b"intruder"),
        api.post(f"/api/v1/tasks/{task_id}/attachments/upload-url", token=other.access_token),
        api.post(
            f"/api/v1/tasks/{task_id}/attachments/confirm",
            token=other.access_token,
            json={"attachment_id": ticket["attachment_id"], "filename": "mine-now.csv"},
        ),
        api.delete(f"/api/v1/attachments/{attachment['id']}", token=other.access_token),
    ]
    for response in refused:
        assert_error(response, 403, "NOT_TASK_OWNER")
    assert attachment_rows(db, task_id) == rows_before
    assert bucket.keys(task_id) + bucket.uploads(task_id) == keys_before

    listed = api.get(f"/api/v1/tasks/{task_id}/attachments", token=other.access_token)
    assert [item["id"] for item in listed.json()] == [attachment["id"]]
    assert download(api, other, attachment["id"]).content == b"owner's file"


def test_unknown_tasks_and_attachments_are_404_and_a_token_is_required(api: Api, owner: SignedInUser) -> None:
    missing_task = str(uuid.uuid4())
    assert_error(api.get(f"/api/v1/tasks/{missing_task}/attachments", token=owner.access_token), 404, "TASK_NOT_FOUND")
    assert_error(upload(api, owner, missing_task, b"x"), 404, "TASK_NOT_FOUND")
    missing_attachment = str(uuid.uuid4())
    assert_error(download(api, owner, missing_attachment), 404, "ATTACHMENT_NOT_FOUND")
    assert_error(
        api.delete(f"/api/v1/attachments/{missing_attachment}", token=owner.access_token), 404, "ATTACHMENT_NOT_FOUND"
    )
    assert_error(api.get("/api/v1/attachments/not-a-uuid/download", token=owner.access_token), 404, "NOT_FOUND")
    assert_error(api.get(f"/api/v1/attachments/{missing_attachment}/download"), 401, "AUTHENTICATION_REQUIRED")
    assert_error(api.get(f"/api/v1/tasks/{missing_task}/attachments"), 401, "AUTHENTICATION_REQUIRED")


def test_a_file_one_byte_over_the_limit_is_refused_and_nothing_is_kept(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    # The multipart body fits under the request limit, so the file itself is measured while it streams to S3.
    response = upload(api, owner, task_id, b"\xab" * (MAX_UPLOAD_BYTES + 1), "huge.bin")
    assert assert_error(response, 413, "PAYLOAD_TOO_LARGE")["details"] == {"max_bytes": MAX_UPLOAD_BYTES}
    assert attachment_rows(db, task_id) == []
    assert bucket.keys(task_id) == []
    assert bucket.unfinished_multipart_uploads(task_id) == []
    assert db.execute("SELECT count(*) FROM audit_events WHERE task_id = %s", (task_id,)).fetchone() == (0,)

    exactly_the_limit = upload(api, owner, task_id, b"\xab" * MAX_UPLOAD_BYTES, "just-fits.bin")
    assert exactly_the_limit.status_code == 201, exactly_the_limit.text
    assert exactly_the_limit.json()["size_bytes"] == MAX_UPLOAD_BYTES


def test_a_body_announced_larger_than_the_limit_is_refused_before_it_is_read(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    boundary = uuid.uuid4().hex
    announced = MAX_UPLOAD_BYTES + MiB
    router = urlsplit(api.base_url)
    connection = http.client.HTTPConnection(router.hostname or "", router.port, timeout=10)
    try:
        connection.putrequest("POST", f"/api/v1/tasks/{task_id}/attachments")
        connection.putheader("Authorization", f"Bearer {owner.access_token}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(announced))
        # Only the start of the body is sent: a server that waited for the rest would time out here.
        connection.endheaders(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'.encode()
        )
        answer = connection.getresponse()
        assert answer.status == 413
        assert json.loads(answer.read())["error"]["code"] == "PAYLOAD_TOO_LARGE"
    finally:
        connection.close()

    # A client that sends the whole body anyway gets the same answer.
    response = upload(api, owner, task_id, b"\xcd" * announced, "huger.bin")
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert attachment_rows(db, task_id) == []
    assert bucket.keys(task_id) == []


def test_an_empty_file_or_no_file_is_a_validation_error(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    empty = assert_error(upload(api, owner, task_id, b"", "empty.txt"), 400, "VALIDATION_ERROR")
    assert "file" in empty["details"]["fields"]

    no_file_field = api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=owner.access_token,
        files={"document": ("notes.txt", b"wrong field name", "text/plain")},
    )
    assert "file" in assert_error(no_file_field, 400, "VALIDATION_ERROR")["details"]["fields"]
    not_multipart = api.post(f"/api/v1/tasks/{task_id}/attachments", token=owner.access_token, json={"file": "abc"})
    assert "file" in assert_error(not_multipart, 400, "VALIDATION_ERROR")["details"]["fields"]

    assert attachment_rows(db, task_id) == []
    assert bucket.keys(task_id) == []


@pytest.mark.parametrize(
    ("disposition_params", "stored_name", "ascii_fallback"),
    [
        (b'filename="../../etc/passwd"', "passwd", "passwd"),
        # A literal backslash is escaped inside a quoted string.
        (b'filename="C:\\\\evil\\\\x.txt"', "x.txt", "x.txt"),
        # Browsers send a double quote as %22 (HTML's multipart rules).
        ('filename="résumé %22final%22.pdf"'.encode(), 'résumé "final".pdf', "resume _final_.pdf"),
        # RFC 8187 lets a client name any character, line breaks included.
        (b"filename*=UTF-8''two%0D%0Alines%09tab.pdf", "twolinestab.pdf", "twolinestab.pdf"),
        ('filename="отчёт 2025.pdf"'.encode(), "отчёт 2025.pdf", "2025.pdf"),
        (b'filename="..."', "file", "file"),
    ],
    ids=["parent-directories", "windows-path", "quotes-and-accents", "control-characters", "cyrillic", "dots-only"],
)
def test_a_filename_is_stored_without_path_or_control_characters_and_downloads_under_that_name(
    api: Api,
    db: psycopg.Connection,
    owner: SignedInUser,
    task_id: str,
    disposition_params: bytes,
    stored_name: str,
    ascii_fallback: str,
) -> None:
    created = upload_raw_part(api, owner, task_id, disposition_params)
    assert created.status_code == 201, created.text
    assert created.json()["filename"] == stored_name
    [row] = attachment_rows(db, task_id)
    assert row[1] == stored_name
    assert row[4] == f"tasks/{task_id}/{created.json()['id']}"

    header = download(api, owner, created.json()["id"]).headers["Content-Disposition"]
    assert header.isascii()
    assert header.startswith(f'attachment; filename="{ascii_fallback}"; ')
    assert disposition_filename(header) == stored_name


def test_a_presigned_upload_goes_straight_to_s3_and_is_confirmed(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    ticket_response = api.post(
        f"/api/v1/tasks/{task_id}/attachments/upload-url", token=owner.access_token, json={"content_type": "text/csv"}
    )
    assert ticket_response.status_code == 200, ticket_response.text
    ticket = ticket_response.json()
    assert set(ticket) == {"attachment_id", "url", "fields", "expires_in", "max_bytes"}
    assert ticket["max_bytes"] == MAX_UPLOAD_BYTES
    # The form writes an upload key of its own: confirming copies it to the attachment's key.
    assert ticket["fields"]["key"] == f"uploads/{task_id}/{ticket['attachment_id']}"
    assert ticket["fields"]["Content-Type"] == "text/csv"
    assert attachment_rows(db, task_id) == []

    content = b"name,amount\nrent,1200\n" * 1000
    posted = requests.post(
        ticket["url"], data=ticket["fields"], files={"file": ("ignored.csv", content, "text/csv")}, timeout=30
    )
    assert posted.status_code in (200, 201, 204), posted.text

    confirm = {"attachment_id": ticket["attachment_id"], "filename": "../budget.csv"}
    confirmed = api.post(f"/api/v1/tasks/{task_id}/attachments/confirm", token=owner.access_token, json=confirm)
    assert confirmed.status_code == 201, confirmed.text
    attachment = confirmed.json()
    assert attachment["id"] == ticket["attachment_id"]
    assert (attachment["filename"], attachment["content_type"], attachment["size_bytes"]) == (
        "budget.csv",
        "text/csv",
        len(content),
    )
    assert [event[0] for event in audit_events(db, attachment["id"])] == ["ATTACHMENT_ADDED"]

    downloaded = download(api, owner, attachment["id"])
    assert downloaded.content == content
    assert downloaded.headers["Content-Type"] == "text/csv"

    twice = api.post(f"/api/v1/tasks/{task_id}/attachments/confirm", token=owner.access_token, json=confirm)
    assert "attachment_id" in assert_error(twice, 400, "VALIDATION_ERROR")["details"]["fields"]
    assert len(attachment_rows(db, task_id)) == 1
    assert bucket.keys(task_id) == [f"tasks/{task_id}/{attachment['id']}"]
    assert bucket.uploads(task_id) == []
    assert outbox(db, task_id) == []


PENDING = {"upload": "pending"}


def form_tags(tagging_xml: str) -> dict[str, str]:
    tag_set = ElementTree.fromstring(tagging_xml).find("TagSet")
    assert tag_set is not None
    return {tag.findtext("Key", ""): tag.findtext("Value", "") for tag in tag_set}


def signed_policy(fields: dict[str, str], secret_access_key: str) -> dict[str, Any]:
    """The form's policy document, once its SigV4 signature is checked the way S3 checks it."""
    _, date, region, service, _ = fields["x-amz-credential"].split("/")
    key = f"AWS4{secret_access_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert fields["x-amz-signature"] == hmac.new(key, fields["policy"].encode(), hashlib.sha256).hexdigest()
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def post_form_as_s3_stores_it(bucket: Bucket, ticket: dict[str, Any], content: bytes) -> str:
    """Posts the presigned form to moto, then tags the object from the form's `tagging` field: S3 does that
    itself, moto drops the field."""
    posted = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("x.csv", content)}, timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    key: str = ticket["fields"]["key"]
    tag_set = [{"Key": name, "Value": value} for name, value in form_tags(ticket["fields"]["tagging"]).items()]
    bucket.client.put_object_tagging(Bucket=bucket.name, Key=key, Tagging={"TagSet": tag_set})
    return key


def test_a_presigned_form_cannot_drop_the_pending_tag(
    api: Api, owner: SignedInUser, task_id: str, stack_env: dict[str, str]
) -> None:
    # moto accepts any POST whatever the policy says, so what S3 would enforce is read from the signed policy.
    response = api.post(f"/api/v1/tasks/{task_id}/attachments/upload-url", token=owner.access_token, json={})
    assert response.status_code == 200, response.text
    fields = response.json()["fields"]
    assert form_tags(fields["tagging"]) == PENDING

    policy = signed_policy(fields, stack_env["AWS_SECRET_ACCESS_KEY"])
    conditions = policy["conditions"]
    # An exact match, and no other condition on the field: a form without it or with other tags is refused.
    assert {"tagging": fields["tagging"]} in conditions
    assert [c for c in conditions if "tagging" in json.dumps(c)] == [{"tagging": fields["tagging"]}]
    assert {"key": fields["key"]} in conditions
    assert ["content-length-range", 1, MAX_UPLOAD_BYTES] in conditions


def test_a_confirmed_upload_loses_the_pending_tag_and_an_unconfirmed_one_keeps_it(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    def ticket() -> dict[str, Any]:
        response = api.post(f"/api/v1/tasks/{task_id}/attachments/upload-url", token=owner.access_token, json={})
        assert response.status_code == 200, response.text
        issued: dict[str, Any] = response.json()
        return issued

    confirmed_ticket, abandoned_ticket = ticket(), ticket()
    uploaded_key = post_form_as_s3_stores_it(bucket, confirmed_ticket, b"kept")
    abandoned_key = post_form_as_s3_stores_it(bucket, abandoned_ticket, b"never confirmed")
    assert bucket.tags(uploaded_key) == bucket.tags(abandoned_key) == PENDING

    confirm = {"attachment_id": confirmed_ticket["attachment_id"], "filename": "kept.csv"}
    confirmed = api.post(f"/api/v1/tasks/{task_id}/attachments/confirm", token=owner.access_token, json=confirm)
    assert confirmed.status_code == 201, confirmed.text

    # The copy under the attachment's key is kept; the upload it came from is gone.
    confirmed_key = f"tasks/{task_id}/{confirmed_ticket['attachment_id']}"
    assert bucket.tags(confirmed_key) == {}
    assert bucket.read(confirmed_key) == b"kept"
    assert bucket.uploads(task_id) == [abandoned_key]
    assert bucket.tags(abandoned_key) == PENDING
    assert [row[4] for row in attachment_rows(db, task_id)] == [confirmed_key]


def test_a_confirmed_file_cannot_be_overwritten_through_its_form(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    """The form posts to an upload key of its own; confirming copies it to the attachment's key. Posted again
    after the confirmation, it only writes that upload key, pending: the confirmed file stays as it was."""
    response = api.post(f"/api/v1/tasks/{task_id}/attachments/upload-url", token=owner.access_token, json={})
    assert response.status_code == 200, response.text
    ticket = response.json()
    upload_key = post_form_as_s3_stores_it(bucket, ticket, b"the confirmed bytes")
    confirm = {"attachment_id": ticket["attachment_id"], "filename": "report.csv"}
    confirmed = api.post(f"/api/v1/tasks/{task_id}/attachments/confirm", token=owner.access_token, json=confirm)
    assert confirmed.status_code == 201, confirmed.text
    final_key = f"tasks/{task_id}/{ticket['attachment_id']}"
    assert [row[4] for row in attachment_rows(db, task_id)] == [final_key]

    # The same form, posted again with other bytes.
    assert post_form_as_s3_stores_it(bucket, ticket, b"bytes written over the confirmed file") == upload_key

    assert download(api, owner, ticket["attachment_id"]).content == b"the confirmed bytes"
    assert bucket.tags(final_key) == {}
    assert bucket.keys(task_id) == [final_key]
    assert outbox(db, task_id) == []
    # Only the upload key was written again, pending: storage expires it, and it never becomes a file.
    assert upload_key != final_key
    assert bucket.uploads(task_id) == [upload_key]
    assert bucket.tags(upload_key) == PENDING
    twice = api.post(f"/api/v1/tasks/{task_id}/attachments/confirm", token=owner.access_token, json=confirm)
    assert "attachment_id" in assert_error(twice, 400, "VALIDATION_ERROR")["details"]["fields"]
    assert download(api, owner, ticket["attachment_id"]).content == b"the confirmed bytes"


def test_a_file_uploaded_through_the_api_is_kept_once_recorded(
    api: Api, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    created = upload(api, owner, task_id, b"recorded")
    assert created.status_code == 201, created.text
    assert bucket.tags(f"tasks/{task_id}/{created.json()['id']}") == {}


def test_the_bucket_expires_pending_uploads_and_abandoned_multipart_uploads_after_a_day(bucket: Bucket) -> None:
    # Set when the function creates the bucket. S3 runs these rules; moto and LocalStack store them only.
    rules = {rule["ID"]: rule for rule in bucket.lifecycle_rules()}
    pending = rules["expire-unrecorded-uploads"]
    assert (pending["Status"], pending["Filter"], pending["Expiration"]) == (
        "Enabled",
        {"Tag": {"Key": "upload", "Value": "pending"}},
        {"Days": 1},
    )
    multipart = rules["abort-incomplete-multipart-uploads"]
    assert (multipart["Status"], multipart["AbortIncompleteMultipartUpload"]) == ("Enabled", {"DaysAfterInitiation": 1})


def test_confirming_an_upload_that_never_reached_s3_is_refused(
    api: Api, db: psycopg.Connection, owner: SignedInUser, task_id: str
) -> None:
    never_uploaded = {"attachment_id": str(uuid.uuid4()), "filename": "ghost.pdf"}
    response = api.post(f"/api/v1/tasks/{task_id}/attachments/confirm", token=owner.access_token, json=never_uploaded)
    assert "attachment_id" in assert_error(response, 400, "VALIDATION_ERROR")["details"]["fields"]
    assert attachment_rows(db, task_id) == []

    missing_filename = api.post(
        f"/api/v1/tasks/{task_id}/attachments/confirm",
        token=owner.access_token,
        json={"attachment_id": str(uuid.uuid4())},
    )
    assert "filename" in assert_error(missing_filename, 400, "VALIDATION_ERROR")["details"]["fields"]


def test_the_upload_is_documented_as_a_multipart_file(api: Api) -> None:
    document = api.get("/api/v1/attachments/openapi.json").json()
    body = document["paths"]["/api/v1/tasks/{task_id}/attachments"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert (schema["properties"]["file"]["type"], schema["properties"]["file"]["format"]) == ("string", "binary")
    assert "file" in schema["required"]


@pytest.fixture
def storage_outage(
    stack_env: dict[str, str], tmp_path: Path, fresh_rate_limits: None
) -> Iterator[tuple[RunningStack, Any]]:
    """Its own S3 and its own auth and attachments functions: stopping this S3 disturbs no other test."""
    moto, endpoint_url = start_moto(free_port())
    routes = [route for route in load_routes() if route.name in ("auth", "attachments")]
    running = start_stack({**stack_env, "S3_ENDPOINT_URL": endpoint_url}, tmp_path, routes=routes)
    try:
        yield running, moto
    finally:
        running.stop()
        moto.stop()


def test_while_s3_is_down_nothing_is_recorded_or_lost_and_the_answer_is_503(
    storage_outage: tuple[RunningStack, Any],
    db: psycopg.Connection,
    services: LocalServices,
    stack_env: dict[str, str],
) -> None:
    running, moto = storage_outage
    api = Api(running.base_url)
    owner = sign_up(api, "outage")
    task_id = create_task(db, owner)
    kept = upload(api, owner, task_id, b"uploaded before the outage")
    assert kept.status_code == 201, kept.text
    key = f"tasks/{task_id}/{kept.json()['id']}"

    moto.stop()

    refused = upload(api, owner, task_id, b"uploaded during the outage")
    assert_error(refused, 503, "S3_UNAVAILABLE")
    assert [row[0] for row in attachment_rows(db, task_id)] == [kept.json()["id"]]
    assert_error(download(api, owner, kept.json()["id"]), 503, "S3_UNAVAILABLE")
    unconfirmable = {"attachment_id": str(uuid.uuid4()), "filename": "x.pdf"}
    confirm = api.post(f"/api/v1/tasks/{task_id}/attachments/confirm", token=owner.access_token, json=unconfirmable)
    assert_error(confirm, 503, "S3_UNAVAILABLE")
    assert outbox(db, task_id) == []

    # A delete needs only the database: the row goes now, and its file waits in the outbox for storage.
    removal = api.delete(f"/api/v1/attachments/{kept.json()['id']}", token=owner.access_token)
    assert removal.status_code == 204, removal.text
    assert attachment_rows(db, task_id) == []
    assert [event[0] for event in audit_events(db, kept.json()["id"])] == ["ATTACHMENT_ADDED", "ATTACHMENT_REMOVED"]
    assert [row[:2] for row in outbox(db, task_id)] == [(key, "discard")]

    # moto keeps its buckets in this process, so the session's S3 serves the same bucket: S3 is back.
    back = Bucket(s3_client(services.s3_endpoint_url), stack_env["S3_BUCKET"])
    assert back.keys(task_id) == [key]
    settled = settle_storage({**stack_env, "S3_ENDPOINT_URL": services.s3_endpoint_url})
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert back.keys(task_id) == []
    assert outbox(db, task_id) == []


@pytest.fixture
def refusing_storage(
    stack_env: dict[str, str], tmp_path: Path, fresh_rate_limits: None
) -> Iterator[tuple[RunningStack, RefusingS3, dict[str, str]]]:
    """An S3 that refuses to delete the keys a test names, behind auth, tasks and attachments of their own."""
    s3 = RefusingS3(free_port())
    env = {**stack_env, "S3_ENDPOINT_URL": s3.url, "S3_BUCKET": "tasktracker-refusing"}
    routes = [route for route in load_routes() if route.name in ("auth", "tasks", "attachments")]
    running = start_stack(env, tmp_path, routes=routes)
    try:
        yield running, s3, env
    finally:
        running.stop()
        s3.stop()


def test_a_file_s3_refuses_to_delete_with_its_task_stays_in_the_outbox_until_the_settler_deletes_it(
    refusing_storage: tuple[RunningStack, RefusingS3, dict[str, str]], db: psycopg.Connection
) -> None:
    running, s3, env = refusing_storage
    api = Api(running.base_url)
    owner = sign_up(api, "refused")
    task = api.post("/api/v1/tasks", token=owner.access_token, json={"title": "With three files"})
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]
    keys = []
    for number in range(3):
        created = upload(api, owner, task_id, f"file {number}".encode(), f"file-{number}.txt")
        assert created.status_code == 201, created.text
        keys.append(f"tasks/{task_id}/{created.json()['id']}")
    bucket = Bucket(s3_client(s3.url), env["S3_BUCKET"])
    assert sorted(bucket.keys(task_id)) == sorted(keys)
    assert all(bucket.tags(key) == {} for key in keys)
    assert outbox(db, task_id) == []

    s3.refuse(keys[1])
    deleted = api.delete(f"/api/v1/tasks/{task_id}", token=owner.access_token)

    # The task and its rows are gone; S3 deleted two files in one batch and answered the third with an error.
    assert deleted.status_code == 204, deleted.text
    assert attachment_rows(db, task_id) == []
    assert s3.refusals == 1
    assert bucket.keys(task_id) == [keys[1]]
    assert outbox(db, task_id) == [(keys[1], "discard", 0, None)]

    still_refused = settle_storage(env)
    assert still_refused.returncode == 1, still_refused.stdout + still_refused.stderr
    assert "1 failed" in still_refused.stdout
    [(key, action, attempts, last_error)] = outbox(db, task_id)
    assert (key, action, attempts) == (keys[1], "discard", 1)
    assert last_error.startswith("AccessDenied")
    assert bucket.keys(task_id) == [keys[1]]

    s3.accept()
    settled = settle_storage(env)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert bucket.keys(task_id) == []
    assert outbox(db, task_id) == []


def kill_function(running: RunningStack, name: str) -> None:
    """SIGKILL to a function's gunicorn master and its workers at once, as a crash would."""
    master = running.processes[name]
    workers = [int(pid) for pid in Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()]
    for pid in [master.pid, *workers]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    master.wait(10)


def test_an_upload_killed_after_its_commit_before_its_file_was_kept_is_kept_by_the_settler(
    refusing_storage: tuple[RunningStack, RefusingS3, dict[str, str]], db: psycopg.Connection
) -> None:
    running, s3, env = refusing_storage
    api = Api(running.base_url)
    owner = sign_up(api, "killed")
    task_id = create_task(db, owner)
    answers: list[requests.Response | Exception] = []

    def upload_in_background() -> None:
        try:
            answers.append(upload(api, owner, task_id, b"committed, never kept"))
        except requests.RequestException as error:
            answers.append(error)

    held = s3.hold_untagging()
    uploading = threading.Thread(target=upload_in_background)
    uploading.start()
    # The row is committed and the request is asking S3 to keep the file: the process dies right there.
    assert held.wait(30), "the upload never asked S3 to keep its file"
    kill_function(running, "attachments")
    s3.release()
    uploading.join(30)
    assert not (isinstance(answers[0], requests.Response) and answers[0].status_code == 201), answers

    [(attachment_id, *_, key)] = attachment_rows(db, task_id)
    bucket = Bucket(s3_client(s3.url), env["S3_BUCKET"])
    # The row is there with its file; the file still expires, and its 'keep' waits in the outbox.
    assert bucket.tags(key) == PENDING
    assert outbox(db, task_id) == [(key, "keep", 0, None)]
    assert [event[0] for event in audit_events(db, attachment_id)] == ["ATTACHMENT_ADDED"]

    settled = settle_storage(env)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert bucket.tags(key) == {}
    assert outbox(db, task_id) == []
    assert bucket.read(key) == b"committed, never kept"
