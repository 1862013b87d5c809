"""Downsampled reads over the store's tiers (raw values, 1-minute and 1-hour rollups).

A read picks the coarsest tier whose resolution fits in one bucket (a 24 h chart at
1,000 points reads ~1,440 minute rollups per metric instead of 86,400 raw rows); parts
of the range older than that tier's retention fall back to the next coarser tier.
``covered`` maps each tier to the oldest timestamp it still holds (from ``meta``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

import numpy as np

Points = list[tuple[float, float]]
TIERS: tuple[tuple[str, int], ...] = (("raw", 0), ("minute", 60), ("hour", 3600))

# Both give each bucket's sums of timestamps and values and how many values they hold,
# so a bucket split across two tiers (at a retention edge) weighs each part by its count.
_RAW_BUCKETS = (
    "SELECT SUM(ts), SUM(value), COUNT(value), "
    "MIN(CAST((ts - :since) / :step AS INTEGER), :cap) AS b "
    "FROM sample WHERE metric_id = :mid AND ts >= :lo AND ts <= :hi GROUP BY b"
)
# A rollup row counts at its mean timestamp; rows straddling the range edge are
# filtered on that mean (the index narrows the scan by bucket start first).
_ROLLUP_BUCKETS = (
    "SELECT SUM(ts_total), SUM(total), SUM(n), "
    "MIN(MAX(CAST((ts_total / n - :since) / :step AS INTEGER), 0), :cap) AS b "
    "FROM rollup WHERE res_s = :res AND metric_id = :mid AND ts > :lo - :res "
    "AND ts <= :hi AND ts_total / n >= :lo AND ts_total / n <= :hi GROUP BY b"
)


def segments(
    covered: Mapping[str, float], since: float, until: float, step_s: float, exact: bool = False
) -> list[tuple[str, int, float, float]]:
    """Split ``[since, until]`` into (tier, resolution_s, lo, hi) pieces, newest first.

    ``exact``: use only tiers whose buckets nest in the steps (``since`` aligned and
    ``step_s`` a whole multiple), so the means equal those of the raw values.
    """
    start = max(
        i
        for i, (_, res) in enumerate(TIERS)
        if res <= step_s and (not exact or res == 0 or (since % res == 0 and step_s % res == 0))
    )
    pieces = []
    hi = until
    for name, res in TIERS[start:]:
        lo = max(since, covered[name])
        if lo <= hi:
            pieces.append((name, res, lo, hi))
        # Older parts come from the next tier, excluding this tier's first instant.
        hi = min(hi, covered[name] - 1e-6)
        if hi < since:
            break
    return pieces


def bucket_means(
    conn: sqlite3.Connection,
    covered: Mapping[str, float],
    ids: Mapping[str, int],
    since: float,
    until: float,
    step_s: float,
    max_index: int,
) -> dict[str, Points]:
    """``{metric: [(mean ts, mean value), ...]}``: bucket ``i`` holds
    ``since + i*step_s <= ts < since + (i+1)*step_s``; indexes above ``max_index`` are
    folded into the last bucket (so there are at most ``max_index + 1`` points)."""
    out: dict[str, Points] = {name: [] for name in ids}
    pieces = segments(covered, since, until, step_s)
    for name, mid in ids.items():
        merged: dict[int, list[float]] = {}  # bucket: [sum of ts, sum of values, count]
        for tier, res, lo, hi in pieces:
            params = {
                "since": since,
                "step": step_s,
                "cap": max_index,
                "mid": mid,
                "lo": lo,
                "hi": hi,
                "res": res,
            }
            sql = _RAW_BUCKETS if tier == "raw" else _ROLLUP_BUCKETS
            for t, v, count, b in conn.execute(sql, params):
                sums = merged.setdefault(b, [0.0, 0.0, 0.0])
                sums[0] += t
                sums[1] += v
                sums[2] += count
        out[name] = [(t / count, v / count) for _, (t, v, count) in sorted(merged.items())]
    return out


def grid_means(
    conn: sqlite3.Connection,
    covered: Mapping[str, float],
    metric_id: int,
    since: float,
    step_s: float,
    n: int,
) -> np.ndarray:
    """Mean of one metric in each of ``n`` buckets from ``since``; NaN where empty.

    Bucket ``i`` holds ``since + i*step_s <= ts < since + (i+1)*step_s``, whole (a
    read's ``until`` inside the last bucket only fixed ``n``), so a bucket's mean never
    depends on the read's bounds (a rollup, which nests in the buckets, counts whole in
    the bucket of its start, as its raw values do). A bucket across a retention edge
    sums both tiers' parts, weighted by how many values each holds.
    """
    totals, counts = np.zeros(n), np.zeros(n)
    end = since + n * step_s  # the last bucket's end: a value at it is bucket n's
    for tier, res, lo, hi in segments(covered, since, end, step_s, exact=True):
        if tier == "raw":
            sql = (
                "SELECT CAST((ts - ?) / ? AS INTEGER) AS b, SUM(value), COUNT(value) "
                "FROM sample WHERE metric_id = ? AND ts >= ? AND ts <= ? AND ts < ? GROUP BY b"
            )
        else:
            sql = (
                f"SELECT CAST((ts_total / n - ?) / ? AS INTEGER) AS b, "
                f"SUM(total), SUM(n) FROM rollup WHERE res_s = {res} AND "
                f"metric_id = ? AND ts > ? - {res} AND ts <= ? AND ts < ? GROUP BY b"
            )
        for b, total, count in conn.execute(sql, (since, step_s, metric_id, lo, hi, end)):
            if 0 <= b < n:
                totals[b] += total
                counts[b] += count
    values = np.full(n, np.nan)
    np.divide(totals, counts, out=values, where=counts > 0)
    return values


def first_timestamp(conn: sqlite3.Connection, ids: Mapping[str, int]) -> float | None:
    """The oldest time any tier still holds for these metrics (epoch s), None if empty.

    Raw values give their exact first timestamp. A rollup counts only when its bucket ends
    before that (raw values already dropped by retention), and then gives its bucket
    start. One primary-key lookup per metric and tier.
    """
    first: float | None = None
    for mid in ids.values():
        found: float | None = None
        for res_s, sql in (
            (0, "SELECT MIN(ts) FROM sample WHERE metric_id = ?"),
            (60, "SELECT MIN(ts) FROM rollup WHERE res_s = 60 AND metric_id = ?"),
            (3600, "SELECT MIN(ts) FROM rollup WHERE res_s = 3600 AND metric_id = ?"),
        ):
            ts = conn.execute(sql, (mid,)).fetchone()[0]
            if ts is not None and (found is None or float(ts) + res_s <= found):
                found = float(ts)
        if found is not None and (first is None or found < first):
            first = found
    return first
