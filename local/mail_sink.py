"""A real SMTP server that keeps every message it accepts in a folder, and shows them over a small HTTP API.

It stands in for a mail provider on a developer's machine (make up) and in the tests. The folder holds:
    <name>.eml       one message, named after its Message-ID: a resend with the same Message-ID replaces it, so
                     the mailbox holds each message once, as a mail provider that recognises duplicates would
    receipts.jsonl   one line per message accepted, resends included: {"message_id", "to", "subject",
                     "received_at"}, so a resend can be seen even though the mailbox shows the message once

The HTTP API is a subset of Mailpit's (same paths, same field names), so that checks written against it also run
against Mailpit in docker compose. As in Mailpit, MessageID is the Message-ID without its angle brackets. Unlike
Mailpit (by default), a resend replaces the message instead of adding a second one.
    GET /api/v1/messages                  {"total", "messages_count", "start", "messages": [...]}, newest first
    GET /api/v1/message/<ID>              one message, with "Text" (its plain-text body, with the CRLF line ends
                                          it travelled with); ID "latest" for the newest
    GET /api/v1/message/<ID>/headers      {"Header-Name": ["value", ...]}
    GET /api/v1/message/<ID>/raw          the message as received
    GET /livez, /readyz                   200 while it runs

Run on its own: python -m local.mail_sink --folder DIR [--smtp-port 1025] [--http-port 8025] [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import re
import signal
import socket
import ssl
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self, cast
from urllib.parse import urlsplit
from uuid import uuid4

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

logger = logging.getLogger("tasktracker.local.mail")

RECEIPTS_FILE = "receipts.jsonl"
MESSAGE_SUFFIX = ".eml"
SNIPPET_LENGTH = 250
# What a message's file name may hold: its ID in the API is the name without the suffix, so the same pattern
# keeps a requested ID from reaching outside the folder.
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]")
_MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_@+=-][A-Za-z0-9._@+=-]{0,199}$")
_MESSAGE_PATH = re.compile(r"^/api/v1/message/([^/]+)(/headers|/raw)?$")

OnStored = Callable[["StoredMessage"], None]


def bare_message_id(message_id: str | None) -> str:
    return (message_id or "").strip().removeprefix("<").removesuffix(">").strip()


def message_file_id(message_id: str | None) -> str:
    """The file name (less .eml) a message is kept under: readable, safe on any file system, the same for the
    same Message-ID and different for different ones (the digest tells apart IDs that read the same once
    made safe). A message without a Message-ID gets a name of its own."""
    bare = bare_message_id(message_id)
    if not bare:
        return f"no-message-id-{uuid4().hex}"
    readable = _UNSAFE.sub("_", bare)[:80].lstrip(".") or "message"
    digest = hashlib.sha256(bare.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{readable}-{digest}"


@dataclass(frozen=True)
class StoredMessage:
    """A message as kept: `id` is its ID in the HTTP API, `message_id` its Message-ID without angle brackets."""

    id: str
    path: Path
    message_id: str
    subject: str
    sender: str
    to: tuple[str, ...]
    created: datetime
    size: int

    def parsed(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.path.read_bytes())

    @property
    def text(self) -> str:
        body = self.parsed().get_body(preferencelist=("plain",))
        return cast(str, body.get_content()) if body is not None else ""

    @classmethod
    def load(cls, path: Path) -> StoredMessage:
        with path.open("rb") as file:
            headers = BytesParser(policy=policy.default).parse(file, headersonly=True)
        stat = path.stat()
        return cls(
            id=path.name.removesuffix(MESSAGE_SUFFIX),
            path=path,
            message_id=bare_message_id(headers.get("Message-ID")),
            subject=str(headers.get("Subject", "")),
            sender=parseaddr(str(headers.get("From", "")))[1],
            to=tuple(address for _, address in getaddresses([str(value) for value in headers.get_all("To", [])])),
            created=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC),
            size=stat.st_size,
        )


@dataclass(frozen=True)
class Receipt:
    message_id: str
    to: tuple[str, ...]
    subject: str
    received_at: datetime


class _SmtpHandler:
    """aiosmtpd's hooks: ask for the login it was given, refuse the recipients it was told to, keep each message
    before saying 250."""

    def __init__(self, sink: MailSink):
        self.sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        # Checked here rather than with aiosmtpd's auth_required, which warns on every session that AUTH is
        # allowed without TLS: here that is the point (loopback, and clients tested with and without TLS).
        if self.sink.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.sink.refused_recipients:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        loop = asyncio.get_running_loop()
        content = envelope.original_content or b""
        try:
            stored = await loop.run_in_executor(None, self.sink.keep, content, tuple(envelope.rcpt_tos))
        except Exception:
            logger.exception("could not keep a message")
            return "451 4.3.0 The message could not be kept, try again later"
        if self.sink.on_stored is not None:
            try:
                await loop.run_in_executor(None, self.sink.on_stored, stored)
            except Exception:
                logger.exception("the hook after keeping %s failed", stored.id)
                return "451 4.3.0 Try again later"
        return "250 OK: kept"


class _BoundController(Controller):
    """aiosmtpd's threaded server on a socket bound beforehand, so port 0 works and the port is known."""

    def __init__(self, handler: _SmtpHandler, listener: socket.socket, **smtp_parameters: Any):
        host, port = listener.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **smtp_parameters)
        self.listener = listener

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self.listener, ssl=self.ssl_context)


