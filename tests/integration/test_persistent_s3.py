"""The local S3 that keeps its state on disk: each server is a real process on loopback, restarted for real."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.client import Config

from local.persistent_s3 import OBJECTS_DIR, STATE_FILE
from local.services import free_port
from tasktracker.adapters.s3.storage import BUCKET_LIFECYCLE, PENDING_TAG_KEY, PENDING_TAG_VALUE, S3FileStorage

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "tasktracker-attachments"
MIB = 1024 * 1024
PENDING = [{"Key": PENDING_TAG_KEY, "Value": PENDING_TAG_VALUE}]


class Server:
    """`python -m local.persistent_s3` in a child process."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.port = port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.persistent_s3", "--port", str(port), "--state", str(state_dir)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while not self._answers():
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("the server did not answer within 15 s")
            time.sleep(0.05)

    def _answers(self) -> bool:
        # The state is restored before the port is bound: a connection means it is ready.
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read().decode()

    def client(self) -> Any:
        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=15) == 0, self.stderr()
        self._close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=15)
        self._close()

    def _close(self) -> None:
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Every server a test starts; any left running is killed at the end."""
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.kill()


@pytest.fixture
def start(servers: list[Server]) -> Any:
    def starting(state_dir: Path) -> Server:
        server = Server(state_dir)
        servers.append(server)
        return server

    return starting


def restart(start: Any, server: Server) -> Server:
    server.stop()
    restarted: Server = start(server.state_dir)
    return restarted


def content_files(state_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (state_dir / OBJECTS_DIR).iterdir()}


def test_an_object_comes_back_after_a_restart_with_its_etag_metadata_and_tags(tmp_path: Path, start: Any) -> None:
    server = start(tmp_path / "not-yet-created")
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    body = os.urandom(200_000)
    put = client.put_object(
        Bucket=BUCKET,
        Key="tasks/1/report.pdf",
        Body=body,
        ContentType="application/pdf",
        Metadata={"uploaded-by": "someone"},
        Tagging="upload=pending",
    )
    before = client.head_object(Bucket=BUCKET, Key="tasks/1/report.pdf")

    client = restart(start, server).client()

    got = client.get_object(Bucket=BUCKET, Key="tasks/1/report.pdf")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert (got["ContentType"], got["ContentLength"]) == ("application/pdf", len(body))
    assert got["Metadata"] == {"uploaded-by": "someone"}
    assert got["LastModified"] == before["LastModified"]
    assert client.get_object_tagging(Bucket=BUCKET, Key="tasks/1/report.pdf")["TagSet"] == PENDING
    listed = client.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [(entry["Key"], entry["Size"]) for entry in listed] == [("tasks/1/report.pdf", len(body))]


def test_a_multipart_upload_survives_restarts_before_and_after_it_completes(tmp_path: Path, start: Any) -> None:
    server = start(tmp_path)
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    parts_data = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB // 2)]
    key = "tasks/2/video.mp4"
    upload_id = client.create_multipart_upload(
        Bucket=BUCKET, Key=key, ContentType="video/mp4", Tagging="upload=pending", ChecksumAlgorithm="CRC32"
    )["UploadId"]

    def send(number: int) -> dict[str, Any]:
        sent = client.upload_part(
            Bucket=BUCKET,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=parts_data[number - 1],
            ChecksumAlgorithm="CRC32",
        )
        return {"PartNumber": number, "ETag": sent["ETag"], "ChecksumCRC32": sent["ChecksumCRC32"]}

    parts = [send(1)]

    # Mid-upload: the upload and its first part are still there.
    server = restart(start, server)
    client = server.client()
    assert [upload["UploadId"] for upload in client.list_multipart_uploads(Bucket=BUCKET)["Uploads"]] == [upload_id]
    assert [part["ETag"] for part in client.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)["Parts"]] == [
        parts[0]["ETag"]
    ]
    parts += [send(2), send(3)]
    completed = client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert completed["ETag"].endswith('-3"')

    client = restart(start, server).client()

    got = client.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == b"".join(parts_data)
    assert (got["ETag"], got["ContentType"]) == (completed["ETag"], "video/mp4")
    assert client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == PENDING
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def post_form(storage: S3FileStorage, key: str, content: bytes) -> None:
    """Posts a presigned form as a browser does, then tags the object from the form's `tagging` field as S3
    does (moto drops that field)."""
    upload = storage.presigned_post(key, "text/csv", max_bytes=MIB, expires_in=300)
    posted = requests.post(upload.url, data=upload.fields, files={"file": ("x.csv", content, "text/csv")}, timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    tag_set = ElementTree.fromstring(upload.fields["tagging"]).find("TagSet")
    assert tag_set is not None
    tags = [{"Key": tag.findtext("Key", ""), "Value": tag.findtext("Value", "")} for tag in tag_set]
    storage._client.put_object_tagging(Bucket=storage.bucket, Key=key, Tagging={"TagSet": tags})


def test_presigned_uploads_keep_their_last_tags_and_the_bucket_its_lifecycle(tmp_path: Path, start: Any) -> None:
    server = start(tmp_path)
    storage = S3FileStorage(server.client(), BUCKET)
    storage.ensure_bucket()
    post_form(storage, "tasks/3/confirmed.csv", b"a,b\n1,2\n")
    post_form(storage, "tasks/3/confirmed-then-pending.csv", b"c,d\n3,4\n")
    post_form(storage, "tasks/3/unconfirmed.csv", b"e,f\n5,6\n")
    assert storage.mark_kept("tasks/3/confirmed.csv")
    assert storage.mark_kept("tasks/3/confirmed-then-pending.csv")
    storage.mark_pending("tasks/3/confirmed-then-pending.csv")

    client = restart(start, server).client()

    def tags(key: str) -> list[dict[str, str]]:
        tag_set: list[dict[str, str]] = client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
        return tag_set

    assert tags("tasks/3/confirmed.csv") == []
    assert tags("tasks/3/confirmed-then-pending.csv") == PENDING
    assert tags("tasks/3/unconfirmed.csv") == PENDING
    got = client.get_object(Bucket=BUCKET, Key="tasks/3/confirmed.csv")
    assert (got["Body"].read(), got["ContentType"]) == (b"a,b\n1,2\n", "text/csv")
    lifecycle = client.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert sorted(lifecycle, key=lambda rule: rule["ID"]) == sorted(BUCKET_LIFECYCLE["Rules"], key=lambda r: r["ID"])


def test_a_deleted_object_stays_deleted_and_its_bytes_leave_the_disk(tmp_path: Path, start: Any) -> None:
    server = start(tmp_path)
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="kept", Body=b"kept bytes")
    client.put_object(Bucket=BUCKET, Key="doomed", Body=b"doomed bytes")
    doomed_files = [name for name, data in content_files(tmp_path).items() if data == b"doomed bytes"]
    assert len(doomed_files) == 1

    client.delete_object(Bucket=BUCKET, Key="doomed")
    assert not (tmp_path / OBJECTS_DIR / doomed_files[0]).exists()

    client = restart(start, server).client()

    assert [entry["Key"] for entry in client.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["kept"]
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=BUCKET, Key="doomed")
    assert list(content_files(tmp_path).values()) == [b"kept bytes"]


def test_every_acknowledged_object_survives_a_sigkill(tmp_path: Path, start: Any) -> None:
    server = start(tmp_path)
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    acknowledged: dict[str, bytes] = {}
    enough = threading.Event()

    def put_until_it_dies() -> None:
        number = 0
        while True:
            key, body = f"objects/{number}", os.urandom(1000 + number * 997)
            try:
                client.put_object(Bucket=BUCKET, Key=key, Body=body)
            except Exception:
                return
            acknowledged[key] = body
            number += 1
            if number == 40:
                enough.set()

    putting = threading.Thread(target=put_until_it_dies)
    putting.start()
    assert enough.wait(timeout=20)
    server.kill()  # SIGKILL, with puts in flight
    putting.join(timeout=20)

    client = start(tmp_path).client()

    assert len(acknowledged) >= 40
    stored = {entry["Key"] for entry in client.list_objects_v2(Bucket=BUCKET, MaxKeys=1000)["Contents"]}
    assert set(acknowledged) <= stored
    for key, body in acknowledged.items():
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    assert not (tmp_path / f"{STATE_FILE}.tmp").exists()


def test_a_corrupt_state_file_stops_the_start_with_its_name(tmp_path: Path, start: Any) -> None:
    truncated, garbage = tmp_path / "truncated", tmp_path / "garbage"
    server = start(truncated)
    client = server.client()
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="k", Body=b"v")
    server.stop()
    state = (truncated / STATE_FILE).read_bytes()
    (truncated / STATE_FILE).write_bytes(state[: len(state) // 2])
    garbage.mkdir()
    (garbage / STATE_FILE).write_bytes(b"\x00not a state at all")

    for state_dir in (truncated, garbage):
        with pytest.raises(AssertionError, match="the server exited") as failed:
            start(state_dir)
        assert f"error: {state_dir / STATE_FILE}" in str(failed.value)
        assert f"move {state_dir} aside" in str(failed.value)
    # Nothing was thrown away: the bytes are still there for whoever repairs the state.
    assert list(content_files(truncated).values()) == [b"v"]


def test_a_second_server_on_the_same_directory_is_refused(tmp_path: Path, start: Any) -> None:
    server = start(tmp_path)
    server.client().create_bucket(Bucket=BUCKET)

    with pytest.raises(AssertionError, match=f"{tmp_path} is in use by another S3 server"):
        start(tmp_path)
    assert [bucket["Name"] for bucket in server.client().list_buckets()["Buckets"]] == [BUCKET]
