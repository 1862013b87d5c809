"""The linear fit on the last 12 values as a candidate (``lags``): the backtest's own
"linear on 12 lags" baseline, chosen when named, served live and saved like the others
(issue 8). It is not among the default candidates (bench/README.md, bench_heldout)."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.evaluation.backtest import LinearLagsBaseline, backtest
from foresight.evaluation.selection import DEFAULT_CANDIDATES, make_model, select
from foresight.live import model_files
from foresight.live.forecasting import fit_served, forecast_now
from foresight.models.linear_lags import LinearLags

STEP_S = 300.0
WITH_LAGS = (*DEFAULT_CANDIDATES, "lags")


def ar2(n: int, seed: int = 0, level: float = 0.0) -> np.ndarray:
    """An AR(2) series: what a linear fit on recent values forecasts best."""
    rng = np.random.default_rng(seed)
    v = np.zeros(n)
    for t in range(2, n):
        v[t] = 0.6 * v[t - 1] + 0.3 * v[t - 2] + rng.normal()
    return v + level


def stamps(n: int) -> np.ndarray:
    return 1_700_000_000.0 + STEP_S * np.arange(n)


def test_the_candidate_is_the_baseline_bit_for_bit():
    v = ar2(1500)
    v[700:705] = np.nan  # a gap: left out of the fit, forward-filled in the forecast
    origins = np.array([800, 1000, 1487])
    ours = make_model("lags", 12, step_s=STEP_S).fit(v[:900], stamps(900))
    assert isinstance(ours, LinearLags)
    base = LinearLagsBaseline().fit(v[:900]).predict_batch(v, origins, 12)
    assert np.array_equal(ours.predict_mean(v, origins), base)


def test_forced_lags_scores_exactly_the_linear_baseline():
    v = ar2(3000)  # around 0, negative too: no floor moves the forecast
    r = backtest(v, stamps(len(v)), horizon=12, model="lags").to_dict()
    assert r["model"] == "lags"
    assert r["mase"] == r["linear_lags_mase"]
    assert r["mase_by_step"] == r["linear_lags_mase_by_step"]


def test_auto_chooses_it_where_it_wins_when_named_and_not_by_default():
    v = ar2(3000, level=50.0)
    default = select(v, stamps(len(v)), horizon=12, step_s=STEP_S)
    assert "lags" not in DEFAULT_CANDIDATES and "lags" not in default.candidates
    chosen = select(v, stamps(len(v)), horizon=12, step_s=STEP_S, names=WITH_LAGS)
    assert chosen.model == "lags"
    assert chosen.candidates["lags"] < chosen.candidates["last"]
    assert {"last", "ridge", "lags"} <= set(chosen.candidates)
    # backtest chooses on the span before its test origins: there, too, and then its
    # test figures are the baseline's.
    r = backtest(v, stamps(len(v)), horizon=12, candidates=WITH_LAGS).to_dict()
    assert r["model"] == "lags" and "lags" in r["candidates"]
    assert r["mase"] == r["linear_lags_mase"]


def test_served_live_in_plain_words_and_round_trips_without_pickle(tmp_path):
    v = ar2(3000, level=50.0)
    ts = stamps(len(v))
    served = fit_served(
        "cpu_percent", v, ts, horizon=12, step_s=STEP_S, min_observed=20, now=5.0, names=WITH_LAGS
    )
    assert served.name == "lags" and isinstance(served.model, LinearLags)
    acc = served.accuracy(STEP_S)
    assert acc["model_words"] == "a linear fit on the last 12 values"
    assert acc["summary"].startswith("a linear fit on the last 12 values: error ")
    assert acc["linear_lags_mase"] == served.candidates["lags"]
    tail = slice(len(v) - served.history_steps, len(v))
    fc = forecast_now(served, v[tail], ts[tail], STEP_S)
    assert np.all(fc.lower_80 <= fc.mean) and np.all(fc.mean <= fc.upper_80)
    path = model_files.save_served(tmp_path, "cpu_percent", "5m", served)
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:
        assert arrays["lags_coef"].shape == (12,)
    again = model_files.load_served(path)[2]
    assert again.name == "lags" and again.history_steps == served.history_steps
    origins = np.array([2000, 2999])
    assert np.array_equal(
        again.model.predict_mean(v, origins), served.model.predict_mean(v, origins)
    )
    assert np.array_equal(forecast_now(again, v[tail], ts[tail], STEP_S).mean, fc.mean)


def test_bad_saved_arrays_are_refused():
    good = LinearLags(6).fit(ar2(400)).arrays()
    with pytest.raises(ValueError, match="do not fit"):
        LinearLags.from_arrays(6, 12, {**good, "lags_coef": np.ones(5)})
    with pytest.raises(ValueError, match="NaN"):
        LinearLags.from_arrays(6, 12, {**good, "lags_coef": np.full(12, np.nan)})
    with pytest.raises(ValueError, match="not fitted"):
        LinearLags(6).predict_mean(np.ones(20), np.array([19]))
    with pytest.raises(ValueError, match="too few complete rows"):
        LinearLags(6).fit(np.arange(20.0))
