"""A series that starts flat and moves later (SMD has many: a counter idle for days).

The part before the validation origins never changes, but the history does: selection
must still choose (the last value when nothing beats it), not refuse the series.
"""

from __future__ import annotations

import json

import numpy as np

from foresight.evaluation.backtest import backtest
from foresight.evaluation.selection import CANDIDATES, select

STEP_S = 300.0


def stamps(n: int) -> np.ndarray:
    return 1_700_000_100 + STEP_S * np.arange(n)


def flat_then_walk(n: int, flat: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.zeros(n)
    v[flat:] = np.abs(np.cumsum(rng.normal(0, 1, n - flat)))
    return v


def test_selection_chooses_when_only_the_part_before_validation_is_flat():
    n = 1500
    v = flat_then_walk(n, flat=1000)  # validation origins start near 0.6 * 1488 = 892
    chosen = select(v, stamps(n), horizon=12, step_s=STEP_S)
    assert chosen.model in CANDIDATES
    assert "last" in chosen.candidates
    assert all(np.isfinite(s) and s >= 0 for s in chosen.candidates.values())
    # Nothing may be served that loses to the last value on validation.
    assert chosen.candidates[chosen.model] <= chosen.candidates["last"]


def test_backtest_of_a_late_moving_series_gives_finite_strict_json():
    n = 2000
    v = flat_then_walk(n, flat=900)  # test from 1400; validation from ~0.6 * 1388 = 833
    r = backtest(v, stamps(n), horizon=12)
    text = json.dumps(r.to_dict(), allow_nan=False)  # raises on NaN or infinity
    d = json.loads(text)
    assert d["model"] in CANDIDATES
    assert d["mase"] <= 1.02 * min(d["naive_mase"], d["seasonal_naive_mase"], d["linear_lags_mase"])
    assert 0.0 <= d["coverage_80"] <= 1.0
