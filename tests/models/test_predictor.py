"""Forecaster, features and streaming detector: layouts, invariants, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.evaluation.backtest import backtest, naive_scale, seasonal_naive
from foresight.models.features import (
    FeatureSpec,
    build_features,
    detect_season,
    forward_fill,
    lag_matrix,
    seasonal_index,
    snap_season,
)
from predictor import Forecast, LagForecaster, NotFittedError


def seasonal_series(n: int, period: int = 24, noise: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 10 * np.sin(2 * np.pi * t / period) + rng.normal(0, noise, n)


# -- feature layout ------------------------------------------------------------------------
def test_lag_matrix_of_arange_is_pinned():
    assert lag_matrix(np.arange(10.0), 3).tolist() == [
        [2, 1, 0],
        [3, 2, 1],
        [4, 3, 2],
        [5, 4, 3],
        [6, 5, 4],
        [7, 6, 5],
        [8, 7, 6],
        [9, 8, 7],
    ]


def test_lag_matrix_before_start_is_nan():
    rows = lag_matrix(np.arange(10.0), 3, origins=np.array([0, 9]))
    assert np.isnan(rows[0, 1:]).all() and rows[0, 0] == 0
    assert rows[1].tolist() == [9, 8, 7]


def test_feature_matrix_layout_is_pinned():
    spec = FeatureSpec(n_lags=3, horizon=2, season=4, roll_windows=(2,))
    assert spec.names() == ["lag0", "lag1", "lag2", "mean2", "std2", "season_h1", "season_h2"]
    X = build_features(np.arange(10.0), np.array([5, 9]), spec)
    assert X.tolist() == [[5, 4, 3, 4.5, 0.5, 2, 3], [9, 8, 7, 8.5, 0.5, 6, 7]]


def test_seasonal_index_never_looks_past_the_origin():
    # origin 10, period 2: steps 1..5 map to the last value of the same phase
    assert seasonal_index(np.array([10]), 5, 2).tolist() == [[9, 10, 9, 10, 9]]


def test_forward_fill_is_causal():
    filled = forward_fill(np.array([np.nan, 1.0, np.nan, np.nan, 3.0]), initial=-1.0)
    assert filled.tolist() == [-1, 1, 1, 1, 3]


def test_season_detected_on_a_known_sine():
    assert detect_season(seasonal_series(1000, period=24, noise=1.0)) == 24


def test_no_season_in_noise_or_a_random_walk():
    rng = np.random.default_rng(1)
    assert detect_season(rng.normal(size=2000)) is None
    assert detect_season(np.cumsum(rng.normal(size=2000))) is None


def test_detected_season_snaps_to_a_calendar_day():
    assert snap_season(285, 300.0) == 288
    assert snap_season(200, 300.0) == 200
    assert snap_season(285, None) == 285


# -- forecaster ----------------------------------------------------------------------------
def test_params_stored_unchanged_and_fit_returns_self():
    model = LagForecaster(horizon=6, season_length="auto", alpha=2.5)
    assert (model.horizon, model.season_length, model.alpha) == (6, "auto", 2.5)
    assert model.fit(seasonal_series(600)) is model
    assert model.season_length == "auto" and model.season_length_ == 24


def test_unfitted_model_raises_not_fitted():
    model = LagForecaster()
    with pytest.raises(NotFittedError):
        model.predict(np.ones(50))
    with pytest.raises(NotFittedError):
        model.predict_batch(np.ones(50), [10])


@pytest.mark.parametrize(
    "params",
    [
        {"horizon": 0},
        {"horizon": 2.5},
        {"season_length": 1},
        {"season_length": "weekly"},
        {"n_lags": 0},
    ],
)
def test_bad_params_raise_on_fit(params):
    with pytest.raises(ValueError):
        LagForecaster(**params).fit(seasonal_series(500))


def test_forecast_shapes_order_and_timestamps():
    values = seasonal_series(800)
    ts = 1_700_000_000 + 60.0 * np.arange(800)
    model = LagForecaster(horizon=5).fit(values, ts)
    fc = model.predict(values, ts)
    assert isinstance(fc, Forecast) and fc.step_s == 60.0
    assert fc.timestamps.tolist() == (ts[-1] + 60.0 * np.arange(1, 6)).tolist()
    for arr in (fc.mean, fc.lower_80, fc.upper_80, fc.lower_95, fc.upper_95):
        assert arr.shape == (5,) and np.isfinite(arr).all()
    assert (fc.lower_95 <= fc.lower_80).all() and (fc.lower_80 <= fc.mean).all()
    assert (fc.mean <= fc.upper_80).all() and (fc.upper_80 <= fc.upper_95).all()
    assert set(fc.to_dict()) == {
        "timestamps",
        "step_s",
        "mean",
        "lower_80",
        "upper_80",
        "lower_95",
        "upper_95",
    }


def test_predict_batch_matches_predict_and_is_causal():
    values = seasonal_series(900)
    model = LagForecaster(horizon=4).fit(values[:700])
    batch = model.predict_batch(values, [750, 800])
    single = model.predict(values[:801])
    np.testing.assert_allclose(batch.mean[1], single.mean)
    changed = values.copy()
    changed[801:] = 1e6  # the future must not leak into a forecast from origin 800
    np.testing.assert_allclose(model.predict_batch(changed, [800]).mean[0], batch.mean[1])


def test_gaps_are_masked_not_zero_filled():
    values = seasonal_series(1200, noise=0.5) + 100.0
    gappy = values.copy()
    gappy[300:400] = np.nan
    model = LagForecaster(horizon=6).fit(gappy)
    full = LagForecaster(horizon=6).fit(values)
    assert model.mean_ == pytest.approx(np.nanmean(gappy))
    assert model.n_train_ < full.n_train_  # rows touching the gap were left out
    # A forecast from right after a gap is built on the last observed values, not zeros.
    history = values[:1000].copy()
    history[-3:] = np.nan
    fc = model.predict(history)
    assert np.all(fc.mean > 120) and np.all(fc.mean < 180)


def test_interval_coverage_on_a_seeded_series():
    values = seasonal_series(3000, period=24, noise=2.0, seed=7)
    result = backtest(values, horizon=6, season_length="auto", n_refits=3)
    assert 0.72 <= result.coverage_80 <= 0.88
    assert 0.90 <= result.coverage_95 <= 0.99
    assert result.season_length == 24
    assert result.mase < result.seasonal_naive_mase
    assert len(result.mase_by_step) == 6


def test_backtest_keys_for_the_cli_contract():
    result = backtest(seasonal_series(800), horizon=3).to_dict()
    for key in (
        "n",
        "step_s",
        "horizon",
        "season_length",
        "mase",
        "mase_by_step",
        "mae",
        "smape",
        "coverage_80",
        "seasonal_naive_mase",
        "linear_lags_mase",
        "fit_seconds",
    ):
        assert key in result


def test_seasonal_naive_and_scale():
    v = np.arange(10.0)
    assert seasonal_naive(v, np.array([5]), 3, 2).tolist() == [[4, 5, 4]]
    assert naive_scale(v, 2) == 2.0


def test_too_short_history_is_a_clear_error():
    with pytest.raises(ValueError, match="observed values"):
        LagForecaster(horizon=12).fit(np.ones(20))


def test_ridge_solve_equals_scikit_learns_ridge():
    from sklearn.linear_model import LinearRegression, Ridge

    from foresight.evaluation.backtest import LinearLagsBaseline
    from predictor import ridge_solve

    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(200, 7)), rng.normal(size=(200, 3))
    w = rng.uniform(0.2, 1.0, 200)
    coef, intercept = ridge_solve(X, Y, 2.5, w)
    ref = Ridge(alpha=2.5).fit(X, Y, sample_weight=w)
    assert np.allclose(coef, ref.coef_.T) and np.allclose(intercept, ref.intercept_)
    series = np.cumsum(rng.normal(size=300))
    ours = LinearLagsBaseline(4).fit(series)
    from foresight.models.features import lag_matrix

    rows = lag_matrix(series, 5)
    rows = rows[~np.isnan(rows).any(axis=1)]
    ref_ols = LinearRegression().fit(rows[:, 1:], rows[:, 0])
    assert np.allclose(ours.coef_, ref_ols.coef_) and np.isclose(
        ours.intercept_, ref_ols.intercept_
    )


def test_the_monitor_side_never_imports_scikit_learn():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; import foresight.live.models, foresight.live.model_files;"
        "from predictor import LagForecaster;"
        "m = LagForecaster(horizon=3).fit(np.sin(np.arange(300.0)));"
        "m.predict(np.sin(np.arange(300.0)));"
        "print(sorted(k for k in ('sklearn', 'scipy') if k in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_log_scale_forecasts_stay_finite_after_a_burst():
    """A linear model on logs extrapolates exponentially: capped at 10x the training max."""
    rng = np.random.default_rng(4)
    values = np.abs(5 + rng.normal(0, 1, 600))
    model = LagForecaster(horizon=12, season_length=None, transform="log1p").fit(values)
    burst = values.copy()
    burst[-12:] = 1e300  # far beyond anything it learned from
    with np.errstate(over="ignore"):
        out = model.predict(burst)
    assert np.all(np.isfinite(out.mean)) and np.all(np.isfinite(out.upper_95))
    assert out.upper_95.max() <= 10 * (values.max() + 1)


@pytest.mark.parametrize("n,horizon", [(1, 3), (7, 2), (40, 5), (3001, 12)])
def test_residual_quantiles_are_numpys_lower_and_higher_order_statistics(n, horizon):
    from predictor import _LEVELS

    rng = np.random.default_rng(n)
    residuals = np.round(rng.normal(size=(n, horizon)), 1)  # ties on purpose
    got = LagForecaster._quantiles(residuals)
    for level, (lo, hi) in _LEVELS.items():
        lo_q = max(0.0, np.floor((n + 1) * lo) / n)
        hi_q = min(1.0, np.ceil((n + 1) * hi) / n)
        assert np.array_equal(got[level][0], np.quantile(residuals, lo_q, axis=0, method="lower"))
        assert np.array_equal(got[level][1], np.quantile(residuals, hi_q, axis=0, method="higher"))


@pytest.mark.parametrize(
    "transform,loss", [(None, "squared"), ("log1p", "squared"), (None, "huber")]
)
def test_feature_spec_is_the_one_fit_uses_without_fitting(transform, loss):
    t = np.arange(3000)
    rng = np.random.default_rng(3)
    v = 30 + 10 * np.sin(2 * np.pi * t / 288) + rng.exponential(2, len(t))
    v[1000:1040] = np.nan  # a gap: complete rows are counted as in fit
    ts = 1_700_000_000.0 + 300.0 * t
    probe = LagForecaster(horizon=12, transform=transform, loss=loss)
    spec = probe.feature_spec(v, ts)
    assert not hasattr(probe, "coef_")  # nothing estimated
    fitted = LagForecaster(horizon=12, transform=transform, loss=loss).fit(v, ts)
    assert spec == fitted.spec_ and spec.season == 288


def test_huber_stops_early_only_when_the_weights_settle(monkeypatch):
    """IRLS stops once a round leaves every weight as it was (the next solve would be the
    same system); with a burst the rows are down-weighted and every round runs."""
    import predictor

    solves = []
    real = predictor.ridge_solve

    def counted(*args):
        solves.append(1)
        return real(*args)

    monkeypatch.setattr(predictor, "ridge_solve", counted)
    t = np.arange(1500)
    smooth = 50 + 10 * np.sin(2 * np.pi * t / 97) + 0.5 * np.sin(2 * np.pi * t / 7)
    settled = LagForecaster(
        horizon=6, loss="huber", season_length=None, held_out_intervals=False
    ).fit(smooth)
    assert len(solves) == 1
    ridge = LagForecaster(horizon=6, season_length=None, held_out_intervals=False).fit(smooth)
    assert np.array_equal(settled.coef_, ridge.coef_)
    solves.clear()
    v = smooth + np.random.default_rng(5).normal(0, 1, len(t))
    v[700:705] += 400  # a burst
    robust = LagForecaster(
        horizon=6, loss="huber", season_length=None, held_out_intervals=False
    ).fit(v)
    assert len(solves) == predictor._IRLS_ROUNDS
    assert not np.allclose(
        robust.coef_,
        LagForecaster(horizon=6, season_length=None, held_out_intervals=False).fit(v).coef_,
    )


def test_a_short_gapless_history_is_called_short_not_gappy() -> None:
    """Before: every refusal blamed gaps ("the gaps leave no stretch long enough"), also
    for a history with none. The length it names is the exact one that fits."""
    rng = np.random.default_rng(3)
    values = 50 + rng.normal(0, 1, 400)
    with pytest.raises(ValueError, match="too short") as refused:
        LagForecaster(horizon=6).fit(values[:40])
    assert "gaps" not in str(refused.value)
    needed = int(str(refused.value).split(": ")[-1].split(" values")[0])
    LagForecaster(horizon=6).fit(values[:needed])  # exactly enough: it fits
    with pytest.raises(ValueError, match="too short"):
        LagForecaster(horizon=6).fit(values[: needed - 1])
    gappy = values[:needed].copy()
    gappy[::4] = np.nan
    with pytest.raises(ValueError, match="the gaps leave no stretch long enough"):
        LagForecaster(horizon=6).fit(gappy)
