"""A multipart/form-data upload read as it arrives: the file part is handed on as a stream, never spooled.

werkzeug's form parser writes a whole file part to a temporary file before the view runs, so storage could only
start once the last byte had arrived. Here the body is decoded in step with storage's reads instead, with
werkzeug's own multipart decoder, so receiving and sending overlap and nothing reaches the disk.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import IO

from flask import Request
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from tasktracker.domain.errors import ValidationError

FILE_FIELD = "file"
RECEIVE_SIZE = 1024 * 1024
# Other fields are skipped, never kept; this only stops a body made of endless empty parts early.
MAX_PARTS = 100
# The decoder holds a part's headers (and a preamble) until they end; a real client's are a few hundred bytes,
# while file data never stays in its buffer beyond the read that brought it.
MAX_BUFFERED_BYTES = RECEIVE_SIZE + 64 * 1024


def missing_file() -> ValidationError:
    return ValidationError.for_field(FILE_FIELD, "Missing data for required field.")


def malformed_body() -> ValidationError:
    return ValidationError.for_field(FILE_FIELD, "The multipart body is malformed or ends before its last boundary.")


class FilePartStream:
    """The file part's bytes, read on demand. Its end is only reported once the whole body has been read and
    found complete, so a body cut short (a client gone mid-upload) fails the read instead of ending the file."""

    def __init__(self, source: IO[bytes], decoder: MultipartDecoder):
        self._source = source
        self._decoder = decoder
        self._received: deque[bytes] = deque()
        self._file_ended = False
        self._body_ended = False

    def next_event(self) -> File | Field | Data | Epilogue:
        try:
            event = self._decoder.next_event()
            while isinstance(event, NeedData):
                if len(self._decoder.buffer) > MAX_BUFFERED_BYTES:
                    raise malformed_body()
                self._decoder.receive_data(self._source.read(RECEIVE_SIZE) or None)
                event = self._decoder.next_event()
        except ValueError as error:
            # werkzeug's decoder says "cannot parse beyond ..." for a body that stops early, or names the flaw.
            raise malformed_body() from error
        if isinstance(event, (File, Field, Data, Epilogue)):
            return event
        # A preamble before the first boundary is allowed and means nothing.
        return self.next_event()

    def read(self, amount: int) -> bytes:
        buffered = sum(len(piece) for piece in self._received)
        while buffered < amount and not self._file_ended:
            event = self.next_event()
            if not isinstance(event, Data):
                raise malformed_body()
            if event.data:
                self._received.append(event.data)
                buffered += len(event.data)
            self._file_ended = not event.more_data
        if self._file_ended and not self._body_ended and buffered <= amount:
            self._read_to_the_end()
        return self._take(amount)

    def _take(self, amount: int) -> bytes:
        taken: list[bytes] = []
        while self._received and amount > 0:
            piece = self._received.popleft()
            if len(piece) > amount:
                self._received.appendleft(piece[amount:])
                piece = piece[:amount]
            taken.append(piece)
            amount -= len(piece)
        return taken[0] if len(taken) == 1 else b"".join(taken)

    def _read_to_the_end(self) -> None:
        # Parts after the file are skipped; the closing boundary must arrive for the file to count as whole.
        while not isinstance(self.next_event(), Epilogue):
            pass
        self._body_ended = True


@dataclass(frozen=True)
class StreamedFile:
    filename: str | None
    content_type: str | None
    stream: FilePartStream


def open_file_part(request: Request) -> StreamedFile:
    """Reads the body up to the start of the `file` part's bytes; the rest is read as the stream is.

    `request.stream` enforces MAX_CONTENT_LENGTH, announced or (chunked) as it is read."""
    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = options.get("boundary", "").encode("latin-1", "replace")
    if mimetype != "multipart/form-data" or not boundary:
        raise missing_file()
    decoder = MultipartDecoder(boundary, max_parts=MAX_PARTS)
    stream = FilePartStream(request.stream, decoder)
    while True:
        event = stream.next_event()
        if isinstance(event, Epilogue):
            raise missing_file()
        if isinstance(event, File) and event.name == FILE_FIELD:
            return StreamedFile(event.filename, event.headers.get("content-type"), stream)
