"""The ops fan-outs' building blocks: the single-flight cache and the bounded pool that runs the calls."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from functions.ops.cache import SingleFlightCache
from functions.ops.peers import FanOutExecutor, call_concurrently


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_for_its_ttl_then_computed_again() -> None:
    clock, computed = Clock(), []
    cache = SingleFlightCache(lambda: computed.append(1) or len(computed), lambda _: 2.0, wait_seconds=1, clock=clock)

    assert [cache.get(), cache.get()] == [1, 1]
    clock.now += 1.9
    assert cache.get() == 1
    clock.now += 0.2
    assert cache.get() == 2


def test_callers_arriving_during_a_computation_wait_for_it_instead_of_starting_their_own() -> None:
    started, release, computed = threading.Event(), threading.Event(), []

    def compute() -> int:
        computed.append(1)
        started.set()
        release.wait(5)
        return 42

    cache = SingleFlightCache(compute, lambda _: 0.0, wait_seconds=5)
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(cache.get)
        assert started.wait(5)
        others = [pool.submit(cache.get) for _ in range(7)]
        time.sleep(0.1)
        release.set()
        assert [future.result(5) for future in (first, *others)] == [42] * 8
    assert computed == [1]


def test_a_caller_waiting_past_its_limit_gets_the_last_value_however_old() -> None:
    clock, release, answers = Clock(), threading.Event(), iter([1, 2])

    def compute() -> int:
        value = next(answers)
        if value == 2:
            release.wait(5)
        return value

    cache = SingleFlightCache(compute, lambda _: 1.0, wait_seconds=0.1, clock=clock)
    assert cache.get() == 1
    clock.now += 5
    with ThreadPoolExecutor(max_workers=2) as pool:
        slow = pool.submit(cache.get)
        time.sleep(0.05)
        assert cache.get() == 1
        release.set()
        assert slow.result(5) == 2


def test_a_failed_computation_is_not_kept() -> None:
    answers = iter([RuntimeError("no"), 7])

    def compute() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = SingleFlightCache(compute, lambda _: 60.0, wait_seconds=1)
    with pytest.raises(RuntimeError):
        cache.get()
    assert cache.get() == 7


def test_a_hung_call_holds_one_thread_and_later_fan_outs_wait_for_it_rather_than_start_it_again() -> None:
    executor, release, started = FanOutExecutor(threads=2), threading.Event(), []

    def hangs() -> str:
        started.append(1)
        release.wait(5)
        return "late"

    try:
        for _ in range(5):
            results = call_concurrently({"hung": hangs, "quick": lambda: "ok"}, 0.05, kind="k", executor=executor)
            assert results == {"hung": None, "quick": "ok"}
        assert started == [1]
        # Another kind of fan-out is another call.
        assert call_concurrently({"hung": lambda: "other"}, 1, kind="other", executor=executor) == {"hung": "other"}
        # Once it has ended, the next fan-out calls again.
        release.set()
        time.sleep(0.1)
        assert call_concurrently({"hung": hangs}, 1, kind="k", executor=executor) == {"hung": "late"}
        assert len(started) == 2
    finally:
        release.set()


def test_a_call_that_fails_gives_none() -> None:
    def fails() -> str:
        raise ConnectionError("refused")

    assert call_concurrently({"a": fails, "b": lambda: "ok"}, 1, executor=FanOutExecutor(threads=2)) == {
        "a": None,
        "b": "ok",
    }
