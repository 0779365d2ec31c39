"""Users' session states in Redis (application.ports.SessionCache), shared by every process of every function.

An entry `tasktracker:session:<user id>` holds `<epoch>:<1 if active else 0>` for SESSION_CACHE_SECONDS, or
`hold` while a change is being committed. The writes are ordered so that no process can go on serving an old
state once a change has committed:

- a change holds the entry before its commit (a check then reads the database) and publishes the new state after
  it; publishing never replaces a higher epoch, so two changes whose publishes cross leave the newer;
- a reader that found nothing fills the entry from the database only where nothing is stored (SET NX): what it
  read may be older than a hold or a publish that came meanwhile, which it then leaves alone;
- the entries expire, so a change made outside the use cases (an operator's UPDATE) is seen within
  SESSION_CACHE_SECONDS (the CLI's `deactivate` is seen at once).

Redis down or slow: reads and fills give up (for a few seconds, then try again) and the check reads the database;
a hold that cannot be written refuses the change (503) rather than leave a stale state to be served.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from uuid import UUID

import redis
from redis.exceptions import RedisError

from tasktracker.domain.entities import UserSession
from tasktracker.domain.errors import ServiceUnavailableError

from . import request_trip

log = logging.getLogger(__name__)

HOLD = b"hold"
# Long enough for the commit between a hold and its publish; if the publish is lost, readers wait no longer.
HOLD_SECONDS = 15
# After a failed read or fill, this process reads the database only, for this long, rather than wait on Redis
# at every request.
BACKOFF_SECONDS = 5.0

# Replaces a hold, nothing, or a lower epoch; never a higher one. KEYS[1] the entry; ARGV: epoch, entry, seconds.
PUBLISH_SCRIPT = """
local current = redis.call('get', KEYS[1])
if current then
    local epoch = tonumber(string.match(current, '^(%d+):'))
    if epoch and epoch > tonumber(ARGV[1]) then return 0 end
end
redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


def session_key(user_id: UUID) -> str:
    return f"tasktracker:session:{user_id}"


def encode(session: UserSession) -> str:
    return f"{session.session_epoch}:{1 if session.is_active else 0}"


def decode(value: bytes | None) -> UserSession | None:
    if not value or value == HOLD:
        return None
    epoch, _, active = value.partition(b":")
    if not epoch.isdigit() or active not in (b"0", b"1"):
        return None
    return UserSession(is_active=active == b"1", session_epoch=int(epoch))


# A check that waits on Redis longer than this reads the database instead.
CLIENT_TIMEOUT_SECONDS = 1


@functools.cache
def _client_for(url: str) -> redis.Redis:
    # One client per URL for every cache of a process: the auth function has two (its check's, its use cases').
    return redis.Redis.from_url(
        url, socket_timeout=CLIENT_TIMEOUT_SECONDS, socket_connect_timeout=CLIENT_TIMEOUT_SECONDS
    )


class RedisSessionCache:
    @classmethod
    def for_url(cls, url: str, ttl_seconds: int) -> RedisSessionCache:
        """The client is made at first use, not here."""
        return cls(functools.partial(_client_for, url), ttl_seconds)

    def __init__(self, client: Callable[[], redis.Redis], ttl_seconds: int):
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._skip_until = 0.0

    def expect(self, user_id: UUID | None) -> None:
        trip = request_trip.current() if user_id is not None else None
        if trip is None:
            trip = request_trip.begin()
        trip.user_id = user_id
        trip.session_key = session_key(user_id) if user_id is not None else None
        trip.session_fetched = trip.session_failed = False
        trip.session_value = None

    def get(self, user_id: UUID) -> UserSession | None:
        trip = request_trip.current()
        if trip is not None and trip.user_id == user_id:
            if trip.session_failed:
                return None
            if trip.session_fetched:
                return decode(trip.session_value)
        if self._backing_off():
            return None
        try:
            value = self.client().get(session_key(user_id))
        except RedisError:
            self._back_off("read")
            return None
        return decode(value if isinstance(value, bytes) else None)

    def fill(self, user_id: UUID, session: UserSession) -> None:
        trip = request_trip.current()
        if (trip is not None and trip.session_failed) or self._backing_off():
            return
        try:
            self.client().set(session_key(user_id), encode(session), ex=self.ttl_seconds, nx=True)
        except RedisError:
            self._back_off("fill")

    def hold(self, user_id: UUID) -> None:
        try:
            self.client().set(session_key(user_id), HOLD, ex=HOLD_SECONDS)
        except RedisError as error:
            log.warning("session cache: could not hold a session change", extra={"error": repr(error)})
            raise ServiceUnavailableError(
                "The session store is unavailable, so sessions could not be ended everywhere at once; retry shortly"
            ) from error

    def publish(self, user_id: UUID, session: UserSession) -> None:
        try:
            self.client().eval(PUBLISH_SCRIPT, 1, session_key(user_id), session.session_epoch, encode(session),
                               self.ttl_seconds)  # fmt: skip
        except RedisError as error:
            # The hold (or nothing) stays until it expires: checks read the database meanwhile.
            log.warning("session cache: could not publish a session change", extra={"error": repr(error)})

    def _backing_off(self) -> bool:
        return time.monotonic() < self._skip_until

    def _back_off(self, what: str) -> None:
        log.warning("session cache: %s failed; reading the database for %.0f s", what, BACKOFF_SECONDS)
        self._skip_until = time.monotonic() + BACKOFF_SECONDS
