"""Rolling-origin backtests of the forecaster against honest baselines. No I/O, no clock
reads except ``time.perf_counter`` for the fit/predict timings it reports.

Protocol: the last ``test_fraction`` of the series holds the forecast origins (every
step whose value is observed and whose ``horizon`` targets lie inside the series). The
test span is cut into ``n_refits`` consecutive chunks; before each chunk every model
is refitted on all data before it (expanding window), then forecasts every origin of
the chunk from data up to that origin only.

All MASE figures share Hyndman & Koehler's scale: the in-sample MAE of the one-season-
back naive forecast on the first training span, so ``mase / seasonal_naive_mase < 1``
means "beats repeating the last season". Errors are compared on the same (origin, step)
pairs for every model: pairs whose target or any model's forecast is missing are left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LinearRegression

from foresight.models.features import forward_fill, lag_matrix, seasonal_index, take_or_nan
from predictor import LagForecaster

logger = logging.getLogger(__name__)


class LinearLagsBaseline:
    """The seeds' forecaster: LinearRegression on the last ``n_lags`` values, recursive."""

    def __init__(self, n_lags: int = 12) -> None:
        self.n_lags = n_lags

    def fit(self, values: np.ndarray) -> LinearLagsBaseline:
        raw = np.asarray(values, dtype=float)
        rows = lag_matrix(raw, self.n_lags + 1)  # [y_t, y_t-1, ...]: target then lags
        rows = rows[~np.isnan(rows).any(axis=1)]
        if len(rows) < 2 * self.n_lags:
            raise ValueError(f"too few complete rows for {self.n_lags} lags ({len(rows)})")
        model = LinearRegression().fit(rows[:, 1:], rows[:, 0])
        self.coef_, self.intercept_ = model.coef_, float(model.intercept_)
        self.fill_ = float(np.nanmean(raw))
        return self

    def predict_batch(self, values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps from each origin by feeding forecasts back as lags."""
        lags = lag_matrix(forward_fill(values, self.fill_), self.n_lags, origins)
        np.nan_to_num(lags, copy=False, nan=self.fill_)
        out = np.empty((len(origins), horizon))
        for h in range(horizon):
            step = lags @ self.coef_ + self.intercept_
            out[:, h] = step
            lags = np.concatenate([step[:, None], lags[:, :-1]], axis=1)
        return out


def seasonal_naive(
    values: np.ndarray, origins: np.ndarray, horizon: int, season: int | None
) -> np.ndarray:
    """Repeat the last season (the last value when there is no season); NaN in gaps."""
    if not season:
        return np.repeat(take_or_nan(values, np.asarray(origins))[:, None], horizon, axis=1)
    return take_or_nan(values, seasonal_index(origins, horizon, season))


def naive_scale(values: np.ndarray, season: int | None) -> float:
    """In-sample MAE of the one-season-back naive forecast (MASE denominator)."""
    lag = season or 1
    diffs = np.abs(values[lag:] - values[:-lag])
    diffs = diffs[~np.isnan(diffs)]
    scale = float(diffs.mean()) if len(diffs) else float("nan")
    return scale if scale > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Accuracy of the forecaster and two baselines over the same rolling origins.

    Errors are in the series' unit; sMAPE is in percent (0-200); coverage is the
    share (0-1) of actuals inside the interval; times are seconds.
    """

    n: int
    step_s: float | None
    horizon: int
    season_length: int | None
    n_origins: int
    n_refits: int
    mase: float
    mase_by_step: list[float]
    mae: float
    smape: float
    coverage_80: float
    coverage_95: float
    seasonal_naive_mase: float
    seasonal_naive_mase_by_step: list[float]
    linear_lags_mase: float
    linear_lags_mase_by_step: list[float]
    scale: float
    fit_seconds: float
    predict_seconds_per_origin: float
    total_seconds: float
    features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


def _mase(errors: np.ndarray, mask: np.ndarray, scale: float) -> tuple[float, list[float]]:
    abs_err = np.where(mask, np.abs(errors), 0.0)
    per_step = abs_err.sum(axis=0) / np.maximum(mask.sum(axis=0), 1) / scale
    overall = float(abs_err.sum() / max(mask.sum(), 1) / scale)
    return overall, [round(float(x), 6) for x in per_step]


def backtest(
    values: np.ndarray,
    timestamps: np.ndarray | None = None,
    *,
    horizon: int,
    season_length: int | str | None = "auto",
    step_s: float | None = None,
    test_fraction: float = 0.3,
    n_refits: int = 8,
    model_params: dict | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Evaluate LagForecaster, seasonal naive and linear lags on rolling origins.

    ``values`` must be regularly spaced (NaN = gap); ``timestamps`` (epoch s) are
    optional and enable calendar terms; ``step_s`` is reported when there are no
    timestamps. Raises ValueError when the series is too short for the protocol.
    """
    started = time.perf_counter()
    raw = np.asarray(values, dtype=float).ravel()
    n = len(raw)
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a whole number >= 1 (got {horizon!r})")
    if not 0.05 <= test_fraction <= 0.8:
        raise ValueError(f"test_fraction must be in [0.05, 0.8] (got {test_fraction})")
    ts = None if timestamps is None else np.asarray(timestamps, dtype=float).ravel()
    if ts is not None and len(ts) > 1:
        step_s = float(np.median(np.diff(ts)))
    test_start = int(n * (1.0 - test_fraction))
    candidates = np.arange(test_start, n - horizon)
    origins = candidates[~np.isnan(raw[candidates])]
    if len(origins) < 1:
        raise ValueError(
            f"series too short for a backtest at horizon {horizon}: {n} steps "
            f"leave no forecast origin in the last {test_fraction:.0%}"
        )
    params = dict(model_params or {})
    chunks = [c for c in np.array_split(origins, max(1, min(n_refits, len(origins)))) if len(c)]
    Y = take_or_nan(raw, origins[:, None] + np.arange(1, horizon + 1)[None, :])
    ours = {
        k: np.empty((len(origins), horizon))
        for k in ("mean", "lower_80", "upper_80", "lower_95", "upper_95")
    }
    linear = np.empty((len(origins), horizon))
    fit_times, predict_time, row = [], 0.0, 0
    season = scale = None
    features: list[str] = []
    for k, chunk in enumerate(chunks):
        cut = int(chunk[0])  # fit on everything before the chunk's first origin
        t0 = time.perf_counter()
        model = LagForecaster(**{"horizon": int(horizon), "season_length": season_length, **params})
        model.fit(raw[:cut], None if ts is None else ts[:cut])
        fit_times.append(time.perf_counter() - t0)
        if k == 0:
            season, features = model.season_length_, model.spec_.names()
            scale = naive_scale(raw[:cut], season)
        t0 = time.perf_counter()
        batch = model.predict_batch(raw, chunk, ts)
        predict_time += time.perf_counter() - t0
        for key in ours:
            ours[key][row : row + len(chunk)] = getattr(batch, key)
        linear[row : row + len(chunk)] = (
            LinearLagsBaseline().fit(raw[:cut]).predict_batch(raw, chunk, horizon)
        )
        row += len(chunk)
        if progress:
            progress(f"backtest: refit {k + 1}/{len(chunks)} done ({row}/{len(origins)} origins)")
    snaive = seasonal_naive(raw, origins, horizon, season)
    mask = ~np.isnan(Y) & ~np.isnan(snaive) & np.isfinite(linear) & np.isfinite(ours["mean"])
    if not mask.any():
        raise ValueError("no (origin, step) pair has an actual value and every forecast")
    if scale is None or not scale == scale:
        raise ValueError(
            "cannot scale MASE: the training span has no two values one season apart that differ"
        )
    err = ours["mean"] - Y
    mase, mase_by_step = _mase(err, mask, scale)
    sn_mase, sn_by_step = _mase(snaive - Y, mask, scale)
    ll_mase, ll_by_step = _mase(linear - Y, mask, scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.abs(Y) + np.abs(ours["mean"])
        smape_terms = np.where(denom > 0, 2.0 * np.abs(err) / denom, 0.0)
    inside_80 = (Y >= ours["lower_80"]) & (Y <= ours["upper_80"])
    inside_95 = (Y >= ours["lower_95"]) & (Y <= ours["upper_95"])
    return BacktestResult(
        n=n,
        step_s=step_s,
        horizon=int(horizon),
        season_length=season,
        n_origins=len(origins),
        n_refits=len(chunks),
        mase=round(mase, 6),
        mase_by_step=mase_by_step,
        mae=float(np.abs(err)[mask].mean()),
        smape=float(100.0 * smape_terms[mask].mean()),
        coverage_80=float(inside_80[mask].mean()),
        coverage_95=float(inside_95[mask].mean()),
        seasonal_naive_mase=round(sn_mase, 6),
        seasonal_naive_mase_by_step=sn_by_step,
        linear_lags_mase=round(ll_mase, 6),
        linear_lags_mase_by_step=ll_by_step,
        scale=scale,
        fit_seconds=float(np.mean(fit_times)),
        predict_seconds_per_origin=predict_time / len(origins),
        total_seconds=time.perf_counter() - started,
        features=features,
    )
