"""Webhook deliveries: one POST over a connection of its own, to an address checked just before.

The host is resolved and every address checked at each delivery, and the connection goes to one of the
addresses checked, never to the name: a host that answered DNS with a public address when the URL was saved
(or a moment ago) and with 127.0.0.1 now (DNS rebinding) is refused, and cannot switch between the check and
the connection. The URL's host still goes in the Host header, and for https in SNI and the certificate check.

A connection is not kept for the next delivery to the same address, though that would save a handshake: a
receiver may close a kept connection whenever it is idle, and a POST written to it just then fails without telling
whether the receiver got it. HTTP clients answer that by sending the request again on a new connection, which is
not safe for a POST; without that, a receiver's idle timeout would turn into failed attempts and their backoff.
A connection of its own that cannot be made means nothing was sent. And an answer not read to its end (longer
than MAX_RESPONSE_BYTES, or cut at the deadline) would leave a kept connection unusable anyway.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from http.client import HTTPException

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError
from urllib3.util.ssl_match_hostname import CertificateError

from tasktracker.application.ports import DeliveryFailed, WebhookRequest
from tasktracker.domain.errors import ValidationError

from .targets import ResolvedTarget, ResolvingTargetPolicy, UnresolvableHost

# Enough of an answer to let the receiver finish writing it; nothing in it is used, and a receiver must not be
# able to make a delivery read (or decompress) without end.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "TaskTracker-Webhooks/1"
# Framing and routing are the sender's: a caller's value could desynchronise the request or aim it elsewhere.
_SENDER_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# CertificateError: urllib3's own check of the name, a ValueError rather than an SSLError.
_TRANSPORT_ERRORS = (OSError, HTTPException, HTTPError, CertificateError)
# How long the deadline watchdog's thread waits for another delivery before it ends (the next one starts it
# again): longer than the pause between a run's batches, short enough not to outlive the run by much.
WATCHDOG_IDLE_SECONDS = 1.0


class HttpWebhookSender:
    """`timeout_seconds`: the connection (to all of the host's addresses together) must be made within it, and
    the receiver must never be silent longer; the whole delivery is cut at twice it, so a receiver that answers
    one byte at a time cannot hold a sender past the outbox's lease. `ca_certs`: a CA bundle to trust instead of
    the system's (a private CA)."""

    def __init__(self, policy: ResolvingTargetPolicy, timeout_seconds: float, *, ca_certs: str | None = None):
        self.policy = policy
        self.timeout_seconds = timeout_seconds
        self.ca_certs = ca_certs
        self._watchdog = _Watchdog(WATCHDOG_IDLE_SECONDS)

    def post(self, request: WebhookRequest) -> int:
        started = time.monotonic()
        try:
            resolved = self.policy.resolve(request.url)
        except UnresolvableHost as exc:
            raise DeliveryFailed(exc.message) from None
        except ValidationError as exc:
            raise DeliveryFailed(exc.message, permanent=True) from None
        headers = self._headers(request, resolved)
        connection = self._connect(resolved, started + self.timeout_seconds)
        with closing(connection), self._watchdog.watching(connection, started + 2 * self.timeout_seconds) as cut:
            try:
                connection.request(
                    "POST",
                    resolved.target.target,
                    body=request.body,
                    headers=headers,
                    preload_content=False,
                    decode_content=False,
                )
                response = connection.getresponse()
                if cut.is_set():
                    # http.client reads the end of the stream as the end of the headers: a head cut short by the
                    # deadline would pass for a whole one.
                    raise TimeoutError
                # The status is the answer: a receiver that then fails to send its body still answered.
                with suppress(*_TRANSPORT_ERRORS):
                    response.read(MAX_RESPONSE_BYTES, decode_content=False)
                return response.status
            except _TRANSPORT_ERRORS as exc:
                if cut.is_set():
                    raise DeliveryFailed(
                        f"{resolved.target.host} did not answer within {2 * self.timeout_seconds:g} s"
                    ) from None
                raise DeliveryFailed(f"{resolved.target.host} did not answer: {_describe(exc)}") from None
            except ValueError as exc:
                # http.client refuses a header that would break the request (a newline in it). Caught after the
                # transport errors, since some of those are ValueErrors too.
                raise DeliveryFailed(f"The request cannot be sent: {exc}", permanent=True) from None

    def _headers(self, request: WebhookRequest, resolved: ResolvedTarget) -> dict[str, str]:
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _SENDER_HEADERS}
        if not any(name.lower() == "user-agent" for name in headers):
            headers["User-Agent"] = USER_AGENT
        headers["Host"] = resolved.target.host_header
        headers["Connection"] = "close"
        return headers

    def _connect(self, resolved: ResolvedTarget, deadline: float) -> HTTPConnection:
        """A connection to the first of the checked addresses that accepts one, within the deadline."""
        target = resolved.target
        failures: list[str] = []
        for address in resolved.addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failures.append(f"{address}: no time left")
                break
            connection = self._connection(str(address), resolved, remaining)
            try:
                connection.connect()
            except (NewConnectionError, ConnectTimeoutError) as exc:
                connection.close()
                failures.append(f"{address}: {_describe(exc)}")
                continue
            except _TRANSPORT_ERRORS as exc:
                # Connected, but TLS failed (certificate, handshake): the next address would serve the same.
                connection.close()
                raise DeliveryFailed(f"{target.host} ({address}): {_describe(exc)}") from None
            connection.timeout = self.timeout_seconds
            return connection
        raise DeliveryFailed(f"Could not connect to {target.host} port {target.port}: {'; '.join(failures)}")

    def _connection(self, address: str, resolved: ResolvedTarget, timeout: float) -> HTTPConnection:
        target = resolved.target
        if target.scheme == "http":
            return HTTPConnection(address, target.port, timeout=timeout)
        hostname = target.host.removesuffix(".")
        return HTTPSConnection(
            address,
            target.port,
            timeout=timeout,
            server_hostname=hostname,
            assert_hostname=hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=self.ca_certs,
        )


