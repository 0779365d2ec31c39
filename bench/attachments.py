"""A large file up and down through the router, against boto3 moving the same bytes to the same S3 directly.

The file is never held in memory: a 1 MiB block of random bytes, each copy stamped with its index, is streamed
as the multipart body. While a transfer runs, the attachments function's processes (gunicorn and its worker)
are sampled for resident memory; the figure is the peak above their idle size before the transfer.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

import boto3
import psutil  # type: ignore[import-untyped]
import requests
from boto3.s3.transfer import TransferConfig

BLOCK = 1024 * 1024
BOUNDARY = "bench-" + uuid.uuid4().hex


class GeneratedFile:
    """`size` bytes of random-looking content, read in pieces and never kept whole."""

    def __init__(self, size: int, prefix: bytes = b"", suffix: bytes = b""):
        self.size = size
        self._block = os.urandom(BLOCK)
        self._parts: Iterator[bytes] = self._generate(prefix, suffix)
        self._piece = b""
        self._offset = 0
        self.len = len(prefix) + size + len(suffix)

    def __len__(self) -> int:
        return self.len

    def _generate(self, prefix: bytes, suffix: bytes) -> Iterator[bytes]:
        yield prefix
        sent = 0
        index = 0
        while sent < self.size:
            block = index.to_bytes(8, "big") + self._block[8:]
            piece = block[: self.size - sent]
            sent += len(piece)
            index += 1
            yield piece
        yield suffix

    def read(self, amount: int = -1) -> bytes:
        """Up to `amount` bytes (everything left for -1); slices the current piece instead of copying the rest."""
        out: list[bytes] = []
        wanted = amount if amount >= 0 else self.len
        while wanted > 0:
            if self._offset >= len(self._piece):
                piece = next(self._parts, None)
                if piece is None:
                    break
                self._piece, self._offset = piece, 0
            taken = self._piece[self._offset : self._offset + wanted]
            self._offset += len(taken)
            wanted -= len(taken)
            out.append(taken)
        return b"".join(out)


def multipart_file(size: int, filename: str) -> GeneratedFile:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return GeneratedFile(size, head, f"\r\n--{BOUNDARY}--\r\n".encode())


class MemorySampler:
    """Peak resident memory of a process and its children, sampled every 20 ms on a thread."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Transfer:
    mb_per_s: float
    seconds: float
    peak_over_idle_mib: float | None = None


def timed(action: Callable[[], int], size: int) -> tuple[float, float]:
    started = time.perf_counter()
    moved = action()
    seconds = time.perf_counter() - started
    if moved != size:
        raise RuntimeError(f"moved {moved} bytes, expected {size}")
    return size / seconds / 1e6, seconds


def through_router(base_url: str, token: str, task_id: str, size: int, function_pid: int) -> dict[str, Transfer]:
    headers = {"Authorization": f"Bearer {token}"}
    sampler = MemorySampler(function_pid)
    idle = sampler.rss()
    attachment: dict[str, Any] = {}

    def upload() -> int:
        body = multipart_file(size, f"bench-{size}.bin")
        answer = requests.post(
            f"{base_url}/api/v1/tasks/{task_id}/attachments",
            data=body,
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=1800,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"upload answered {answer.status_code}: {answer.text[:500]}")
        attachment.update(answer.json())
        return int(attachment["size_bytes"])

    def download() -> int:
        moved = 0
        url = f"{base_url}/api/v1/attachments/{attachment['id']}/download"
        with requests.get(url, headers=headers, stream=True, timeout=1800) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_content(BLOCK):
                moved += len(chunk)
        return moved

    figures = {}
    for name, action in (("upload", upload), ("download", download)):
        sampler = MemorySampler(function_pid)
        with sampler:
            rate, seconds = timed(action, size)
        figures[name] = Transfer(rate, seconds, (sampler.peak - idle) / 2**20)
    requests.delete(f"{base_url}/api/v1/attachments/{attachment['id']}", headers=headers, timeout=600)
    return figures


def direct_boto3(endpoint_url: str, bucket: str, size: int) -> dict[str, Transfer]:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    key = f"bench/{uuid.uuid4()}"
    config = TransferConfig()

    def upload() -> int:
        client.upload_fileobj(cast(IO[bytes], GeneratedFile(size)), bucket, key, Config=config)
        return size

    def download() -> int:
        # One streamed GET, as the function does: download_fileobj's ranged GETs make moto copy the whole object
        # for every range, which would make the floor, not the function, the slow side.
        moved = 0
        for chunk in client.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(BLOCK):
            moved += len(chunk)
        return moved

    figures = {}
    for name, action in (("upload", upload), ("download", download)):
        rate, seconds = timed(action, size)
        figures[name] = Transfer(rate, seconds)
    client.delete_object(Bucket=bucket, Key=key)
    return figures
