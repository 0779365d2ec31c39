"""Attachments in S3 through boto3: streamed in bounded memory, never trusted past their size limit."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, BinaryIO, TypeVar

import boto3
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError

from tasktracker.application.ports import PresignedUpload, StoredObject
from tasktracker.config import Settings
from tasktracker.domain.errors import NotFoundError, PayloadTooLargeError, ServiceUnavailableError

logger = logging.getLogger(__name__)

# Downloads move in 1 MiB reads: one Python iteration and one socket write per MiB, not per 64 KiB.
CHUNK_SIZE = 1024 * 1024
# An upload larger than one part goes up as an S3 multipart upload while it is still being received: parts of
# 8 MiB, up to three sending while the next is read, so it holds about 32 MiB whatever the file's size.
PART_SIZE = 8 * 1024 * 1024
PARTS_IN_FLIGHT = 3
# Each part carries its CRC32, as s3transfer sends them, and S3 checks the whole object's from them on completion.
PART_CHECKSUM = "CRC32"

T = TypeVar("T")

# Every object is written with this tag and loses it once its row is committed; the bucket's lifecycle rule
# (below, and infra/aws/template.yaml) expires what still carries it. The bucket's objects carry no other tag.
PENDING_TAG_KEY = "upload"
PENDING_TAG_VALUE = "pending"
PENDING_TAGGING_HEADER = f"{PENDING_TAG_KEY}={PENDING_TAG_VALUE}"
PENDING_TAGGING_XML = (
    f"<Tagging><TagSet><Tag><Key>{PENDING_TAG_KEY}</Key><Value>{PENDING_TAG_VALUE}</Value></Tag></TagSet></Tagging>"
)
PENDING_EXPIRY_DAYS = 1
# The most keys one DeleteObjects call takes.
DELETE_BATCH = 1000
BUCKET_LIFECYCLE: dict[str, Any] = {
    "Rules": [
        {
            "ID": "expire-unrecorded-uploads",
            "Status": "Enabled",
            "Filter": {"Tag": {"Key": PENDING_TAG_KEY, "Value": PENDING_TAG_VALUE}},
            "Expiration": {"Days": PENDING_EXPIRY_DAYS},
        },
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": PENDING_EXPIRY_DAYS},
        },
    ]
}


class _LimitedReader:
    """Counts what passes through and stops the transfer the moment it exceeds the limit."""

    def __init__(self, stream: BinaryIO, max_bytes: int):
        self._stream = stream
        self._max_bytes = max_bytes
        self.size = 0

    def read(self, amount: int) -> bytes:
        # Never more than one byte past the limit is asked for, so an oversize body is cut right there.
        chunk = self._stream.read(min(amount, self._max_bytes + 1 - self.size))
        self.size += len(chunk)
        if self.size > self._max_bytes:
            raise PayloadTooLargeError(
                f"The file is larger than the {self._max_bytes // (1024 * 1024)} MiB allowed",
                details={"max_bytes": self._max_bytes},
            )
        return chunk

    def read_part(self) -> bytes:
        """The next PART_SIZE bytes, fewer only at the end of the stream."""
        pieces: list[bytes] = []
        wanted = PART_SIZE
        while wanted > 0:
            piece = self.read(wanted)
            if not piece:
                break
            pieces.append(piece)
            wanted -= len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3FileStorage:
    def __init__(
        self, client: Any, bucket: str, presign_client: Any | None = None, completing_client: Any | None = None
    ):
        self._client = client
        self._presign_client = presign_client or client
        self._completing_client = completing_client or client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3FileStorage:
        config = Config(
            signature_version="s3v4",
            connect_timeout=3,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": "path"},
        )
        session = boto3.session.Session(region_name=settings.s3_region)
        client = session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
        presign_client = (
            session.client("s3", endpoint_url=settings.s3_public_endpoint_url, config=config)
            if settings.s3_public_endpoint_url
            else client
        )
        # S3 may take minutes to assemble a large object (it keeps the connection alive meanwhile); a retry of
        # a completion that timed out only races the first one.
        completing_client = session.client(
            "s3", endpoint_url=settings.s3_endpoint_url, config=config.merge(Config(read_timeout=600))
        )
        storage = cls(client, settings.s3_bucket, presign_client, completing_client)
        storage.ensure_bucket()
        return storage

    def ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if not _is_missing(error):
                raise
            self._client.create_bucket(Bucket=self.bucket)
            self._client.put_bucket_lifecycle_configuration(Bucket=self.bucket, LifecycleConfiguration=BUCKET_LIFECYCLE)
            logger.info("created bucket", extra={"bucket": self.bucket})
        except BotoCoreError:
            # Storage may come up after the function; uploads will answer 503 until it does.
            logger.warning("S3 is unreachable at start-up", extra={"bucket": self.bucket})

    def _call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except (BotoCoreError, ClientError) as error:
            if isinstance(error, ClientError):
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
                if status < 500 and not _is_missing(error):
                    raise
            raise ServiceUnavailableError(
                "File storage is unavailable, please retry shortly", code="S3_UNAVAILABLE"
            ) from error

    def put(self, key: str, stream: BinaryIO, content_type: str, max_bytes: int) -> int:
        reader = _LimitedReader(stream, max_bytes)
        try:
            first = reader.read_part()
            if len(first) < PART_SIZE:
                self._call(
                    lambda: self._client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=first,
                        ContentType=content_type,
                        Tagging=PENDING_TAGGING_HEADER,
                    )
                )
            else:
                self._put_in_parts(key, reader, first, content_type)
        except BaseException:
            # A PUT or a completion that failed only as far as we could tell may have stored the object.
            self._forget(key)
            raise
        return reader.size

    def _put_in_parts(self, key: str, reader: _LimitedReader, first: bytes, content_type: str) -> None:
        """Sends each part while the next one is received; any failure aborts the upload, so no part is kept."""
        created = self._call(
            lambda: self._client.create_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                ContentType=content_type,
                Tagging=PENDING_TAGGING_HEADER,
                ChecksumAlgorithm=PART_CHECKSUM,
            )
        )
        upload_id: str = created["UploadId"]
        pool = ThreadPoolExecutor(PARTS_IN_FLIGHT, thread_name_prefix="s3-part")
        sending: deque[Future[dict[str, Any]]] = deque()
        try:
            parts: list[dict[str, Any]] = []
            body, number = first, 1
            while body:
                if len(sending) == PARTS_IN_FLIGHT:
                    parts.append(sending.popleft().result())
                sending.append(pool.submit(self._upload_part, key, upload_id, number, body))
                body, number = reader.read_part(), number + 1
            parts.extend(future.result() for future in sending)
            self._call(
                lambda: self._completing_client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            )
        except BaseException:
            # Parts still sending finish first: an abort followed by a late part would leave that part behind.
            pool.shutdown(wait=True, cancel_futures=True)
            self._abort(key, upload_id)
            raise
        finally:
            pool.shutdown(wait=False)

    def _upload_part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        sent = self._call(
            lambda: self._client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ChecksumAlgorithm=PART_CHECKSUM,
            )
        )
        return {
            "PartNumber": number,
            "ETag": sent["ETag"],
            f"Checksum{PART_CHECKSUM}": sent[f"Checksum{PART_CHECKSUM}"],
        }

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (BotoCoreError, ClientError):
            # The bucket's lifecycle rule aborts it after a day.
            logger.warning("could not abort a multipart upload", extra={"storage_key": key, "upload_id": upload_id})

    def _forget(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError):
            logger.warning("could not remove a partial object", extra={"storage_key": key})

    def open(self, key: str) -> StoredObject:
        try:
            response = self._call(lambda: self._client.get_object(Bucket=self.bucket, Key=key))
        except ServiceUnavailableError as error:
            if isinstance(error.__cause__, ClientError) and _is_missing(error.__cause__):
                # A row without its file: retrying cannot help, so this is not a 503.
                logger.error("stored object is missing", extra={"storage_key": key})
                raise NotFoundError("The attachment's file is missing", code="ATTACHMENT_FILE_MISSING") from error
            raise
        body: IO[bytes] = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from iter(lambda: body.read(CHUNK_SIZE), b"")
            finally:
                body.close()

        return StoredObject(int(response["ContentLength"]), response.get("ContentType") or "", chunks())

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self._call(lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        except ServiceUnavailableError as error:
            cause = error.__cause__
            if isinstance(cause, ClientError) and _is_missing(cause):
                return None
            raise
        return StoredObject(int(response["ContentLength"]), response.get("ContentType") or "", iter(()))

    def copy_pending(self, source: str, target: str) -> StoredObject | None:
        # Server-side: the bytes never pass through the function. The content type and metadata are copied as
        # stored; the tags are replaced, so the copy is pending whatever the source carries.
        try:
            self._call(
                lambda: self._client.copy_object(
                    Bucket=self.bucket,
                    Key=target,
                    CopySource={"Bucket": self.bucket, "Key": source},
                    MetadataDirective="COPY",
                    TaggingDirective="REPLACE",
                    Tagging=PENDING_TAGGING_HEADER,
                )
            )
        except ServiceUnavailableError as error:
            cause = error.__cause__
            if isinstance(cause, ClientError) and _is_missing(cause):
                return None
            raise
        return self.head(target)

    def mark_kept(self, key: str) -> bool:
        try:
            self._call(lambda: self._client.delete_object_tagging(Bucket=self.bucket, Key=key))
        except ServiceUnavailableError as error:
            cause = error.__cause__
            if isinstance(cause, ClientError) and _is_missing(cause):
                return False
            raise
        return True

    def mark_pending(self, key: str) -> None:
        tagging = {"TagSet": [{"Key": PENDING_TAG_KEY, "Value": PENDING_TAG_VALUE}]}
        try:
            self._call(lambda: self._client.put_object_tagging(Bucket=self.bucket, Key=key, Tagging=tagging))
        except ServiceUnavailableError as error:
            cause = error.__cause__
            if not (isinstance(cause, ClientError) and _is_missing(cause)):
                raise

    def delete(self, key: str) -> None:
        self._call(lambda: self._client.delete_object(Bucket=self.bucket, Key=key))

    def delete_many(self, keys: Sequence[str]) -> dict[str, str]:
        refused: dict[str, str] = {}
        for start in range(0, len(keys), DELETE_BATCH):
            refused.update(self._delete_batch(keys[start : start + DELETE_BATCH]))
        return refused

    def _delete_batch(self, keys: Sequence[str]) -> dict[str, str]:
        """One DeleteObjects call. S3 answers it with 200 even when it refuses some keys: those come back in
        Errors, one entry each, and stay in the bucket."""
        response = self._call(
            lambda: self._client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
            )
        )
        refused: dict[str, str] = {}
        for error in response.get("Errors", []):
            code = error.get("Code", "")
            # A key that is already gone is what a delete wants.
            if code not in ("NoSuchKey", "NotFound"):
                refused[error.get("Key", "")] = f"{code}: {error.get('Message', '')}"
        return refused

    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedUpload:
        post = self._presign_client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type, "tagging": PENDING_TAGGING_XML},
            # Exact matches: a form without the pending tag, or with another, is refused by S3.
            Conditions=[
                {"Content-Type": content_type},
                {"tagging": PENDING_TAGGING_XML},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=expires_in,
        )
        return PresignedUpload(url=post["url"], fields=dict(post["fields"]), expires_in=expires_in)
