"""HttpWebhookSender and ResolvingTargetPolicy against real HTTP servers on loopback.

Where a host name must point somewhere particular (a public address at check time, loopback at delivery), the
policy is given a resolver of the test's own; everything else goes through the system's resolver. No test
connects anywhere but loopback.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

import pytest

from tasktracker.adapters.delivery.targets import ResolvingTargetPolicy, UnresolvableHost, system_resolver
from tasktracker.adapters.delivery.webhooks import HttpWebhookSender
from tasktracker.application.ports import DeliveryFailed, WebhookRequest
from tasktracker.domain.errors import ValidationError
from tests.support.certificates import Authority, make_authority

TIMEOUT = 0.5
BODY = b'{"event":"task.due_soon","task":{"id":"3f1c2a9e","title":"Quarterly report \\u2713"}}'
HEADERS = {
    "Content-Type": "application/json",
    "X-TaskTracker-Event": "task.due_soon",
    "X-TaskTracker-Delivery": "0b7d4e52-9a61-7f0e-5d2c-8b14a1b2c3d4",
    "X-TaskTracker-Signature": "sha256=5f2b8c0e9d1a7f3e6b4c2d8a0f9e1b7c3d5a6f8e2b4c0d9a1e7f3b5c8d2a6e4f",
}


@dataclass
class Received:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on loopback that records every request and answers each with `status`."""

    status: int = 200
    answer_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    tls: ssl.SSLContext | None = None
    server_names: list[str | None] = field(default_factory=list)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(Received(self.command, self.path, list(self.headers.items()), body))
                self.send_response(receiver.status)
                for name, value in receiver.answer_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.tls.sni_callback = lambda sock, name, context: self.server_names.append(name)
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/hooks/in", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(**options: object) -> Receiver:
        receiver = Receiver(**options)  # type: ignore[arg-type]
        receiver.start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def local_sender(timeout: float = TIMEOUT, resolver: Callable[..., Sequence[IPv4Address | IPv6Address]] | None = None,
                 **options: str) -> HttpWebhookSender:  # fmt: skip
    policy = ResolvingTargetPolicy(True, resolver=resolver or system_resolver)
    return HttpWebhookSender(policy, timeout, **options)


def pointing(table: Mapping[str, Sequence[str]]) -> Callable[[str, int], list[IPv4Address | IPv6Address]]:
    """A resolver that knows these names only."""

    def resolve(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ip_address(address) for address in table[host]]

    return resolve


