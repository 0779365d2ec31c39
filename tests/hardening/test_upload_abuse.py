"""Upload abuse, at the router and at the attachments function itself: bodies over the limit (announced, sent
whole, chunked), hostile filenames, a lying content type, empty files, and the presigned upload's confirmation
misused. After every case the task's rows and the bucket's objects match one to one: no orphan either way.

A stack of its own runs the attachments function with a small MAX_UPLOAD_BYTES, so over-limit bodies are small."""

from __future__ import annotations

import http.client
import json
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
import requests
from werkzeug.http import parse_options_header

from local.services import LocalServices
from tasktracker.routes import load_routes
from tests.support.api import Api, SignedInUser, assert_error, sign_up
from tests.support.snapshots import Bucket, Figures, print_figures, reset_rate_limits
from tests.support.stack import RunningStack, start_stack

MAX_UPLOAD_BYTES = 64 * 1024
ENVELOPE = 64 * 1024  # tasktracker.config.MULTIPART_OVERHEAD_BYTES
REQUEST_LIMIT = MAX_UPLOAD_BYTES + ENVELOPE


@pytest.fixture(scope="module")
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    yield from print_figures(request, Figures("upload abuse"))


@pytest.fixture(scope="module")
def small_stack(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    routes = [route for route in load_routes() if route.name in ("auth", "attachments")]
    env = {**stack_env, "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES)}
    running = start_stack(env, Path(tmp_path_factory.mktemp("upload-abuse")), routes=routes)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def bucket(services: LocalServices, stack_env: dict[str, str]) -> Bucket:
    return Bucket(services.s3_endpoint_url, stack_env["S3_BUCKET"])


@pytest.fixture(scope="module")
def owner(small_stack: RunningStack, redis_client: redis.Redis) -> SignedInUser:
    reset_rate_limits(redis_client)
    return sign_up(Api(small_stack.base_url), "uploader")


@pytest.fixture(autouse=True)
def fresh_limits(redis_client: redis.Redis) -> None:
    # One user makes every upload here, faster than its per-minute budget allows.
    reset_rate_limits(redis_client)


@pytest.fixture(params=["router", "function"])
def target(request: pytest.FixtureRequest, small_stack: RunningStack) -> Api:
    """Each case runs through the router and straight at the function (as inside the VPC, or under Lambda)."""
    if request.param == "router":
        return Api(small_stack.base_url)
    return Api(small_stack.function_urls["attachments"])


@pytest.fixture
def task_id(db: psycopg.Connection, owner: SignedInUser) -> str:
    task_id = str(uuid.uuid4())
    db.execute("INSERT INTO tasks (id, owner_id, title) VALUES (%s, %s, 'Uploads')", (task_id, owner.id))
    return task_id


def assert_reconciled(db: psycopg.Connection, bucket: Bucket, task_id: str) -> int:
    """Every attachment row has its object and every object its row; no half-finished multipart upload; no
    recorded object still tagged pending, which S3 would expire under its row. A presigned form writes under
    uploads/, never a recorded key: what is left there must be pending, for S3 to expire, never kept."""
    rows = {row[0] for row in db.execute("SELECT storage_path FROM attachments WHERE task_id = %s", (task_id,))}
    prefix = f"tasks/{task_id}/"
    objects = set(bucket.objects(prefix))
    assert rows == objects, f"rows without objects: {rows - objects}; objects without rows: {objects - rows}"
    expiring = [key for key in objects if bucket.client.get_object_tagging(Bucket=bucket.name, Key=key)["TagSet"]]
    assert expiring == [], f"recorded objects that would expire: {expiring}"
    assert bucket.unfinished_uploads(prefix) == []
    uploads = bucket.objects(f"uploads/{task_id}/")
    tags = {key: bucket.client.get_object_tagging(Bucket=bucket.name, Key=key)["TagSet"] for key in uploads}
    kept_uploads = [key for key, tag_set in tags.items() if not tag_set]
    assert kept_uploads == [], f"uploads that would never expire: {kept_uploads}"
    return len(rows)


def multipart(filename_params: bytes, content: bytes, content_type: bytes = b"text/plain") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '.encode()
        + filename_params
        + b"\r\nContent-Type: "
        + content_type
        + b"\r\n\r\n"
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def post_raw(
    target: Api, owner: SignedInUser, task_id: str, body: bytes | Iterable[bytes], content_type: str
) -> requests.Response:
    return target.post(
        f"/api/v1/tasks/{task_id}/attachments",
        token=owner.access_token,
        data=body,
        headers={"Content-Type": content_type},
    )


def announced_too_large(target: Api, owner: SignedInUser, task_id: str) -> tuple[int, dict[str, Any]]:
    """Announces a body over the limit and sends only its start: the answer must not wait for the rest."""
    address = urlsplit(target.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        boundary = uuid.uuid4().hex
        connection.putrequest("POST", f"/api/v1/tasks/{task_id}/attachments")
        connection.putheader("Authorization", f"Bearer {owner.access_token}")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(REQUEST_LIMIT + 1))
        connection.endheaders(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'.encode()
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_oversize_bodies_are_cut_off_and_leave_nothing(
    target: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str, figures: Figures
) -> None:
    status, body = announced_too_large(target, owner, task_id)
    assert (status, body["error"]) == (413, {**body["error"], "code": "PAYLOAD_TOO_LARGE"})
    assert_reconciled(db, bucket, task_id)

    # The whole body, over the request limit.
    whole, content_type = multipart(b'filename="big.bin"', b"\x01" * REQUEST_LIMIT)
    assert_error(post_raw(target, owner, task_id, whole, content_type), 413, "PAYLOAD_TOO_LARGE")
    assert_reconciled(db, bucket, task_id)

    # Under the request limit, but the file itself one byte over MAX_UPLOAD_BYTES: measured while it streams.
    one_over, content_type = multipart(b'filename="one-over.bin"', b"\x02" * (MAX_UPLOAD_BYTES + 1))
    error = assert_error(post_raw(target, owner, task_id, one_over, content_type), 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"max_bytes": MAX_UPLOAD_BYTES}
    assert_reconciled(db, bucket, task_id)

    # Chunked, so no length is announced at all.
    chunked, content_type = multipart(b'filename="chunked.bin"', b"\x03" * (REQUEST_LIMIT + 1))
    chunks = (chunked[start : start + 16 * 1024] for start in range(0, len(chunked), 16 * 1024))
    assert post_raw(target, owner, task_id, chunks, content_type).status_code == 413
    assert_reconciled(db, bucket, task_id)

    # Exactly the limit is still accepted, and is the one thing kept.
    fits, content_type = multipart(b'filename="fits.bin"', b"\x04" * MAX_UPLOAD_BYTES)
    assert post_raw(target, owner, task_id, fits, content_type).status_code == 201
    assert assert_reconciled(db, bucket, task_id) == 1
    figures.add("oversize cases", 5)


HOSTILE_FILENAMES: list[tuple[str, bytes]] = [
    ("parent directories", b'filename="../../etc/passwd"'),
    ("windows path", b'filename="C:\\\\Windows\\\\system32\\\\evil.dll"'),
    ("absolute path", b'filename="/var/www/index.html"'),
    ("url-encoded traversal", b"filename*=UTF-8''..%2F..%2Fsecret.txt"),
    ("double quote", b"filename*=UTF-8''say%20%22hi%22.txt"),
    ("quote and semicolon", b"filename*=UTF-8''a%22%3B%20filename%3D%22evil.exe"),
    ("CRLF header injection", b"filename*=UTF-8''a.txt%0D%0AX-Injected%3A%20yes"),
    ("NUL byte", b"filename*=UTF-8''safe.txt%00.exe"),
    ("right-to-left override", b"filename*=UTF-8''invoice%E2%80%AEfdp.exe"),
    ("emoji", b"filename*=UTF-8''party%20%F0%9F%8E%89.png"),
    ("cyrillic", 'filename="отчёт.pdf"'.encode()),
    ("CJK", b"filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"),
    ("combining accents", b"filename*=UTF-8''re%CC%81sume%CC%81.pdf"),
    ("only dots", b'filename=".."'),
    ("blank", b'filename="   "'),
    ("very long", b'filename="' + b"x" * 600 + b'.txt"'),
    ("backslash escapes", b'filename="a\\\\b\\"c.txt"'),
]


@pytest.mark.parametrize("params", [case[1] for case in HOSTILE_FILENAMES], ids=[case[0] for case in HOSTILE_FILENAMES])
def test_hostile_filenames_are_stored_safely_and_download_under_a_safe_header(
    small_stack: RunningStack,
    db: psycopg.Connection,
    bucket: Bucket,
    owner: SignedInUser,
    task_id: str,
    params: bytes,
    figures: Figures,
) -> None:
    api = Api(small_stack.base_url)
    body, content_type = multipart(params, b"contents")
    created = post_raw(api, owner, task_id, body, content_type)
    figures.add("filename cases")
    assert created.status_code == 201, created.text
    name = created.json()["filename"]
    assert name and len(name) <= 255 and name not in (".", "..")
    assert not any(ch in name for ch in "/\\"), name
    assert not any(unicodedata.category(ch).startswith("C") for ch in name), repr(name)
    assert assert_reconciled(db, bucket, task_id) == 1
    [(stored_path,)] = db.execute("SELECT storage_path FROM attachments WHERE task_id = %s", (task_id,))
    assert stored_path == f"tasks/{task_id}/{created.json()['id']}"

    download = api.get(f"/api/v1/attachments/{created.json()['id']}/download", token=owner.access_token)
    header = download.headers["Content-Disposition"]
    assert header.isascii() and "\r" not in header and "\n" not in header, header
    assert "X-Injected" not in download.headers
    disposition, options = parse_options_header(header)
    assert disposition == "attachment"
    assert options["filename"] == name  # RFC 6266: filename* (UTF-8, RFC 8187) wins over the ASCII fallback
    assert download.content == b"contents"


@pytest.mark.parametrize(
    ("claimed", "stored"),
    [
        (b"image/png", "image/png"),
        (b"text/html", "text/html"),
        (b"TEXT/HTML; charset=utf-8", "text/html"),
        (b"not a type", "application/octet-stream"),
        (b"", "application/octet-stream"),
        (b"a/" + b"b" * 300, "application/octet-stream"),
        # Control characters could not be stored (NUL) or would reach the download's header: not a type either.
        (b"text/pl\x00ain", "application/octet-stream"),
        (b"text/\x01plain", "application/octet-stream"),
        (b"text/plain\x1b", "application/octet-stream"),
        (b"text/pl\x7fain", "application/octet-stream"),
        (b"image/p\xc3\xa9ng", "application/octet-stream"),
        (b"text/(plain)", "application/octet-stream"),
    ],
    ids=[
        "png",
        "html",
        "html-with-parameters",
        "not-a-type",
        "empty",
        "too-long",
        "nul",
        "control-character",
        "escape",
        "delete",
        "non-ascii",
        "separators",
    ],
)
def test_a_lying_content_type_is_never_rendered_by_the_browser(
    small_stack: RunningStack,
    db: psycopg.Connection,
    bucket: Bucket,
    owner: SignedInUser,
    task_id: str,
    claimed: bytes,
    stored: str,
    figures: Figures,
) -> None:
    api = Api(small_stack.base_url)
    script = b"<html><script>alert(document.cookie)</script></html>"
    body, content_type = multipart(b'filename="photo.png"', script, claimed)
    created = post_raw(api, owner, task_id, body, content_type)
    assert created.status_code == 201, created.text
    assert created.json()["content_type"] == stored
    download = api.get(f"/api/v1/attachments/{created.json()['id']}/download", token=owner.access_token)
    assert download.headers["Content-Type"].split(";")[0] == stored
    # Whatever it claims, it is a download, never sniffed or shown inline on the API's origin.
    assert parse_options_header(download.headers["Content-Disposition"])[0] == "attachment"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # And were it opened in the browser anyway, it would run no script on the API's origin.
    policy = download.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy, policy
    assert assert_reconciled(db, bucket, task_id) == 1
    figures.add("content-type cases")


def test_an_empty_file_is_refused_and_leaves_nothing(
    target: Api, db: psycopg.Connection, bucket: Bucket, owner: SignedInUser, task_id: str, figures: Figures
) -> None:
    body, content_type = multipart(b'filename="empty.txt"', b"")
    assert "file" in assert_error(post_raw(target, owner, task_id, body, content_type), 400)["details"]["fields"]
    assert assert_reconciled(db, bucket, task_id) == 0
    figures.add("empty-file cases")


def _ticket(api: Api, owner: SignedInUser, task_id: str) -> dict[str, str]:
    response = api.post(f"/api/v1/tasks/{task_id}/attachments/upload-url", token=owner.access_token, json={})
    assert response.status_code == 200, response.text
    ticket: dict[str, str] = response.json()
    return ticket


def _confirm(
    api: Api, owner: SignedInUser, task_id: str, attachment_id: str, filename: str = "direct.txt"
) -> requests.Response:
    return api.post(
        f"/api/v1/tasks/{task_id}/attachments/confirm",
        token=owner.access_token,
        json={"attachment_id": attachment_id, "filename": filename},
    )


def test_the_presigned_upload_cannot_be_confirmed_into_an_orphan(
    small_stack: RunningStack,
    db: psycopg.Connection,
    bucket: Bucket,
    owner: SignedInUser,
    task_id: str,
    figures: Figures,
) -> None:
    api = Api(small_stack.base_url)
    key = f"uploads/{task_id}/"

    # Confirmed without an upload.
    ticket = _ticket(api, owner, task_id)
    assert_error(_confirm(api, owner, task_id, ticket["attachment_id"]), 400, "VALIDATION_ERROR")
    assert_reconciled(db, bucket, task_id)

    # An object over the limit (a client ignoring the form's policy): refused, and the object removed.
    ticket = _ticket(api, owner, task_id)
    bucket.client.put_object(
        Bucket=bucket.name, Key=key + ticket["attachment_id"], Body=b"\x05" * (MAX_UPLOAD_BYTES + 1)
    )
    assert "file" in assert_error(_confirm(api, owner, task_id, ticket["attachment_id"]), 400)["details"]["fields"]
    assert assert_reconciled(db, bucket, task_id) == 0

    # An empty object: the same.
    ticket = _ticket(api, owner, task_id)
    bucket.client.put_object(Bucket=bucket.name, Key=key + ticket["attachment_id"], Body=b"")
    assert "file" in assert_error(_confirm(api, owner, task_id, ticket["attachment_id"]), 400)["details"]["fields"]
    assert assert_reconciled(db, bucket, task_id) == 0

    # Another task's upload cannot be claimed through this task: its key names the task it was issued for.
    other_task = str(uuid.uuid4())
    db.execute("INSERT INTO tasks (id, owner_id, title) VALUES (%s, %s, 'Other')", (other_task, owner.id))
    ticket = _ticket(api, owner, other_task)
    posted = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("x", b"elsewhere")}, timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    assert_error(_confirm(api, owner, task_id, ticket["attachment_id"]), 400, "VALIDATION_ERROR")
    assert assert_reconciled(db, bucket, task_id) == 0
    # Confirmed where it belongs, under a hostile name, it becomes an ordinary attachment.
    confirmed = _confirm(api, owner, other_task, ticket["attachment_id"], filename="../../x\r\n.txt")
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["filename"] == "x.txt"
    assert assert_reconciled(db, bucket, other_task) == 1
    # The form posted again after its confirmation writes its upload key only (pending, as S3 tags it from the
    # form; moto drops the field): the confirmed file is untouched and still kept.
    posted = requests.post(ticket["url"], data=ticket["fields"], files={"file": ("x", b"overwritten")}, timeout=30)
    assert posted.status_code in (200, 201, 204), posted.text
    upload_key = ticket["fields"]["key"]
    assert upload_key == f"uploads/{other_task}/{ticket['attachment_id']}"
    pending = {"TagSet": [{"Key": "upload", "Value": "pending"}]}
    bucket.client.put_object_tagging(Bucket=bucket.name, Key=upload_key, Tagging=pending)
    assert_error(_confirm(api, owner, other_task, ticket["attachment_id"]), 400, "VALIDATION_ERROR")
    downloaded = api.get(f"/api/v1/attachments/{ticket['attachment_id']}/download", token=owner.access_token)
    assert downloaded.content == b"elsewhere"
    assert assert_reconciled(db, bucket, other_task) == 1
    figures.add("presigned cases", 6)


@pytest.mark.parametrize("claimed", ["text/\x01plain", "text/\x7fplain", "image/p\u00e9ng", "text/ plain"])
def test_a_presigned_form_is_bound_only_to_a_clean_content_type(
    small_stack: RunningStack, owner: SignedInUser, task_id: str, claimed: str, figures: Figures
) -> None:
    api = Api(small_stack.base_url)
    ticket = api.post(
        f"/api/v1/tasks/{task_id}/attachments/upload-url", token=owner.access_token, json={"content_type": claimed}
    )
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["fields"]["Content-Type"] == "application/octet-stream"
    figures.add("content-type cases")


def test_a_file_stored_under_a_type_that_is_no_type_downloads_as_octet_stream(
    small_stack: RunningStack,
    db: psycopg.Connection,
    bucket: Bucket,
    owner: SignedInUser,
    task_id: str,
    figures: Figures,
) -> None:
    """A row written before content types were held to the media type syntax keeps its file downloadable: a
    control character would otherwise reach the answer's header, which the server refuses to send."""
    api = Api(small_stack.base_url)
    body, content_type = multipart(b'filename="old.txt"', b"stored long ago")
    created = post_raw(api, owner, task_id, body, content_type)
    assert created.status_code == 201, created.text
    db.execute("UPDATE attachments SET content_type = %s WHERE id = %s", ("text/\x01plain", created.json()["id"]))
    download = api.get(f"/api/v1/attachments/{created.json()['id']}/download", token=owner.access_token)
    assert download.status_code == 200, download.text
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.content == b"stored long ago"
    assert assert_reconciled(db, bucket, task_id) == 1
    figures.add("content-type cases")
