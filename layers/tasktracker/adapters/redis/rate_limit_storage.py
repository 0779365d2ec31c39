"""The rate limits' Redis storage: one round trip per request instead of two.

limits' moving window takes a script for the hit (`acquire_entry`) and the platform (or flask-limiter, for a
route's own limit) then asks for the window's stats for the X-RateLimit headers (`get_moving_window`), a second
script. Here one script does both, at the same timestamp, so the headers say exactly what the second call would
have said; the stats are kept for the request (`request_trip`) and handed back when the headers ask for them. When
the request's user is known (the platform decoded the bearer token for the limit's key), the same script also
reads that user's session entry for `identity.ActiveUsers`, so the check of a signed-in request costs no round
trip of its own.

Registered with `limits` under the scheme `tasktracker+redis://` (and `tasktracker+rediss://`): importing this
module is what makes the platform's limits and flask-limiter use it. redis itself still loads when the storage is
made, not at import.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import RedisStorage

from . import request_trip

# KEYS[1] the rate limit's list (newest entry first, as limits keeps it); KEYS[2], when given, a session entry.
# ARGV: now, the limit, the window in seconds, the cost. Returns {acquired, oldest entry in the window or nil,
# entries in the window, the session entry or nil}.
ONE_TRIP_SCRIPT = b"""
local now, limit, expiry, amount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
-- The hit: limits' acquire_moving_window.lua, as it is. The list holds at most `limit` timestamps; the request
-- fits if the entry `amount` places from the end of the room is older than the window.
local acquired = 0
if amount <= limit then
    local entry = redis.call('lindex', KEYS[1], limit - amount)
    if not (entry and tonumber(entry) >= now - expiry) then
        for _ = 1, amount do redis.call('lpush', KEYS[1], now) end
        redis.call('ltrim', KEYS[1], 0, limit - 1)
        redis.call('expire', KEYS[1], expiry)
        acquired = 1
    end
end
-- The stats for the headers, at the same moment: the oldest entry still inside the window and how many are.
-- The entries are newest first and each call drops those the window has left (below), so the oldest one inside
-- is at the tail or a few places before it: a gallop back from the tail brackets it, a binary search finds it
-- (limits' moving_window.lua searches all `limit` places, a dozen or more reads on a generous limit).
local length = math.min(redis.call('llen', KEYS[1]), limit)
local inside, outside, step, oldest = -1, length, 1, false
local function read(index)
    local value = redis.call('lindex', KEYS[1], index)
    if value and tonumber(value) >= now - expiry then return value end
    return nil
end
while outside - inside > 1 do
    local probe = math.max(outside - step, inside + 1)
    local value = read(probe)
    if value then inside, oldest = probe, value; break end
    outside, step = probe, step * 2
end
while outside - inside > 1 do
    local middle = math.floor((inside + outside) / 2)
    local value = read(middle)
    if value then inside, oldest = middle, value else outside = middle end
end
local count = inside + 1
-- Entries older than the window never count again: dropped, so the list holds the window alone.
if count < length then redis.call('ltrim', KEYS[1], 0, inside) end
local session = false
if KEYS[2] then session = redis.call('get', KEYS[2]) end
return {acquired, oldest, count, session}
"""


class OneTripRedisStorage(RedisStorage):
    STORAGE_SCHEME = ["tasktracker+redis", "tasktracker+rediss"]

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri.removeprefix("tasktracker+"), **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_one_trip = self.get_connection().register_script(ONE_TRIP_SCRIPT)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        trip = request_trip.current()
        keys = [self.prefixed_key(key)]
        with_session = trip is not None and trip.session_key is not None and not trip.session_fetched
        if with_session:
            assert trip is not None and trip.session_key is not None
            keys.append(trip.session_key)
        now = time.time()
        try:
            acquired, oldest, count, session = self.lua_one_trip(keys, [now, limit, expiry, amount])
        except Exception:
            if with_session:
                assert trip is not None
                trip.session_failed = True
            raise
        if trip is not None:
            trip.windows[key] = (float(oldest) if oldest is not None else now, int(count))
            if with_session:
                trip.session_value, trip.session_fetched = session, True
        return bool(acquired)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """The stats the hit of this request already brought back for this key, else a round trip of their own."""
        trip = request_trip.current()
        if trip is not None and key in trip.windows:
            return trip.windows.pop(key)
        return super().get_moving_window(key, limit, expiry)
