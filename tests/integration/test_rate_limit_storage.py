"""The one-trip rate-limit storage answers as limits' own moving window does, in Redis, on any window state."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from limits.storage import RedisStorage

from local.services import LocalServices
from tasktracker.adapters.redis.rate_limit_storage import OneTripRedisStorage


@pytest.fixture
def storages(services: LocalServices) -> Iterator[tuple[OneTripRedisStorage, RedisStorage, redis.Redis]]:
    ours = OneTripRedisStorage(f"tasktracker+{services.redis_url}")
    theirs = RedisStorage(services.redis_url)
    client = redis.Redis.from_url(services.redis_url)
    yield ours, theirs, client
    for key in client.scan_iter("LIMITS:check:*"):
        client.delete(key)


def _entry(now: float, expiry: int, rng: random.Random) -> float:
    # Never within 0.2 s of the window's edge: the two storages read the clock a moment apart.
    while True:
        entry = now - rng.uniform(0, 2 * expiry)
        if abs(entry - (now - expiry)) > 0.2:
            return entry


def test_the_hit_and_the_headers_stats_are_limits_own_on_random_windows(
    storages: tuple[OneTripRedisStorage, RedisStorage, redis.Redis],
) -> None:
    ours, theirs, client = storages
    rng = random.Random(15)
    for _ in range(300):
        key = f"check:{uuid.uuid4()}"
        limit, expiry, amount = rng.randint(1, 40), rng.choice([1, 5, 60]), rng.choice([1, 1, 2, 3])
        now = time.time()
        # Newest first, at most `limit` of them, as both keep the list.
        entries = sorted((_entry(now, expiry, rng) for _ in range(rng.randint(0, 50))), reverse=True)[:limit]
        if entries:
            client.rpush(ours.prefixed_key(key), *entries)
            client.rpush(theirs.prefixed_key(key + ":theirs"), *entries)

        acquired = ours.acquire_entry(key, limit, expiry, amount)
        oldest, count = ours.get_moving_window(key, limit, expiry)

        assert acquired == theirs.acquire_entry(key + ":theirs", limit, expiry, amount)
        their_oldest, their_count = theirs.get_moving_window(key + ":theirs", limit, expiry)
        assert count == their_count
        # The newest entry is each storage's own clock reading, a moment apart.
        assert oldest == pytest.approx(their_oldest, abs=0.05)


def test_entries_the_window_has_left_are_dropped(
    storages: tuple[OneTripRedisStorage, RedisStorage, redis.Redis],
) -> None:
    ours, _, client = storages
    key = f"check:{uuid.uuid4()}"
    now = time.time()
    client.rpush(ours.prefixed_key(key), now - 1, now - 2, *(now - 61 - second for second in range(500)))

    assert ours.acquire_entry(key, 1000, 60)
    assert ours.get_moving_window(key, 1000, 60)[1] == 3
    assert client.llen(ours.prefixed_key(key)) == 3
