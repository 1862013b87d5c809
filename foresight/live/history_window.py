"""The live models' history reads, kept between job runs: only the newest buckets re-read.

Every model job run re-anchors each forecast on the newest complete bucket, and each
refit reads the tier's whole history; both asked the store for the same hours of
bucket means again and again (4,000 raw rows a metric for a 5-minute forecast, 20,000
for a refit), though all but the newest buckets were the same as at the last read.
``HistoryWindows`` keeps the last grid read of each (metric, step) and answers a read
on the same grid from it, re-querying only the buckets that start within ``TAIL_S`` of
the kept grid's end (at least ``TAIL_BUCKETS``: a tick stored late is seconds late, a
push of the last minute's points a minute). ``until`` may lie past the newest bucket's
start (LiveModels reads up to its end); the grid is fixed by ``since`` and the count.

The answer equals ``store.series`` on the same arguments (same buckets, same SQL means)
unless a sample older than those re-read buckets was written after the kept read (a
pushed point or a source's backlog more than ``TAIL_S`` old): such a write shows at the
next whole re-read, at most ``REFRESH_S`` later (a refit or a re-forecast up to 15
minutes behind on a late write into its past; never on the newest buckets). A change of
the store's tier coverage (retention moved raw values into rollups) re-reads the whole
window at once. ``POST /api/train`` (``LiveModels.request_refit``) drops the kept grids.

A kept grid spans the longest window asked of it (``span`` buckets: a refit's), trimmed
to that as time moves on; a whole re-read asked by a shorter window (a re-forecast,
which comes first at almost every refresh) reads that span whole, so the next refit
still reads only the newest buckets: the long window is read whole once per
``REFRESH_S``, not once by the re-forecast's refresh and again by the refit after it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

REFRESH_S = 900.0  # a kept grid is read again whole at least this often (late writes)
TAIL_S = 120.0  # the kept grid's buckets starting this close to its end are re-read ...
TAIL_BUCKETS = 2  # ... and at least this many of them


@dataclass(frozen=True, slots=True)
class _Kept:
    since: float  # the first bucket's start
    values: np.ndarray  # bucket means from ``since``, one per step
    read_at: float  # when it was last read whole
    coverage: tuple  # the store's tier coverage then
    span: int  # the most buckets a read of this grid asked for (the refit's window)


class HistoryWindows:
    """``series(metric, since, until, step_s)`` of the store, the overlap with the last
    read of the same grid answered from memory; thread-safe."""

    def __init__(
        self,
        store: Any,
        refresh_s: float = REFRESH_S,
        tail_s: float = TAIL_S,
        tail_buckets: int = TAIL_BUCKETS,
    ) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.tail_s = tail_s
        self.tail_buckets = max(1, int(tail_buckets))
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, float], _Kept] = {}
        self.whole_reads = 0  # reads that went to the store whole
        self.tail_reads = 0  # reads answered from memory plus the newest buckets

    def forget(self, metric: str | None = None) -> None:
        """Drop the kept grids (of ``metric``; None: all): the next reads go whole."""
        with self._lock:
            if metric is None:
                self._kept.clear()
            else:
                self._kept = {k: v for k, v in self._kept.items() if k[0] != metric}

    def series(
        self, metric: str, since: float, until: float, step_s: float, now: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The regular grid ``(timestamps, values)`` of ``store.series`` (NaN for gaps)."""
        n = math.floor((until - since) / step_s + 1e-9) + 1
        key = (metric, float(step_s))
        coverage = self._coverage()
        with self._lock:
            kept = self._kept.get(key)
        start = self._reuse_from(kept, since, until, step_s, n, now, coverage)
        span = n if kept is None or not _on_grid(kept.since, since, step_s) else max(n, kept.span)
        last = since + (n - 1) * step_s  # the newest bucket's start (``until`` may be past it)
        if kept is None or start is None:
            # Read the longest window this grid was asked for (same buckets, same means:
            # a bucket's mean does not depend on where the read starts on the grid).
            first = min(since, last - (span - 1) * step_s)
            whole = self.store.series(metric, first, until, step_s)[1]
            self._keep(key, _Kept(float(first), whole, now, coverage, len(whole)))
            self.whole_reads += 1
            values = whole[len(whole) - n :]
            timestamps = since + step_s * np.arange(n, dtype=float)
            return timestamps, values.copy()
        # Buckets [since, start) from the kept grid, [start, until] from the store.
        offset = round((since - kept.since) / step_s)
        head = round((start - since) / step_s)
        values = np.empty(n)
        values[:head] = kept.values[offset : offset + head]
        if head < n:
            values[head:] = self.store.series(metric, since + head * step_s, until, step_s)[1]
        # Keep the longest window asked (a refit reads more than a re-forecast), no more.
        merged = np.concatenate([kept.values[:offset], values]) if offset else values
        if len(merged) > span:
            merged = merged[len(merged) - span :]
        first = last - (len(merged) - 1) * step_s
        self._keep(key, _Kept(first, merged, kept.read_at, coverage, span))
        self.tail_reads += 1
        timestamps = since + step_s * np.arange(n, dtype=float)
        return timestamps, values.copy()

    def _reuse_from(
        self,
        kept: _Kept | None,
        since: float,
        until: float,
        step_s: float,
        n: int,
        now: float,
        coverage: tuple,
    ) -> float | None:
        """Where the store must be read from (a bucket start; inf: nothing to read), or
        None: read the whole window (nothing kept covers its start on the same grid, too
        old, or the store's coverage changed)."""
        if kept is None or kept.coverage != coverage or now - kept.read_at >= self.refresh_s:
            return None
        shift = (since - kept.since) / step_s
        if shift < 0 or abs(shift - round(shift)) > 1e-9:
            return None  # starts before the kept grid, or off its grid
        kept_end = kept.since + (len(kept.values) - 1) * step_s  # the kept last bucket
        tail = max(self.tail_buckets, math.floor(self.tail_s / step_s + 1e-9))
        fresh_from = kept_end - (tail - 1) * step_s
        if fresh_from <= since or until < kept_end:
            # Nothing of it kept, or it ends before the kept grid does (a read of the
            # past, whose last bucket the kept grid may hold with other samples): whole.
            return None
        return fresh_from

    def _keep(self, key: tuple[str, float], kept: _Kept) -> None:
        with self._lock:
            self._kept[key] = kept

    def _coverage(self) -> tuple:
        coverage = getattr(self.store, "tier_coverage", None)
        return () if coverage is None else tuple(sorted(coverage().items()))


def _on_grid(a: float, b: float, step_s: float) -> bool:
    """Whether bucket starts ``a`` and ``b`` lie on the same grid of ``step_s``."""
    shift = (b - a) / step_s
    return abs(shift - round(shift)) <= 1e-9
