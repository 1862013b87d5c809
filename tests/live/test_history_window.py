"""HistoryWindows answers as store.series does, re-reading only the newest buckets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight.live.history_window import REFRESH_S, TAIL_S, HistoryWindows
from foresight.store.metric_store import MetricStore

T0 = 1_700_000_000.0


@pytest.fixture()
def store(tmp_path):
    with MetricStore(tmp_path / "f.db") as s:
        yield s


def grid(now: float, step: float, steps: int) -> tuple[float, float]:
    """The window LiveModels._read asks for: ``steps`` buckets before ``now``, read up to
    the newest bucket's end (``until`` just short of it, past the bucket's start)."""
    last = math.floor(now / step) * step - step
    return last - (steps - 1) * step, last + step * (1.0 - 1e-6)


def append(store, start: float, end: float, rng) -> None:
    """1-s samples in [start, end), some seconds missing (gaps)."""
    ts = np.arange(start, end, 1.0)
    ts = ts[rng.random(len(ts)) > 0.1]
    store.append_many(
        (float(t), {"cpu_percent": float(v)}) for t, v in zip(ts, rng.random(len(ts)) * 100)
    )


def same(a: tuple, b: tuple) -> None:
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])  # NaN == NaN here; values bit for bit


def read_as_store(windows, store, now: float, steps: int, step: float) -> None:
    """A live read of ``steps`` buckets before ``now`` through ``windows`` equals
    ``store.series`` on the same arguments."""
    since, until = grid(now, step, steps)
    same(
        windows.series("cpu_percent", since, until, step, now),
        store.series("cpu_percent", since, until, step),
    )


def test_reads_equal_store_series_as_time_moves_on(store):
    rng = np.random.default_rng(1)
    append(store, T0 - 3600, T0, rng)
    windows = HistoryWindows(store)
    now = T0
    for _ in range(40):
        # The live job: a refit reads long windows, re-forecasts shorter ones.
        for step, steps in ((10.0, 300), (10.0, 40), (60.0, 50), (10.0, 333)):
            read_as_store(windows, store, now, steps, step)
        new_now = now + float(rng.integers(1, 30))
        append(store, now, new_now, rng)
        now = new_now
    assert windows.tail_reads > windows.whole_reads  # most reads came from memory


def test_unknown_metric_and_gap_only_windows(store):
    windows = HistoryWindows(store)
    since, until = grid(T0, 10.0, 20)
    same(windows.series("nope", since, until, 10.0, T0), store.series("nope", since, until, 10.0))
    same(
        windows.series("nope", since + 10, until + 10, 10.0, T0 + 10),
        store.series("nope", since + 10, until + 10, 10.0),
    )


def test_a_late_old_write_shows_after_refresh_s_at_most(store):
    rng = np.random.default_rng(2)
    append(store, T0 - 1800, T0, rng)
    windows = HistoryWindows(store)
    since, until = grid(T0, 10.0, 100)
    windows.series("cpu_percent", since, until, 10.0, T0)
    store.append(since + 5.5, {"cpu_percent": 1e6})  # a pushed point, long after its time
    now = T0 + 10
    since, until = grid(now, 10.0, 100)
    kept = windows.series("cpu_percent", since, until, 10.0, now)
    assert not np.array_equal(kept[1], store.series("cpu_percent", since, until, 10.0)[1])
    now = T0 + REFRESH_S
    read_as_store(windows, store, now, 100, 10.0)


def test_forget_reads_whole_again(store):
    rng = np.random.default_rng(3)
    append(store, T0 - 1800, T0, rng)
    windows = HistoryWindows(store)
    since, until = grid(T0, 10.0, 100)
    windows.series("cpu_percent", since, until, 10.0, T0)
    store.append(since + 5.5, {"cpu_percent": 1e6})
    windows.forget("cpu_percent")
    read_as_store(windows, store, T0 + 1, 100, 10.0)  # the same buckets as at T0
    assert windows.whole_reads == 2


def test_a_late_write_within_tail_s_shows_at_once(store):
    rng = np.random.default_rng(4)
    append(store, T0 - 1800, T0, rng)
    windows = HistoryWindows(store)
    since, until = grid(T0, 10.0, 100)
    windows.series("cpu_percent", since, until, 10.0, T0)
    store.append(until - TAIL_S + 10.5, {"cpu_percent": 1e6})  # pushed a minute or two late
    now = T0 + 10
    read_as_store(windows, store, now, 100, 10.0)


def test_a_refresh_asked_by_a_short_window_keeps_the_long_one(store):
    # The live job: a refit's long window every 300 s, a re-forecast's short one every
    # bucket. The re-forecast meets each refresh first; the refit after it still reads
    # only the newest buckets, and every answer equals store.series.
    rng = np.random.default_rng(5)
    append(store, T0 - 3 * 3600, T0, rng)
    windows = HistoryWindows(store)
    now = T0
    long_whole = 0
    for i in range(int(2.5 * REFRESH_S / 10)):
        read_as_store(windows, store, now, 50, 10.0)
        if i % 30 == 0:  # a refit every 300 s, after the re-forecast at the same time
            before = windows.whole_reads
            read_as_store(windows, store, now, 1000, 10.0)
            long_whole += windows.whole_reads - before
        append(store, now, now + 10, rng)
        now += 10
    assert long_whole == 1  # the first; the refreshes were asked by the short window
    assert windows.whole_reads == 4  # the first two reads and two refreshes
    kept = windows._kept[("cpu_percent", 10.0)]
    assert len(kept.values) == 1000  # trimmed to the longest window, not growing
