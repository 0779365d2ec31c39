"""moto's S3 that refuses to delete chosen keys, as S3 does for keys a bucket policy protects, and that can
hold the requests removing an object's tags, so that a test can kill their caller in the middle.

moto's own WSGI application serves every request; a thin layer in front of it answers for the refused keys
the way S3 does: DeleteObject is 403 AccessDenied, and a DeleteObjects batch deletes the other keys and lists
each refused one in its Errors with a 200, which a client that only checks the status takes for success.
A held DeleteObjectTagging waits until released and then fails with 503, leaving the tags as they were.
The buckets are moto's, in this process: another moto server of the process sees the same objects.
"""

from __future__ import annotations

import io
import logging
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.serving import BaseWSGIServer, make_server

from local.services import wait_for_port

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _error(key: str) -> str:
    return f"<Error><Key>{escape(key)}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"


class _Refusing:
    def __init__(self, app: WsgiApp):
        self.app = app
        self.refused: set[str] = set()
        self.refusals = 0
        self.holding_untagging = False
        self.untagging_held = threading.Event()
        self.released = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        # Path-style addressing, as the storage adapter uses: /<bucket>/<key>.
        parts = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)
        key = parts[1] if len(parts) == 2 else ""
        if method == "DELETE" and key in self.refused and not query:
            self.refusals += 1
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
            )
            start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body]
        if method == "POST" and "delete" in query:
            return self._delete_objects(environ, start_response)
        if method == "DELETE" and "tagging" in query and self.holding_untagging:
            self.untagging_held.set()
            self.released.wait(120)
            body = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code></Error>'
            start_response(
                "503 Service Unavailable", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return self.app(environ, start_response)

    def _delete_objects(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = ElementTree.fromstring(body)
        refused_objects = [
            element
            for element in request
            if _local(element.tag) == "Object"
            and any(_local(child.tag) == "Key" and child.text in self.refused for child in element)
        ]
        if not refused_objects:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.app(environ, start_response)
        refused = [child.text or "" for element in refused_objects for child in element if _local(child.tag) == "Key"]
        self.refusals += len(refused)
        errors = "".join(_error(key) for key in refused)
        remaining = [
            child.text or ""
            for element in request
            if _local(element.tag) == "Object" and element not in refused_objects
            for child in element
            if _local(child.tag) == "Key"
        ]
        if not remaining:
            # Every key was refused: nothing for moto to do.
            data = (
                f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="{S3_NAMESPACE}">{errors}</DeleteResult>'
            ).encode()
            start_response("200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(data)))])
            return [data]
        # The rest goes to moto as a batch of its own; the checksums of the original body no longer hold.
        quiet = any(_local(element.tag) == "Quiet" and element.text == "true" for element in request)
        changed = (
            f'<Delete xmlns="{S3_NAMESPACE}"><Quiet>{"true" if quiet else "false"}</Quiet>'
            + "".join(f"<Object><Key>{escape(key)}</Key></Object>" for key in remaining)
            + "</Delete>"
        ).encode()
        environ = {
            name: value
            for name, value in environ.items()
            if name != "HTTP_CONTENT_MD5" and not name.startswith("HTTP_X_AMZ_CHECKSUM")
        }
        environ["wsgi.input"] = io.BytesIO(changed)
        environ["CONTENT_LENGTH"] = str(len(changed))
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
            answered["status"], answered["headers"] = status, headers
            return lambda _data: None

        result = b"".join(self.app(environ, capture))
        if answered["status"].startswith("200"):
            result = result.replace(b"</DeleteResult>", errors.encode() + b"</DeleteResult>")
        headers = [(name, value) for name, value in answered["headers"] if name.lower() != "content-length"]
        start_response(answered["status"], [*headers, ("Content-Length", str(len(result)))])
        return [result]


class RefusingS3:
    def __init__(self, port: int):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        # Moto's werkzeug server logs every S3 call.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.layer = _Refusing(DomainDispatcherApplication(create_backend_app))
        self.server: BaseWSGIServer = make_server(
            "127.0.0.1", port, self.layer, threaded=True, request_handler=MotoRequestHandler
        )
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        wait_for_port("127.0.0.1", port)

    def refuse(self, *keys: str) -> None:
        self.layer.refused.update(keys)

    def accept(self) -> None:
        self.layer.refused.clear()

    def hold_untagging(self) -> threading.Event:
        """From now on, requests removing an object's tags wait until release(); the event is set by the first."""
        self.layer.released.clear()
        self.layer.untagging_held.clear()
        self.layer.holding_untagging = True
        return self.layer.untagging_held

    def release(self) -> None:
        self.layer.holding_untagging = False
        self.layer.released.set()

    @property
    def refusals(self) -> int:
        return self.layer.refusals

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)
