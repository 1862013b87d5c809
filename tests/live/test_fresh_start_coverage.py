"""Live 80 % bands from the first minutes of a fresh start (issue 8): a real 10-s trace
replayed into an empty store, the model job run as the monitor runs it, every drawn
forecast step scored against the trace (``fresh_start_support``)."""

from __future__ import annotations

import numpy as np

from foresight.store.metric_store import MetricStore
from tests.live.fresh_start_support import load_trace, replay_fresh_start

OFFSETS = (0, 8640, 17280, 25920, 34560, 43200)  # one start a day, days 3 to 8
MINUTES = 30.0


def test_bands_cover_75_to_85_percent_in_the_first_half_hour(shared_data, tmp_path):
    # Before: 72 % over all (65 % for memory, 70 % for disk I/O): the newest 10-s bucket
    # was read empty (its outcomes lost, forecasts made from the one before), the pool of
    # the first choice was 2-3 errors whose largest capped the band, and ACI's 0.01 step
    # needed ~25 misses to move.
    series = load_trace(shared_data)
    n = inside = 0
    per_metric: dict[str, list[int]] = {}
    for offset in OFFSETS:
        with MetricStore(tmp_path / f"start{offset}" / "foresight.db") as store:
            got = replay_fresh_start(store, series, offset=offset, minutes=MINUTES)
        for metric, c in got.items():
            assert c.n >= 2500, (metric, offset, c.n)  # a forecast every job from minute 1
            assert c.point_inside, (metric, offset)
            n, inside = n + c.n, inside + c.inside_80
            counts = per_metric.setdefault(metric, [0, 0])
            counts[0] += c.n
            counts[1] += c.inside_80
    overall = inside / n
    by_metric = {m: round(b / a, 3) for m, (a, b) in per_metric.items()}
    assert 0.75 <= overall <= 0.85, (overall, by_metric)
    assert min(by_metric.values()) >= 0.70, by_metric
    assert np.isfinite(overall)