@dataclass(eq=False)
class _Exchange:
    connection: HTTPConnection
    deadline: float
    cut: threading.Event = field(default_factory=threading.Event)


class _Watchdog:
    """Cuts each delivery that outlives its deadline, for all the threads of one sender: a single thread rather
    than a timer (a thread) per message. It starts with the first delivery and ends after `idle_seconds` without
    any."""

    def __init__(self, idle_seconds: float):
        self.idle_seconds = idle_seconds
        self._changed = threading.Condition()
        self._watched: set[_Exchange] = set()
        self._running = False

    @contextmanager
    def watching(self, connection: HTTPConnection, deadline: float) -> Iterator[threading.Event]:
        """Yields the event set when the exchange was cut. Once this ends, `connection` is never touched again,
        so it can be closed."""
        exchange = _Exchange(connection, deadline)
        with self._changed:
            self._watched.add(exchange)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="webhook-watchdog", daemon=True).start()
            self._changed.notify()
        try:
            yield exchange.cut
        finally:
            with self._changed:
                self._watched.discard(exchange)
                if not self._watched:
                    # Else the thread would sleep until this exchange's deadline before it starts counting idle.
                    self._changed.notify()

    def _run(self) -> None:
        idle_since: float | None = None
        with self._changed:
            while True:
                now = time.monotonic()
                for exchange in [exchange for exchange in self._watched if exchange.deadline <= now]:
                    self._watched.discard(exchange)
                    _cut(exchange)
                if self._watched:
                    idle_since = None
                    self._changed.wait(min(exchange.deadline for exchange in self._watched) - now)
                    continue
                idle_since = now if idle_since is None else idle_since
                if now - idle_since >= self.idle_seconds:
                    # Under the lock, so that the next delivery watched sees it and starts a new thread.
                    self._running = False
                    return
                self._changed.wait(self.idle_seconds - (now - idle_since))


def _cut(exchange: _Exchange) -> None:
    """Ends a delivery past its deadline: a blocked read or write on the socket returns at once."""
    exchange.cut.set()
    sock = exchange.connection.sock
    if sock is not None:
        # The plain socket's shutdown, also under TLS: SSLSocket's own would drop its TLS state under a reader.
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _describe(exc: BaseException) -> str:
    """The innermost cause, which says what happened (refused, timed out, certificate...) without urllib3's
    wrapping around it."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return str(exc) or type(exc).__name__
