"""A series bucket across a tier's retention edge counts both tiers' samples.

After retention the raw values before one whole hour are gone (their minute rollups stay)
and the minute rollups before an older hour (their hour rollups stay). A bucket of
``store.series`` that starts before such an edge and ends after it used to be the mean of
the newer tier's part alone; here the rollups nest in the bucket, so it must be the mean
of every value ever stored in it.
"""

from __future__ import annotations

import numpy as np
import pytest

from foresight.store.metric_store import MetricStore

T0 = 1_800_000_000.0  # a whole hour
NOW = T0 + 3.5 * 3600
RAW_EDGE = T0 + 2 * 3600  # retention of 1 hour keeps raw values from here
MINUTE_EDGE = T0 + 3600  # retention of 2 hours keeps minute rollups from here


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory):
    """A store with 5-s samples from T0 to NOW, retention applied at NOW; and the samples."""
    rng = np.random.default_rng(8)
    ts = np.arange(T0, NOW, 5.0)
    values = rng.uniform(0.0, 100.0, len(ts)) + 50.0 * (ts >= RAW_EDGE)  # the edge shows
    path = tmp_path_factory.mktemp("edge") / "f.db"
    with MetricStore(path, retention_days=1 / 24, minute_retention_days=2 / 24) as store:
        store.append_many((float(t), {"cpu_percent": float(v)}) for t, v in zip(ts, values))
        store.apply_retention(NOW)
        assert store.tier_coverage()["raw"] == RAW_EDGE  # the edges are where the test says
        assert store.tier_coverage()["minute"] == MINUTE_EDGE
        yield store, ts, values


@pytest.mark.parametrize(
    ("since", "step_s"),
    [
        (RAW_EDGE - 60, 90.0),  # a minute rollup, then 30 s of raw values
        (RAW_EDGE - 120, 150.0),  # two minute rollups, 30 s of raw values
        (MINUTE_EDGE - 3600, 5400.0),  # an hour rollup, then 30 minute rollups
    ],
)
def test_a_bucket_across_a_retention_edge_is_the_mean_of_all_its_values(
    stored, since: float, step_s: float
) -> None:
    store, ts, values = stored
    _, means = store.series("cpu_percent", since, since + 2 * step_s, step_s)
    for i, mean in enumerate(means):
        inside = (ts >= since + i * step_s) & (ts < since + (i + 1) * step_s)
        assert mean == pytest.approx(values[inside].mean(), rel=1e-9), (i, since, step_s)


@pytest.mark.parametrize(
    ("since", "step_s", "first", "last"),
    [
        # a chart's bucket counts a rollup whole at its mean timestamp: the minute
        # [edge-60, edge) (mean edge-32.5) and the raw value at the edge
        (RAW_EDGE - 40, 45.0, RAW_EDGE - 60, RAW_EDGE + 5),
        # the hour before the edge (mean edge-1802.5) and 7 minutes after it
        (MINUTE_EDGE - 2000, 2400.0, MINUTE_EDGE - 3600, MINUTE_EDGE + 420),
    ],
)
def test_a_chart_bucket_across_a_retention_edge_weighs_each_tier_by_its_values(
    stored, since: float, step_s: float, first: float, last: float
) -> None:
    store, ts, values = stored
    points = store.query(["cpu_percent"], since, since + step_s - 1, limit=10, step_s=step_s)
    inside = (ts >= first) & (ts < last)
    t, v = points["cpu_percent"][0]
    assert v == pytest.approx(values[inside].mean(), rel=1e-9)
    assert t == pytest.approx(ts[inside].mean(), rel=1e-12)
