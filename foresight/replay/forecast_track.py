"""The replay's first phase: causal forecasts for every origin of a trace, and their
measured quality.

The forecaster walks the trace (refit every ``refit_every_s`` on a trailing window,
vectorised forecasts for every origin in between); the forecasts do not depend on the
policy, so ``foresight.replay.simulation.replay`` makes them once for all policies.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from predictor import LagForecaster
from scaling_engine import DemandForecast

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class ForecastTrack:
    """Causal forecasts for every origin of a trace (units), and their measured quality.

    ``mean``/``upper``/``lower`` (80 % band) are (n, horizon): row i forecasts steps
    i+1..i+horizon from data up to step i; NaN rows where no forecast was possible.
    ``quality[i]`` is the rolling MAE at the lead step over the last day divided by
    that of "no change" (persistence, the reactive policy's implicit forecast), using
    only errors known by step i.
    """

    mean: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    quality: np.ndarray
    lead_steps: int
    fit_seconds: float
    refits: int

    def at(self, i: int, origin_s: float, step_s: float) -> DemandForecast | None:
        row = self.mean[i]
        if not math.isfinite(row[0]):
            return None
        q = self.quality[i]
        return DemandForecast(
            origin_s, step_s, row, self.upper[i], float(q) if math.isfinite(q) else None
        )


def forecast_track(
    timestamps: np.ndarray,
    demand: np.ndarray,
    *,
    step_s: float,
    horizon: int,
    lead_steps: int,
    refit_every_s: float = DAY_S,
    train_window_s: float = 21 * DAY_S,
    min_train_s: float = DAY_S,
    season_length: int | str | None = "auto",
    progress: Progress | None = None,
) -> ForecastTrack:
    """Walk the trace: refit on a trailing window, then forecast every origin causally."""
    n = len(demand)
    mean = np.full((n, horizon), np.nan)
    upper = np.full((n, horizon), np.nan)
    lower = np.full((n, horizon), np.nan)
    refit_steps = max(1, round(refit_every_s / step_s))
    window = max(1, round(train_window_s / step_s))
    first = max(round(min_train_s / step_s), 3 * horizon + 40)
    fit_s, refits, model = 0.0, 0, None
    for i0 in range(first, n, refit_steps):
        i1 = min(n, i0 + refit_steps)
        lo = max(0, i0 + 1 - window)
        began = time.perf_counter()
        try:
            model = LagForecaster(horizon=horizon, season_length=season_length).fit(
                demand[lo : i0 + 1], timestamps[lo : i0 + 1]
            )
            refits += 1
        except ValueError as exc:  # too little complete history: keep the last model
            logger.debug("refit at step %d skipped: %s", i0, exc)
        fit_s += time.perf_counter() - began
        if model is None:
            continue
        origins = np.arange(i0, i1)
        batch = model.predict_batch(demand, origins, timestamps)
        mean[i0:i1], upper[i0:i1], lower[i0:i1] = batch.mean, batch.upper_80, batch.lower_80
        if progress:
            progress(f"forecasting: step {i1:,} of {n:,} ({refits} refits, {fit_s:.1f} s fitting)")
    gap = np.isnan(demand)
    mean[gap] = np.nan  # no forecast from an origin whose own value is missing
    upper[gap] = np.nan
    lower[gap] = np.nan
    return ForecastTrack(
        mean,
        upper,
        lower,
        _rolling_quality(demand, mean, lead_steps, step_s),
        lead_steps,
        fit_s,
        refits,
    )


def _rolling_quality(demand: np.ndarray, mean: np.ndarray, lead: int, step_s: float) -> np.ndarray:
    """Forecast MAE / persistence MAE at ``lead`` steps, over the last day, causally."""
    n = len(demand)
    lead = min(lead, mean.shape[1])
    err = np.full(n, np.nan)
    base = np.full(n, np.nan)
    if n > lead:
        actual = demand[lead:]
        err[: n - lead] = np.abs(mean[: n - lead, lead - 1] - actual)
        base[: n - lead] = np.abs(demand[: n - lead] - actual)
    ok = np.isfinite(err) & np.isfinite(base)
    # Origin j's error is known at step j + lead: shift so index i sums j <= i - lead.
    e = np.concatenate((np.zeros(lead + 1), np.cumsum(np.where(ok, err, 0.0))))[: n + 1]
    b = np.concatenate((np.zeros(lead + 1), np.cumsum(np.where(ok, base, 0.0))))[: n + 1]
    c = np.concatenate((np.zeros(lead + 1), np.cumsum(ok)))[: n + 1]
    w = max(1, int(DAY_S / step_s))
    idx = np.arange(1, n + 1)
    start = np.maximum(idx - w, 0)
    sum_e, sum_b, count = e[idx] - e[start], b[idx] - b[start], c[idx] - c[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where((count >= min(w // 4, 30)) & (sum_b > 0), sum_e / sum_b, np.nan)
    return q
