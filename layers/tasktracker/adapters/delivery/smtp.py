"""E-mail handed to an SMTP server, one connection per message.

The password in SMTP_URL never leaves this module: it is in no error, no log line and no repr.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from ipaddress import ip_address
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from tasktracker.application.ports import DeliveryFailed, OutgoingEmail

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
STARTTLS_MODES = ("auto", "required")
# The server wants a login this sender was not configured with: a setting to fix, the message can wait for it.
AUTHENTICATION_REQUIRED = 530


class _Client(smtplib.SMTP):
    """smtplib's client, keeping the server's reply code to the message itself (after its DATA): `sendmail`
    checks it and returns only the refused recipients."""

    message_reply_code: int

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        code, reply = super().data(msg)
        self.message_reply_code = code
        return code, reply


class _TlsClient(smtplib.SMTP_SSL, _Client):
    """The same in TLS from the first byte (smtps://): SMTP_SSL's connection, the reply kept as above."""


class SmtpEmailSender:
    """`smtp_url`: smtp://[user:password@]host[:port][?starttls=required] (STARTTLS whenever the server offers
    it; `required` refuses a server that does not) or smtps://[user:password@]host[:port] (TLS from the first
    byte). User and password are percent-decoded. `ssl_context` replaces the system's trust (a private CA);
    `local_hostname` is the name given in EHLO (the machine's name by default, without a DNS lookup)."""

    def __init__(
        self,
        smtp_url: str,
        timeout_seconds: float = 10,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ):
        try:
            parts = urlsplit(smtp_url)
            port = parts.port
        except ValueError:
            raise ValueError("SMTP_URL is not a valid URL") from None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("SMTP_URL must be smtp://host[:port] or smtps://host[:port]")
        options = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(options) - {"starttls"}
        if unknown:
            raise ValueError(f"SMTP_URL has unknown options: {', '.join(sorted(unknown))}")
        starttls = options.get("starttls", ["auto"])[-1]
        if starttls not in STARTTLS_MODES or (parts.scheme == "smtps" and "starttls" in options):
            raise ValueError("SMTP_URL's starttls option is for smtp:// only, and must be auto or required")
        self.implicit_tls = parts.scheme == "smtps"
        self.starttls_required = starttls == "required"
        self.host = parts.hostname
        self.port = port or DEFAULT_PORTS[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password or "")
        self.timeout_seconds = timeout_seconds
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname or socket.gethostname()

    def __repr__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"SmtpEmailSender({'smtps' if self.implicit_tls else 'smtp'}://{user}{self.host}:{self.port})"

    def send(self, email: OutgoingEmail) -> int:
        try:
            message = build_message(email)
        except ValueError as exc:
            # A header that would break the message (a newline in the subject): the same on every attempt.
            raise DeliveryFailed(f"The message cannot be built: {exc}", permanent=True) from None
        sender = parseaddr(email.sender)[1] or email.sender
        recipient = parseaddr(email.to)[1] or email.to
        where = f"{self.host}:{self.port}"
        try:
            client = self._open()
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"The SMTP server {where} cannot be reached: {_describe(exc)}") from None
        try:
            self._prepare(client)
            client.send_message(message, from_addr=sender, to_addrs=[recipient])
            return client.message_reply_code
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _refusal(f"{where} refused the recipient", code, reply) from None
        except smtplib.SMTPResponseException as exc:
            # MAIL FROM or DATA refused (SMTPSenderRefused, SMTPDataError), or a refused login.
            what = "the login" if isinstance(exc, smtplib.SMTPAuthenticationError) else "the message"
            permanent_if_5xx = what != "the login" and exc.smtp_code != AUTHENTICATION_REQUIRED
            raise _refusal(f"{where} refused {what}", exc.smtp_code, exc.smtp_error, permanent_if_5xx) from None
        except (OSError, smtplib.SMTPException) as exc:
            # Disconnected or silent before it said 250 to the message: it may or may not have kept it, and the
            # resend carries the same Message-ID for the mailbox to recognise it.
            raise DeliveryFailed(f"The SMTP exchange with {where} failed: {_describe(exc)}") from None
        except ValueError as exc:
            # What smtplib cannot put on the wire (an address it cannot encode). After OSError,
            # which a certificate error also is: the same on every attempt.
            raise DeliveryFailed(f"The message cannot be sent as it is: {exc}", permanent=True) from None
        finally:
            _close(client)

    def _open(self) -> _Client:
        if self.implicit_tls:
            return _TlsClient(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout_seconds,
                context=self.ssl_context,
            )
        return _Client(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout_seconds)

    def _prepare(self, client: smtplib.SMTP) -> None:
        """EHLO, STARTTLS when it applies, and the login when the URL has a user."""
        client.ehlo()
        encrypted = self.implicit_tls
        if not encrypted and client.has_extn("starttls"):
            client.starttls(context=self.ssl_context)
            client.ehlo()
            encrypted = True
        if not encrypted and self.starttls_required:
            raise DeliveryFailed(f"The SMTP server {self.host}:{self.port} does not offer STARTTLS, which is required")
        if self.user is None:
            return
        if not encrypted and not _is_loopback(self.host):
            # The password would cross the network in clear, where anyone on the path could read it.
            raise DeliveryFailed(
                f"The SMTP server {self.host}:{self.port} offers no TLS: the password is not sent unencrypted"
            )
        if f"{self.user}{self._password}".isascii():
            client.login(self.user, self._password)
            return
        # smtplib sends credentials as ASCII only; AUTH PLAIN carries UTF-8 (RFC 4616).
        if "plain" not in client.esmtp_features.get("auth", "").lower().split():
            raise DeliveryFailed(f"The SMTP server {self.host}:{self.port} offers no AUTH PLAIN for a non-ASCII login")
        token = base64.b64encode(f"\0{self.user}\0{self._password}".encode()).decode("ascii")
        code, reply = client.docmd("AUTH", f"PLAIN {token}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)


def build_message(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(datetime.now(UTC))
    message["From"] = email.sender
    message["To"] = email.to
    message["Subject"] = email.subject
    # RFC 3834: vacation and out-of-office responders leave it unanswered, so no reply loops back to the sender.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    return message


def _refusal(what: str, code: int, reply: bytes | str, permanent_if_5xx: bool = True) -> DeliveryFailed:
    """A 5xx reply is the server's final word on this message (RFC 5321: do not send it again as it is); a
    4xx asks for a later attempt. A refused login is a setting to fix, so the message waits for it."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    permanent = permanent_if_5xx and 500 <= code < 600
    return DeliveryFailed(f"{what}: {code} {text}".strip(), permanent=permanent, status=code)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _close(client: smtplib.SMTP) -> None:
    """QUIT, then close, whatever the server does: once it said 250 to the message, the message is sent."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
