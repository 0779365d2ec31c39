"""An S3 server for local runs whose objects outlive it: moto's real S3 API, with its state kept in a directory.

moto holds S3 in memory only. Here moto's WSGI application sits behind a thin layer: a request that may change
state (PUT, POST, DELETE) runs under one lock and, once moto has answered it successfully, the whole S3 state is
saved before that answer is sent, so whatever S3 acknowledged survives even a SIGKILL. Reads (GET, HEAD) are
never made to wait for that lock. A state is restored when the server starts on a directory that holds one.

The directory holds:
    state.pickle   every bucket with its settings (lifecycle rules among them), object versions and their
                   metadata, multipart uploads and tags: everything but the bytes, replaced atomically on save
    objects/<id>   the bytes of one object version or part, written once when it first appears, never changed,
                   removed once no saved state refers to it
    lock           held while a server uses the directory, so two servers never share one

Run on its own: python -m local.persistent_s3 --state DIR [--port N] [--host H]
"""

from __future__ import annotations

import argparse
import copyreg
import fcntl
import logging
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

logger = logging.getLogger("tasktracker.local.s3")

STATE_FILE = "state.pickle"
OBJECTS_DIR = "objects"
LOCK_FILE = "lock"
# The first line of every state file: what it is and the layout of what follows it.
STATE_MAGIC = b"tasktracker local S3 state, format 1\n"
COPY_CHUNK = 1024 * 1024
MUTATING_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})
# What an S3 backend keeps of S3 itself; anything else on it (pagination tokens) lives for a request or two.
BACKEND_ATTRIBUTES = ("buckets", "table_buckets", "tagger", "inventory_configs")
# A saved object version carries these of its attributes in place of its open buffer and its lock.
UNSAVED_KEY_ATTRIBUTES = ("_value_buffer", "lock")

StartResponse = Callable[..., Callable[[bytes], object]]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class StateError(RuntimeError):
    """The state directory cannot be used as it is; nothing was started and nothing was changed."""


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _rebuild_key_store(versions: dict[str, list[Any]]) -> Any:
    """A bucket's keys, every version in its order (moto's store hides all but the latest from dict methods)."""
    from moto.s3.utils import _VersionedKeyStore

    store = _VersionedKeyStore()
    for name, listed in versions.items():
        store.setlist(name, listed)
    return store


def _key_state_hook(key: Any, state: Any) -> None:
    """Stands in a saved state for the loader's own hook, which reopens the key's bytes from its directory."""
    raise AssertionError("only a state loader sets a key's state")


class _ContentFiles:
    """The objects/ directory: one immutable file per object version or part, named once and never rewritten."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._names: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._on_disk: set[str] = set()
        self.unsynced = False

    def scan(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._on_disk = {entry.name for entry in os.scandir(self.directory) if entry.is_file()}

    def name_for(self, key: Any) -> str | None:
        """The file holding this key's bytes, written now if it has none yet; None once moto discarded them."""
        if key.disposed or key._value_buffer.closed:
            return None
        name = self._names.get(key)
        if name is not None:
            return name
        with key.lock:
            buffer = key._value_buffer
            # The ETag is worked out from the buffer on first use; settle it before the buffer may be swapped.
            key.etag  # noqa: B018 - the property caches it
            name = uuid.uuid4().hex
            path = self.directory / name
            buffer.seek(0)
            with path.open("xb") as written:
                shutil.copyfileobj(buffer, written, COPY_CHUNK)
                written.flush()
                os.fsync(written.fileno())
            self._on_disk.add(name)
            self.unsynced = True
            if key.contentsize > key._max_buffer_size:
                # moto spilled these bytes to a temporary file of its own; read them from this one instead.
                key._value_buffer = path.open("rb")
                buffer.close()
        self._names[key] = name
        return name

    def open_for(self, key: Any, name: str | None, state_file: Path) -> IO[bytes]:
        """A buffer for a restored key, as moto would hold it: small in memory, large read from its file."""
        buffer: IO[bytes]
        if name is None:
            buffer = tempfile.SpooledTemporaryFile(max_size=key._max_buffer_size)  # noqa: SIM115 - the key owns it
            buffer.close()
            return buffer
        path = self.directory / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise StateError(f"{state_file} refers to {path}, which is missing") from None
        if size != key.contentsize:
            raise StateError(f"{path} holds {size} bytes where {state_file} expects {key.contentsize}")
        if size > key._max_buffer_size:
            buffer = path.open("rb")
        else:
            buffer = tempfile.SpooledTemporaryFile(max_size=key._max_buffer_size)  # noqa: SIM115 - the key owns it
            with path.open("rb") as stored:
                shutil.copyfileobj(stored, buffer, COPY_CHUNK)
        self._names[key] = name
        return buffer

    def named(self) -> set[str]:
        return set(self._names.values())

    def sync(self) -> None:
        if self.unsynced:
            _fsync_directory(self.directory)
            self.unsynced = False

    def keep_only(self, referenced: set[str]) -> None:
        """Removes every file the saved state no longer refers to."""
        for name in self._on_disk - referenced:
            (self.directory / name).unlink(missing_ok=True)
        self._on_disk &= referenced
        for key, name in list(self._names.items()):
            if name not in referenced:
                del self._names[key]


