"""An upload is sent on to S3 while it is still being received: what happens when the body stops early or is
not what it claims, through the real router, with a real (moto) S3 behind it. Whatever goes wrong, no row, no
object and no unfinished multipart upload is left behind."""

from __future__ import annotations

import hashlib
import http.client
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from local.services import LocalServices
from tests.api.test_attachments import Bucket, attachment_rows, create_task, download, s3_client
from tests.support.api import Api, SignedInUser, assert_error, sign_up
from tests.support.faults import wait_until

MiB = 1024 * 1024
PART = 8 * MiB  # the adapter sends parts of 8 MiB
SETTLE_SECONDS = 60.0


@pytest.fixture(scope="module")
def bucket(services: LocalServices, stack_env: dict[str, str]) -> Bucket:
    return Bucket(s3_client(services.s3_endpoint_url), stack_env["S3_BUCKET"])


@pytest.fixture
def owner(api: Api) -> SignedInUser:
    return sign_up(api, "streamer")


@pytest.fixture
def task_id(db: psycopg.Connection, owner: SignedInUser) -> str:
    return create_task(db, owner)


def file_part_head(boundary: str, filename: str = "big.bin") -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def nothing_left(db: psycopg.Connection, bucket: Bucket, task_id: str) -> bool:
    return (
        attachment_rows(db, task_id) == []
        and bucket.keys(task_id) == []
        and bucket.unfinished_multipart_uploads(task_id) == []
    )


def test_a_client_gone_mid_upload_leaves_no_object_and_no_multipart_upload(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    boundary = uuid.uuid4().hex
    head = file_part_head(boundary)
    tail = f"\r\n--{boundary}--\r\n".encode()
    file_size = 24 * MiB
    router = urlsplit(api.base_url)
    connection = http.client.HTTPConnection(router.hostname or "", router.port, timeout=120)
    try:
        connection.putrequest("POST", f"/api/v1/tasks/{task_id}/attachments")
        connection.putheader("Authorization", f"Bearer {owner.access_token}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + file_size + len(tail)))
        connection.endheaders(head)
        block = os.urandom(MiB)
        for _ in range(2 * PART // MiB + 2):
            connection.send(block)
        # The first parts are in S3 while the rest of the body has not even been sent.
        wait_until(lambda: bucket.unfinished_multipart_uploads(task_id) != [], SETTLE_SECONDS, interval=0.2)
    finally:
        connection.close()

    wait_until(lambda: nothing_left(db, bucket, task_id), SETTLE_SECONDS, interval=0.2)
    assert nothing_left(db, bucket, task_id)
    assert db.execute("SELECT count(*) FROM audit_events WHERE task_id = %s", (task_id,)).fetchone() == (0,)


@pytest.mark.parametrize("file_size", [MiB, PART + MiB], ids=["one-put", "multipart"])
def test_a_body_that_ends_before_its_closing_boundary_is_refused_and_leaves_nothing(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str, file_size: int
) -> None:
    boundary = uuid.uuid4().hex

    def body() -> Iterator[bytes]:
        # Chunked: the body ends cleanly, but the form inside it does not.
        yield file_part_head(boundary)
        for _ in range(file_size // MiB):
            yield b"\x07" * MiB

    response = api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=owner.access_token,
        data=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "file" in assert_error(response, 400, "VALIDATION_ERROR")["details"]["fields"]
    assert nothing_left(db, bucket, task_id)


def test_fields_around_the_file_are_skipped_and_the_file_is_stored_whole(
    api: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str
) -> None:
    boundary = uuid.uuid4().hex
    content = os.urandom(PART + 3 * MiB + 17)
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nbefore\r\n'.encode()
        + file_part_head(boundary, "both sides.bin")
        + content
        + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="second.bin"\r\n\r\n'.encode()
        + b"a second file part is not the attachment"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    created = api.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=owner.access_token,
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert created.status_code == 201, created.text
    assert (created.json()["filename"], created.json()["size_bytes"]) == ("both sides.bin", len(content))
    key = f"tasks/{task_id}/{created.json()['id']}"
    assert bucket.keys(task_id) == [key]
    assert bucket.tags(key) == {}, "a recorded upload must not keep the pending tag"
    downloaded = download(api, owner, created.json()["id"])
    assert hashlib.sha256(downloaded.content).hexdigest() == hashlib.sha256(content).hexdigest()
    assert bucket.unfinished_multipart_uploads(task_id) == []
