"""``backtest``'s ``coverage_floor``: the share of scored pairs whose forecast equals the
actual exactly. Those actuals are inside every band that holds its point forecast, so the
80 % coverage of a step-like series cannot go below it (out of reach above 85 %)."""

from __future__ import annotations

import json

import numpy as np

from foresight.evaluation.backtest import backtest


def step_like(seed: int = 0, n: int = 3000) -> np.ndarray:
    """A level that jumps at ~1 % of the steps and repeats exactly in between."""
    rng = np.random.default_rng(seed)
    jumps = np.where(rng.random(n) < 0.01, rng.normal(0, 5, n), 0.0)
    return 50.0 + np.cumsum(jumps)


def test_a_step_like_series_reports_its_floor_and_covers_at_least_it():
    values = step_like()
    r = backtest(values, horizon=12, step_s=300.0, model="last", season_length=None)
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    # The floor recomputed by hand: the last value from each test origin vs the actuals.
    origins = np.arange(int(len(values) * 0.7), len(values) - 12)
    idx = origins[:, None] + np.arange(1, 13)[None, :]
    exact = values[idx] == values[origins][:, None]
    assert d["coverage_floor"] == float(exact.mean())
    assert d["coverage_floor"] > 0.85
    assert d["coverage_80"] >= d["coverage_floor"]


def test_a_noisy_series_has_no_floor():
    values = 10.0 + np.random.default_rng(1).normal(0, 1, 2000)
    d = backtest(values, horizon=6, step_s=60.0, model="last", season_length=None).to_dict()
    assert d["coverage_floor"] == 0.0