class _StatePickler(pickle.Pickler):
    """Pickles moto's S3 objects with each object version's bytes left in, or put into, its own file."""

    def __init__(self, file: IO[bytes], contents: _ContentFiles):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._contents = contents
        self.referenced: set[str] = set()
        from moto.s3.models import FakeKey
        from moto.s3.utils import _VersionedKeyStore

        self._key_type: Any = FakeKey
        self._key_store_type: Any = _VersionedKeyStore

    def persistent_id(self, obj: Any) -> str | None:
        # The hooks are saved by name, so a state never depends on where this module was loaded from.
        if obj is _key_state_hook:
            return "key-state"
        if obj is _rebuild_key_store:
            return "key-store"
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, self._key_type):
            # A copy first: a read may fill in a cached attribute meanwhile.
            attributes = obj.__dict__.copy()
            for unsaved in UNSAVED_KEY_ATTRIBUTES:
                attributes.pop(unsaved, None)
            name = self._contents.name_for(obj)
            if name is not None:
                self.referenced.add(name)
            new_object = copyreg.__newobj__  # type: ignore[attr-defined]
            return (new_object, (type(obj),), (attributes, name), None, None, _key_state_hook)
        if type(obj) is self._key_store_type:
            versions = {name: list(listed) for name, listed in dict.copy(obj).items()}
            return (_rebuild_key_store, (versions,))
        return NotImplemented


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], contents: _ContentFiles, state_file: Path):
        super().__init__(file)
        self._contents = contents
        self._state_file = state_file

    def persistent_load(self, pid: Any) -> Any:
        if pid == "key-state":
            return self._set_key_state
        if pid == "key-store":
            return _rebuild_key_store
        raise pickle.UnpicklingError(f"unknown reference {pid!r}")

    def _set_key_state(self, key: Any, state: tuple[dict[str, Any], str | None]) -> None:
        attributes, name = state
        key.__dict__.update(attributes)
        key.lock = threading.Lock()
        key._value_buffer = self._contents.open_for(key, name, self._state_file)


def _s3_backends() -> Any:
    from moto.s3.models import s3_backends

    return s3_backends


def _capture() -> dict[str, dict[str, dict[str, Any]]]:
    """What every S3 backend of this process holds, by account and partition."""
    captured: dict[str, dict[str, dict[str, Any]]] = {}
    for account_id, account in list(_s3_backends().items()):
        for partition, backend in list(account.items()):
            attributes = {name: getattr(backend, name) for name in BACKEND_ATTRIBUTES if hasattr(backend, name)}
            captured.setdefault(account_id, {})[partition] = attributes
    return captured


def _holds_buckets() -> bool:
    return any(
        getattr(backend, "buckets", None) for account in list(_s3_backends().values()) for backend in account.values()
    )


def _apply(captured: dict[str, dict[str, dict[str, Any]]]) -> None:
    s3_backends = _s3_backends()
    for account_id, partitions in captured.items():
        for partition, attributes in partitions.items():
            backend = s3_backends[account_id][partition]
            for name, value in attributes.items():
                setattr(backend, name, value)
            # A bucket registers its name globally when created; a restored one was not created here.
            for bucket in (*attributes.get("buckets", {}).values(), *attributes.get("table_buckets", {}).values()):
                s3_backends.bucket_accounts[bucket.name] = (partition, account_id)


def _forget_all() -> None:
    """Drops this process's S3 state from memory (it is on disk), closing every buffer moto opened for it."""
    s3_backends = _s3_backends()
    for account in list(s3_backends.values()):
        account.reset()
    s3_backends.clear()


