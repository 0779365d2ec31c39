"""A real HTTP receiver for webhook deliveries: it keeps every request it gets and answers each with the status its
test chose (a list, used in order, the last one repeating), so retries and refusals can be tested.

In a test it listens on loopback. Run on its own (standard library only, so a bare Python container runs this one
file) it serves until stopped and lists what it received at GET /received, for tests outside its process:
    python webhook_receiver.py --host 0.0.0.0 --port 8080
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import signal
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class ReceivedDelivery:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def delivery_id(self) -> str:
        return self.headers["x-tasktracker-delivery"]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "headers": self.headers, "body": base64.b64encode(self.body).decode()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReceivedDelivery:
        return cls(data["path"], dict(data["headers"]), base64.b64decode(data["body"]))

    def signed_with(self, secret: str) -> bool:
        """What a receiver must do: recompute the HMAC over the raw body and compare in constant time."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-tasktracker-signature", ""))


class _ListeningServer(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: several delivery runs connecting at once (8 each)
    # overflowed it and had connections reset, which a real receiver's server would have accepted.
    request_queue_size = 128


class WebhookReceiver:
    def __init__(
        self,
        statuses: list[int] | None = None,
        *,
        delay_seconds: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.statuses = list(statuses or [200])
        self.delay_seconds = delay_seconds
        self.received: list[ReceivedDelivery] = []
        self._lock = threading.Lock()
        self._server = _ListeningServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/tasks"

    def _next_status(self) -> int:
        with self._lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                delivery = ReceivedDelivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._lock:
                    receiver.received.append(delivery)
                if receiver.delay_seconds:
                    threading.Event().wait(receiver.delay_seconds)
                status = receiver._next_status()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:
                if self.path != "/received":
                    self.send_error(404)
                    return
                with receiver._lock:
                    body = json.dumps([delivery.as_json() for delivery in receiver.received]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Keeps the webhook deliveries it receives; lists them at /received.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    with WebhookReceiver(host=args.host, port=args.port):
        print(f"receiving webhooks on {args.host}:{args.port}", flush=True)
        stopping.wait()


if __name__ == "__main__":
    main()