class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, sink: MailSink):
        self.address_family = _family(host)
        self.sink = sink
        super().__init__((host, port), _ApiHandler)


class _ApiHandler(BaseHTTPRequestHandler):
    server: _ApiServer

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        sink = self.server.sink
        if path in ("/livez", "/readyz"):
            self._send(200, b"ok", "text/plain")
            return
        if path == "/api/v1/messages":
            messages = sink.messages()
            self._json(
                {
                    "total": len(messages),
                    "messages_count": len(messages),
                    "start": 0,
                    "messages": [_summary(message) for message in messages],
                }
            )
            return
        match = _MESSAGE_PATH.match(path)
        message = sink.message(match.group(1)) if match else None
        if match is None or message is None:
            self._send(404, b"not found", "text/plain")
        elif match.group(2) == "/raw":
            self._send(200, message.path.read_bytes(), "text/plain; charset=utf-8")
        elif match.group(2) == "/headers":
            headers: dict[str, list[str]] = {}
            for name, value in message.parsed().items():
                headers.setdefault(name, []).append(str(value))
            self._json(headers)
        else:
            self._json(_detail(message))

    def _json(self, payload: object) -> None:
        self._send(200, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("api: " + format, *args)


def _address(value: str) -> dict[str, str]:
    name, address = parseaddr(value)
    return {"Name": name, "Address": address}


def _addresses(message: EmailMessage, header: str) -> list[dict[str, str]]:
    values = [str(value) for value in message.get_all(header, [])]
    return [{"Name": name, "Address": address} for name, address in getaddresses(values)]


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _summary(message: StoredMessage) -> dict[str, Any]:
    parsed = message.parsed()
    body = parsed.get_body(preferencelist=("plain",))
    text = cast(str, body.get_content()) if body is not None else ""
    return {
        "ID": message.id,
        "MessageID": message.message_id,
        "Read": False,
        "From": _address(str(parsed.get("From", ""))),
        "To": _addresses(parsed, "To"),
        "Cc": _addresses(parsed, "Cc"),
        "Subject": message.subject,
        "Created": _timestamp(message.created),
        "Size": message.size,
        "Snippet": " ".join(text.split())[:SNIPPET_LENGTH],
    }


def _detail(message: StoredMessage) -> dict[str, Any]:
    parsed = message.parsed()
    try:
        date = _timestamp(parsedate_to_datetime(str(parsed["Date"]))) if parsed["Date"] else None
    except (TypeError, ValueError):
        date = None
    return {
        "ID": message.id,
        "MessageID": message.message_id,
        "From": _address(str(parsed.get("From", ""))),
        "To": _addresses(parsed, "To"),
        "Cc": _addresses(parsed, "Cc"),
        "Bcc": [],
        "ReplyTo": _addresses(parsed, "Reply-To"),
        "Subject": message.subject,
        "Date": date or _timestamp(message.created),
        "Text": message.text,
        "HTML": "",
        "Size": message.size,
        "Attachments": [],
        "Inline": [],
        "Tags": [],
    }


def _family(host: str) -> socket.AddressFamily:
    return socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]


