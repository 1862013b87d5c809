"""The sampling thread: slots, a slow tick, and its life tied to the scheduler's."""

from __future__ import annotations

import threading
import time

from foresight.host.ticks import TickStats, make_scheduler, schedule_sampling


def wait_for(predicate, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_ticks_start_and_stop_with_the_scheduler() -> None:
    stats = TickStats(0.05, origin=time.time())
    seen: list[float] = []
    scheduler = make_scheduler()
    sampler = schedule_sampling(scheduler, stats, seen.append)
    time.sleep(0.15)
    assert seen == []  # nothing before the scheduler starts
    scheduler.start()
    try:
        wait_for(lambda: len(seen) >= 3)
    finally:
        scheduler.shutdown(wait=True)
    stopped_at = len(seen)
    time.sleep(0.2)
    assert len(seen) == stopped_at and stats.ticks == stopped_at
    assert sampler._thread is not None and not sampler._thread.is_alive()
    # each run is the slot of its time: strictly increasing, at most one per slot
    slots = [int((t - stats.origin) / 0.05 + 1e-3) for t in seen]
    assert slots == sorted(set(slots))


def test_a_slow_tick_delays_the_next_and_counts_missed_slots() -> None:
    stats = TickStats(0.05, origin=time.time())
    running = [0]
    most = [0]
    lock = threading.Lock()

    def slow(now: float) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.13)  # longer than two slots
        with lock:
            running[0] -= 1

    scheduler = make_scheduler()
    schedule_sampling(scheduler, stats, slow)
    scheduler.start()
    try:
        wait_for(lambda: stats.ticks >= 4)
    finally:
        scheduler.shutdown(wait=True)
    assert most[0] == 1  # runs never stack
    assert stats.missed >= stats.ticks - 1  # every run after the first skipped slots
    assert stats.errors == 0


def test_a_failing_tick_is_counted_and_the_next_runs() -> None:
    stats = TickStats(0.05, origin=time.time())
    calls: list[float] = []

    def flaky(now: float) -> None:
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("boom")

    scheduler = make_scheduler()
    schedule_sampling(scheduler, stats, flaky)
    scheduler.start()
    try:
        wait_for(lambda: len(calls) >= 3)
    finally:
        scheduler.shutdown(wait=True)
    assert stats.errors == 1
