"""MASE's scale when the training span never changes (SMD counters idle for weeks) or
repeats exactly every season: ``backtest`` scores the series on a documented fallback
scale and says which, instead of refusing valid input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foresight.evaluation.backtest import backtest
from foresight.evaluation.metrics import SCALE_SOURCES, mase_scale, naive_scale
from foresight.evaluation.selection import select

STEP_S = 300.0
N = 2000  # the test span starts at row 1400


def stamps(n: int) -> np.ndarray:
    return 1_700_000_100 + STEP_S * np.arange(n)


def flat_until(start: int, n: int = N, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.full(n, 3.0)
    v[start:] = 3.0 + np.abs(np.cumsum(rng.normal(0, 1, n - start)))
    return v


def strict(r) -> dict:
    return json.loads(json.dumps(r.to_dict(), allow_nan=False))  # raises on NaN/inf


def never_worse(d: dict) -> bool:
    return d["mase"] <= 1.02 * min(d["naive_mase"], d["seasonal_naive_mase"], d["linear_lags_mase"])


def test_the_fallback_order():
    moving = np.array([0.0, 1.0, 3.0, 2.0])
    assert mase_scale(moving, None, moving) == (naive_scale(moving, None), "train")
    assert mase_scale(moving, 2, moving) == (naive_scale(moving, 2), "train")
    every_2 = np.array([0.0, 4.0, 0.0, 4.0, 0.0])
    assert mase_scale(every_2, 2, every_2) == (4.0, "train-lag1")
    flat = np.zeros(4)
    later = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 6.0])
    assert mase_scale(flat, None, later) == (pytest.approx(6.0 / 5), "whole")
    assert mase_scale(flat, 96, later)[1] == "whole"
    assert mase_scale(flat, None, np.full(6, 7.0)) == (1.0, "unit")
    assert SCALE_SOURCES == ("train", "train-lag1", "whole", "unit")


@pytest.mark.parametrize("horizon", [12, 288])
def test_a_series_constant_in_its_training_span_is_scored(horizon):
    v = flat_until(1500)  # flat for all of the first 70 %, moving in the test span
    d = strict(backtest(v, stamps(N), horizon=horizon))
    assert d["mase_scale_from"] == "whole"
    assert d["scale"] == pytest.approx(naive_scale(v, None)) and d["scale"] > 0
    assert d["model"] in d["candidates"] and d["mase"] > 0
    assert never_worse(d)
    assert 0.0 <= d["coverage_80"] <= d["coverage_95"] <= 1.0


def test_the_scale_does_not_change_which_model_is_never_worse():
    # Every MASE of one backtest shares the scale: their ratios are the raw MAE ratios.
    v = flat_until(1500)
    d = strict(backtest(v, stamps(N), horizon=12))
    mae_naive = d["naive_mase"] * d["scale"]
    assert d["mae"] / mae_naive == pytest.approx(d["mase"] / d["naive_mase"], rel=1e-4)


def test_a_series_that_never_changes_scores_zero_on_the_unit_scale():
    d = strict(backtest(np.full(N, 5.0), stamps(N), horizon=12))
    assert d["mase_scale_from"] == "unit" and d["scale"] == 1.0
    assert d["model"] == "last"
    assert d["mase"] == d["naive_mase"] == d["seasonal_naive_mase"] == 0.0
    assert d["coverage_80"] == 1.0  # a zero-width band holds a value that never moves


def test_a_training_span_that_repeats_every_season_uses_the_one_step_scale():
    v = (np.arange(N) % 48).astype(float)
    d = strict(backtest(v, stamps(N), horizon=12, season_length=48))
    assert d["mase_scale_from"] == "train-lag1"
    assert d["scale"] == pytest.approx(naive_scale(v[:1400], None))
    assert d["model"] == "seasonal" and d["mase"] == 0.0 and never_worse(d)


def test_an_ordinary_series_keeps_the_training_span_scale():
    rng = np.random.default_rng(2)
    v = 10 + np.sin(np.arange(N) / 20) + rng.normal(0, 0.2, N)
    d = strict(backtest(v, stamps(N), horizon=12, season_length=None))
    assert d["mase_scale_from"] == "train"
    assert d["scale"] == naive_scale(v[:1400], None)


def test_selection_ranks_a_flat_history_only_on_a_given_scale():
    with pytest.raises(ValueError, match="never changes"):
        select(np.full(1500, 7.0), stamps(1500), horizon=12, step_s=STEP_S)
    chosen = select(np.full(1500, 7.0), stamps(1500), horizon=12, step_s=STEP_S, flat_scale=1.0)
    assert chosen.model == "last" and chosen.candidates["last"] == 0.0
