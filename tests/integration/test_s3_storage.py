"""The S3 adapter against moto: a batch delete reports the keys S3 refused, and those alone."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.services import free_port
from tasktracker.adapters.s3.storage import DELETE_BATCH, PENDING_TAGGING_HEADER, S3FileStorage
from tests.support.refusing_s3 import RefusingS3

BUCKET = "tasktracker-adapter"


@pytest.fixture(scope="module")
def refusing_s3() -> Iterator[RefusingS3]:
    server = RefusingS3(free_port())
    yield server
    server.stop()


@pytest.fixture
def client(refusing_s3: RefusingS3) -> Iterator[Any]:
    client = boto3.client(
        "s3",
        endpoint_url=refusing_s3.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    refusing_s3.accept()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for entry in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=entry["Key"])


@pytest.fixture
def storage(client: Any) -> S3FileStorage:
    return S3FileStorage(client, BUCKET)


def keys_in(client: Any) -> set[str]:
    return {
        entry["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for entry in page.get("Contents", [])
    }


def test_a_batch_delete_returns_the_refused_keys_and_deletes_the_others(
    storage: S3FileStorage, client: Any, refusing_s3: RefusingS3
) -> None:
    keys = [f"tasks/t/{number}" for number in range(4)]
    for key in keys:
        storage.put(key, io.BytesIO(b"data"), "text/plain", 100)
    refusing_s3.refuse(keys[1], keys[3])

    refused = storage.delete_many([*keys, "tasks/t/never-stored"])

    assert refused == {keys[1]: "AccessDenied: Access Denied", keys[3]: "AccessDenied: Access Denied"}
    assert keys_in(client) == {keys[1], keys[3]}


def test_a_batch_larger_than_one_call_is_deleted_in_several(storage: S3FileStorage, client: Any) -> None:
    keys = [f"tasks/many/{number:05d}" for number in range(DELETE_BATCH + 5)]
    for key in keys:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"")

    assert storage.delete_many(keys) == {}
    assert keys_in(client) == set()


def test_marking_a_missing_object_pending_does_nothing_and_a_present_one_expires_again(
    storage: S3FileStorage, client: Any
) -> None:
    storage.mark_pending("tasks/t/gone")

    client.put_object(Bucket=BUCKET, Key="tasks/t/kept", Body=b"x")
    storage.mark_pending("tasks/t/kept")
    tags = client.get_object_tagging(Bucket=BUCKET, Key="tasks/t/kept")["TagSet"]
    assert [f"{tag['Key']}={tag['Value']}" for tag in tags] == [PENDING_TAGGING_HEADER]