class MailSink:
    """The SMTP server and the HTTP API, each on its own thread, until stop().

    `smtp_port`/`http_port`: 0 for any free one (the ports bound are the attributes of the same names once
    started). `refused_recipients`: addresses refused at RCPT TO with 550, as a provider refuses an unknown
    mailbox. `credentials`: (user, password) a client must log in with (AUTH PLAIN or LOGIN, allowed without
    TLS since the sink is for loopback). `tls_context`: STARTTLS is offered, with this server certificate.
    `on_stored`: called with each message once it is kept and before the
    client is told so (250), on a thread of its own; while it runs, the client waits for that answer.
    """

    def __init__(
        self,
        folder: Path | str,
        smtp_port: int = 0,
        http_port: int = 0,
        *,
        host: str = "127.0.0.1",
        refused_recipients: Iterable[str] = (),
        credentials: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        on_stored: OnStored | None = None,
    ):
        self.folder = Path(folder)
        self.host = host
        self.smtp_port = smtp_port
        self.http_port = http_port
        self.refused_recipients = frozenset(address.lower() for address in refused_recipients)
        self.credentials = credentials
        self.tls_context = tls_context
        self.on_stored = on_stored
        self._lock = threading.Lock()
        self._controller: _BoundController | None = None
        self._api: _ApiServer | None = None
        self._api_thread: threading.Thread | None = None

    @property
    def http_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.http_port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        listener = socket.create_server((self.host, self.smtp_port), family=_family(self.host))
        smtp_parameters: dict[str, Any] = {"server_hostname": "mail-sink.localhost"}
        if self.credentials is not None:
            smtp_parameters.update(auth_require_tls=False, authenticator=self._authenticate)
        if self.tls_context is not None:
            smtp_parameters["tls_context"] = self.tls_context
        controller = _BoundController(_SmtpHandler(self), listener, **smtp_parameters)
        try:
            controller.start()
        except BaseException:
            listener.close()
            raise
        self._controller = controller
        self.smtp_port = listener.getsockname()[1]
        try:
            self._api = _ApiServer(self.host, self.http_port, self)
        except BaseException:
            self.stop()
            raise
        self.http_port = self._api.server_address[1]
        # A short poll: stop() waits up to this long for the loop to notice.
        self._api_thread = threading.Thread(
            target=self._api.serve_forever, args=(0.05,), name="mail-sink-api", daemon=True
        )
        self._api_thread.start()

    def stop(self) -> None:
        if self._api is not None:
            self._api.shutdown()
            self._api.server_close()
            self._api = None
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        valid = (
            self.credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password) == tuple(part.encode() for part in self.credentials)
        )
        # handled=False: aiosmtpd answers a refusal with its 535 (handled=True would leave the client waiting).
        return AuthResult(success=valid, handled=False)

    def keep(self, content: bytes, recipients: tuple[str, ...]) -> StoredMessage:
        """Writes the message (replacing one with the same Message-ID) and its receipt; what the SMTP handler
        calls before answering 250."""
        headers = BytesParser(policy=policy.default).parsebytes(content, headersonly=True)
        message_id = headers.get("Message-ID")
        path = self.folder / f"{message_file_id(str(message_id) if message_id else None)}{MESSAGE_SUFFIX}"
        received_at = datetime.now(UTC)
        with self._lock:
            # Written aside, then renamed over: the API never reads half a message.
            descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".incoming-")
            try:
                os.fchmod(descriptor, 0o644)
                with os.fdopen(descriptor, "wb") as file:
                    file.write(content)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            stored = StoredMessage.load(path)
            receipt = {
                "message_id": stored.message_id,
                "to": list(recipients),
                "subject": stored.subject,
                "received_at": _timestamp(received_at),
            }
            with (self.folder / RECEIPTS_FILE).open("a", encoding="utf-8") as receipts:
                receipts.write(json.dumps(receipt) + "\n")
                receipts.flush()
                os.fsync(receipts.fileno())
        logger.info("kept <%s> for %s in %s", stored.message_id, ", ".join(recipients), path)
        return stored

    def messages(self) -> list[StoredMessage]:
        """Every message kept, newest first."""
        found = []
        for path in self.folder.glob(f"*{MESSAGE_SUFFIX}"):
            try:
                found.append(StoredMessage.load(path))
            except FileNotFoundError:
                continue  # replaced by a resend while listed
        return sorted(found, key=lambda message: (message.created, message.id), reverse=True)

    def message(self, message_id: str) -> StoredMessage | None:
        """The message with this API ID ("latest": the newest), or None."""
        if message_id == "latest":
            messages = self.messages()
            return messages[0] if messages else None
        if not _MESSAGE_ID_PATTERN.match(message_id):
            return None
        try:
            return StoredMessage.load(self.folder / f"{message_id}{MESSAGE_SUFFIX}")
        except FileNotFoundError:
            return None

    def receipts(self) -> list[Receipt]:
        """Every message accepted, resends included, oldest first."""
        path = self.folder / RECEIPTS_FILE
        if not path.exists():
            return []
        receipts = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                receipts.append(
                    Receipt(
                        message_id=row["message_id"],
                        to=tuple(row["to"]),
                        subject=row["subject"],
                        received_at=datetime.fromisoformat(row["received_at"].replace("Z", "+00:00")),
                    )
                )
        return receipts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local SMTP server keeping messages in a folder, with an API.")
    parser.add_argument("--folder", type=Path, required=True, help="where messages and receipts are kept")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # aiosmtpd logs every command of every session at INFO: the one line per message kept is what tells.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sink = MailSink(args.folder, args.smtp_port, args.http_port, host=args.host)
    sink.start()
    logger.info(
        "mail sink: SMTP on %s port %d, API on %s, keeping messages in %s",
        args.host,
        sink.smtp_port,
        sink.http_url,
        args.folder,
    )
    try:
        stopping.wait()
    finally:
        sink.stop()
    logger.info("mail sink stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