class S3StateStore:
    """moto's S3 state in a directory: open() restores it once at start, save() after every change."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.state_file = directory / STATE_FILE
        self._contents = _ContentFiles(directory / OBJECTS_DIR)
        self._lock_file: IO[bytes] | None = None

    def open(self) -> None:
        """Takes the directory for this process and restores the S3 state it holds into moto, if any."""
        if _holds_buckets():
            raise RuntimeError("this process already holds S3 buckets; a persistent S3 server needs its own process")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._contents.scan()
            # A save's rename can only be made durable under directory entries that already are.
            _fsync_directory(self.directory)
            captured = self._load()
            if captured is not None:
                _apply(captured)
            # What a save wrote before it was cut short: a state never renamed into place, bytes never referred to.
            (self.directory / (STATE_FILE + ".tmp")).unlink(missing_ok=True)
            self._contents.keep_only(self._contents.named())
        except BaseException:
            self.close()
            _forget_all()
            raise

    def _lock(self) -> None:
        lock_file = (self.directory / LOCK_FILE).open("a+b")
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise StateError(f"{self.directory} is in use by another S3 server") from None
        lock_file.truncate(0)
        lock_file.write(f"{os.getpid()}\n".encode())
        lock_file.flush()
        self._lock_file = lock_file

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _load(self) -> dict[str, dict[str, dict[str, Any]]] | None:
        import moto

        try:
            stored = self.state_file.open("rb")
        except FileNotFoundError:
            return None
        advice = f"move {self.directory} aside (it holds the objects' bytes) to start with an empty S3"
        with stored:
            if stored.read(len(STATE_MAGIC)) != STATE_MAGIC:
                raise StateError(f"{self.state_file} is not a saved S3 state of this format; {advice}")
            try:
                loaded = _StateUnpickler(stored, self._contents, self.state_file).load()
                captured: dict[str, dict[str, dict[str, Any]]] = loaded["backends"]
                saved_by: str = loaded["moto"]
            except StateError:
                raise
            except Exception as error:
                raise StateError(
                    f"{self.state_file} cannot be read ({type(error).__name__}: {error}); {advice}"
                ) from error
        if saved_by != moto.__version__:
            logger.warning("%s was saved by moto %s, this is moto %s", self.state_file, saved_by, moto.__version__)
        logger.info("restored the S3 state in %s", self.state_file)
        return captured

    def save(self) -> None:
        """Writes the bytes of every object version not yet on disk, then the state that refers to them."""
        import moto

        partial = self.directory / (STATE_FILE + ".tmp")
        with partial.open("wb") as written:
            written.write(STATE_MAGIC)
            pickler = _StatePickler(written, self._contents)
            pickler.dump({"moto": moto.__version__, "backends": _capture()})
            written.flush()
            os.fsync(written.fileno())
        self._contents.sync()
        partial.replace(self.state_file)
        _fsync_directory(self.directory)
        self._contents.keep_only(pickler.referenced)


_SAVE_FAILED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>The change was made but could not be saved to disk.</Message></Error>"
)


class _SavingApp:
    """moto's WSGI application with every successful change saved before it is acknowledged."""

    def __init__(self, app: WsgiApp, store: S3StateStore):
        self._app = app
        self._store = store
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET").upper() not in MUTATING_METHODS:
            return self._app(environ, start_response)
        with self.lock:
            return self._change(environ, start_response)

    def _change(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        answer: list[Any] = []
        body: list[bytes] = []

        def hold(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: tuple[type, BaseException, TracebackType] | None = None,
        ) -> Callable[[bytes], object]:
            answer[:] = [status, headers]
            return body.append

        result = self._app(environ, hold)
        try:
            body.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = answer
        if int(status.split(" ", 1)[0]) < 400:
            try:
                self._store.save()
            except Exception:
                logger.exception("could not save the S3 state", extra={"state_file": str(self._store.state_file)})
                start_response(
                    "500 Internal Server Error",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(_SAVE_FAILED)))],
                )
                return [_SAVE_FAILED]
        start_response(status, headers)
        return body


class PersistentS3Server:
    """moto's S3 server on host:port with its state kept in state_dir; port 0 picks a free one."""

    def __init__(self, state_dir: Path, host: str = "127.0.0.1", port: int = 0):
        self.state_dir = state_dir
        self._host = host
        self._port = port
        self._store = S3StateStore(state_dir)
        self._app: _SavingApp | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        from moto.moto_server import werkzeug_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        # moto's own handler (it keeps underscores in header names) where the release has one: moto 5.1.0, the
        # compose stack's, does not.
        handler = getattr(werkzeug_app, "MotoRequestHandler", WSGIRequestHandler)
        DomainDispatcherApplication, create_backend_app = (
            werkzeug_app.DomainDispatcherApplication,
            werkzeug_app.create_backend_app,
        )

        self._store.open()
        try:
            self._app = _SavingApp(DomainDispatcherApplication(create_backend_app), self._store)
            self._server = make_server(self._host, self._port, self._app, threaded=True, request_handler=handler)
        except BaseException:
            self._store.close()
            _forget_all()
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="persistent-s3", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        assert self._app is not None
        # A change still being handled finishes and is saved first.
        with self._app.lock:
            _forget_all()
            self._store.close()
        self._server = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=Path, required=True, help="the directory that keeps the S3 state")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = PersistentS3Server(args.state, args.host, args.port)
    try:
        server.start()
    except StateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"S3 listening on {server.endpoint_url}, state in {args.state}", flush=True)
    stopping.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