def test_body_and_headers_arrive_exactly_and_the_status_is_returned(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers(status=202)
    status = local_sender().post(WebhookRequest(receiver.url("/hooks/in?team=7&x=%2F"), BODY, HEADERS))

    assert status == 202
    [request] = receiver.received
    assert (request.method, request.target, request.body) == ("POST", "/hooks/in?team=7&x=%2F", BODY)
    sent = dict(request.headers)
    for name, value in HEADERS.items():
        assert [v for n, v in request.headers if n.lower() == name.lower()] == [value]
    assert sent["Host"] == f"127.0.0.1:{receiver.port}"
    assert sent["Content-Length"] == str(len(BODY))
    assert sent["User-Agent"] == "TaskTracker-Webhooks/1"


def test_error_statuses_are_returned_not_raised(receivers: Callable[..., Receiver]) -> None:
    for status in (400, 404, 410, 500, 503):
        receiver = receivers(status=status)
        assert local_sender().post(WebhookRequest(receiver.url(), BODY, HEADERS)) == status


def test_a_redirect_is_returned_not_followed(receivers: Callable[..., Receiver]) -> None:
    elsewhere = receivers()
    redirecting = receivers(status=302, answer_headers={"Location": elsewhere.url("/stolen")})

    assert local_sender().post(WebhookRequest(redirecting.url(), BODY, HEADERS)) == 302
    time.sleep(0.1)
    assert len(redirecting.received) == 1 and elsewhere.received == []


def test_the_callers_framing_and_routing_headers_are_replaced(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    forged = {**HEADERS, "Host": "internal.example", "Content-Length": "1", "User-Agent": "Receiver-Test/2"}
    local_sender().post(WebhookRequest(receiver.url(), BODY, forged))
    [request] = receiver.received
    sent = dict(request.headers)
    assert (sent["Host"], sent["Content-Length"], request.body) == (f"127.0.0.1:{receiver.port}", str(len(BODY)), BODY)
    assert sent["User-Agent"] == "Receiver-Test/2"


def test_a_header_that_would_split_the_request_fails_for_good(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    with pytest.raises(DeliveryFailed) as failed:
        local_sender().post(WebhookRequest(receiver.url(), BODY, {"X-Evil": "a\r\nX-Injected: 1"}))
    assert failed.value.permanent is True
    assert receiver.received == []


def test_the_connection_goes_to_the_checked_address_with_the_urls_host(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()
    sender = local_sender(resolver=pointing({"hooks.example.test": ["127.0.0.1"]}))
    assert sender.post(WebhookRequest(receiver.url(host="hooks.example.test"), BODY, HEADERS)) == 200
    [request] = receiver.received
    assert dict(request.headers)["Host"] == f"hooks.example.test:{receiver.port}"


def test_the_next_address_is_tried_when_one_refuses_the_connection(receivers: Callable[..., Receiver]) -> None:
    receiver = receivers()  # on 127.0.0.1 only: 127.0.0.2 refuses
    sender = local_sender(resolver=pointing({"hooks.example.test": ["127.0.0.2", "127.0.0.1"]}))
    assert sender.post(WebhookRequest(receiver.url(host="hooks.example.test"), BODY, HEADERS)) == 200
    assert len(receiver.received) == 1


def test_a_closed_port_fails_for_now() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryFailed) as failed:
        local_sender().post(WebhookRequest(f"http://127.0.0.1:{port}/", BODY, HEADERS))
    assert failed.value.permanent is False and "refused" in str(failed.value).lower()


def test_a_receiver_that_never_answers_fails_for_now_within_the_timeout() -> None:
    # Listening, so the connection is made, but nothing ever reads or answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as failed:
            local_sender().post(WebhookRequest(f"http://127.0.0.1:{silent.getsockname()[1]}/", BODY, HEADERS))
        elapsed = time.monotonic() - started
    assert failed.value.permanent is False
    assert TIMEOUT * 0.8 < elapsed < TIMEOUT * 2 + 1


def test_one_thread_watches_the_deadlines_of_all_a_senders_deliveries(
    receivers: Callable[..., Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = receivers()
    started_by_senders: list[threading.Thread] = []
    start = threading.Thread.start

    def recording_start(thread: threading.Thread) -> None:
        if threading.current_thread().name.startswith("sender"):
            started_by_senders.append(thread)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    sender = local_sender()
    with ThreadPoolExecutor(4, thread_name_prefix="sender") as pool:
        statuses = list(pool.map(lambda _: sender.post(WebhookRequest(receiver.url(), BODY, HEADERS)), range(20)))
    assert statuses == [200] * 20 and len(receiver.received) == 20
    assert len(started_by_senders) == 1


def serve_raw(answer: Callable[[socket.socket], None]) -> tuple[socket.socket, threading.Event]:
    """A server that reads one request's head, then lets `answer` write to the connection until it fails."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def run() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            with contextlib.suppress(OSError):
                answer(connection)
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return listener, done


def test_a_receiver_answering_a_byte_at_a_time_is_cut_at_twice_the_timeout() -> None:
    def trickle(connection: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 10_000:
            connection.sendall(bytes([byte]))
            time.sleep(0.05)

    listener, _ = serve_raw(trickle)
    with listener:
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as failed:
            local_sender().post(WebhookRequest(f"http://127.0.0.1:{listener.getsockname()[1]}/", BODY, HEADERS))
        elapsed = time.monotonic() - started
    assert failed.value.permanent is False and "within" in str(failed.value)
    assert 2 * TIMEOUT * 0.9 < elapsed < 2 * TIMEOUT + 1


def test_an_endless_answer_is_not_read_to_its_end() -> None:
    def endless(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        chunk = b"x" * 65536
        while True:
            connection.sendall(chunk)

    listener, done = serve_raw(endless)
    with listener:
        started = time.monotonic()
        status = local_sender(timeout=5).post(
            WebhookRequest(f"http://127.0.0.1:{listener.getsockname()[1]}/", BODY, HEADERS)
        )
        assert status == 200 and time.monotonic() - started < 2
        # The sender closed the connection: the server's next writes fail.
        assert done.wait(5)


FORBIDDEN_HOSTS = [
    "127.0.0.1",
    "localhost",
    "[::1]",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "[fd00:ec2::254]",
    "0.0.0.0",
    "100.64.0.1",
    "[::ffff:127.0.0.1]",
    "2130706433",
    "0x7f.1",
    "127.1",
    "[::]",
    "224.0.0.1",
    "100.100.100.200",
    "[fe80::1]",
    "[2002:7f00:1::]",
]


@pytest.mark.parametrize("host", FORBIDDEN_HOSTS)
def test_with_private_targets_refused_each_kind_fails_for_good_without_connecting(
    host: str, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    url = f"http://{host}:{receiver.port}/hooks/in"
    policy = ResolvingTargetPolicy(False)

    with pytest.raises(ValidationError) as refused:
        policy.check(url)
    assert refused.value.code == "WEBHOOK_TARGET_NOT_ALLOWED"
    assert refused.value.details["fields"]["url"][0].startswith("Webhooks cannot call ")

    with pytest.raises(DeliveryFailed) as failed:
        HttpWebhookSender(policy, TIMEOUT).post(WebhookRequest(url, BODY, HEADERS))
    assert failed.value.permanent is True
    assert receiver.received == []


def test_a_host_is_refused_when_any_of_its_addresses_is_forbidden() -> None:
    policy = ResolvingTargetPolicy(False, resolver=pointing({"mixed.example.test": ["93.184.216.34", "10.0.0.7"]}))
    with pytest.raises(ValidationError) as refused:
        policy.check("https://mixed.example.test/in")
    assert refused.value.code == "WEBHOOK_TARGET_NOT_ALLOWED"
    assert "10.0.0.7" in refused.value.details["fields"]["url"][0]


def test_a_public_host_is_allowed_and_its_addresses_exposed() -> None:
    policy = ResolvingTargetPolicy(False, resolver=pointing({"hooks.example.test": ["93.184.216.34"]}))
    policy.check("https://hooks.example.test/in")
    resolved = policy.resolve("https://hooks.example.test/in")
    assert resolved.addresses == (ip_address("93.184.216.34"),)
    assert (resolved.target.host, resolved.target.port, resolved.target.target) == ("hooks.example.test", 443, "/in")


def test_the_host_is_checked_again_at_each_delivery(receivers: Callable[..., Receiver]) -> None:
    """DNS rebinding: public when the URL was saved, loopback when the delivery goes out."""
    receiver = receivers()
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    policy = ResolvingTargetPolicy(False, resolver=lambda host, port: [ip_address(a) for a in next(answers)])
    url = receiver.url(host="rebinding.example.test")

    policy.check(url)
    with pytest.raises(DeliveryFailed) as failed:
        HttpWebhookSender(policy, TIMEOUT).post(WebhookRequest(url, BODY, HEADERS))
    assert failed.value.permanent is True and "127.0.0.1" in str(failed.value)
    assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x",
        "http://user:pw@example.com/",
        "http:///no-host",
        "http://",
        "https://hooks.example.com/in#fragment",
        "http://nothing-here.invalid/",
    ],
)
def test_invalid_urls_are_refused_as_invalid(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(ValidationError) as refused:
            ResolvingTargetPolicy(allow_private).check(url)
        assert refused.value.code == "WEBHOOK_URL_INVALID"
        assert list(refused.value.details["fields"]) == ["url"]


def test_an_unresolvable_host_fails_a_delivery_for_now_and_a_malformed_url_for_good() -> None:
    sender = HttpWebhookSender(ResolvingTargetPolicy(False), TIMEOUT)
    with pytest.raises(DeliveryFailed) as unresolvable:
        sender.post(WebhookRequest("http://nothing-here.invalid/", BODY, HEADERS))
    assert unresolvable.value.permanent is False
    with pytest.raises(UnresolvableHost) as unresolvable_check:
        sender.policy.check("http://x.invalid/")
    assert isinstance(unresolvable_check.value, ValidationError)  # a 400 when a user saves such a URL
    with pytest.raises(DeliveryFailed) as malformed:
        sender.post(WebhookRequest("ftp://x", BODY, HEADERS))
    assert malformed.value.permanent is True


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return make_authority(tmp_path / "ca")


def test_https_checks_the_certificate_against_the_urls_host_and_sends_it_in_sni(
    authority: Authority, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(tls=authority.server_context("hooks.example.test"))
    names = {"hooks.example.test": ["127.0.0.1"], "other.example.test": ["127.0.0.1"]}
    sender = local_sender(resolver=pointing(names), ca_certs=authority.ca_file)

    assert sender.post(WebhookRequest(receiver.url(host="hooks.example.test"), BODY, HEADERS)) == 200
    assert receiver.server_names == ["hooks.example.test"]
    [request] = receiver.received
    assert request.body == BODY and dict(request.headers)["Host"] == f"hooks.example.test:{receiver.port}"

    # Same address, another name: the certificate does not match it, and nothing is sent.
    with pytest.raises(DeliveryFailed) as mismatch:
        sender.post(WebhookRequest(receiver.url(host="other.example.test"), BODY, HEADERS))
    assert mismatch.value.permanent is False
    # The system's trust does not know the test authority.
    with pytest.raises(DeliveryFailed) as untrusted:
        local_sender(resolver=pointing(names)).post(
            WebhookRequest(receiver.url(host="hooks.example.test"), BODY, HEADERS)
        )
    assert untrusted.value.permanent is False and "certificate" in str(untrusted.value).lower()
    assert len(receiver.received) == 1
