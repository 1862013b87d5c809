"""The live scaling engine's demand forecaster, and its measured accuracy.

A ``LagForecaster`` refit on the last ``TRAIN_POINTS`` decisions' demand every
``REFIT_EVERY`` decisions (off nothing but the decisions themselves, so replayed and
live time agree), forecasting to the boot lag and a little beyond. Each forecast at the
boot lag is scored when its time comes against "no change", the baseline it must beat
before the predictive policies trust it (``DemandForecast.quality``).
"""

from __future__ import annotations

import functools
import logging
import math
from collections import deque

import numpy as np

from foresight.scaling.policies import DemandForecast
from predictor import LagForecaster

logger = logging.getLogger(__name__)

TRAIN_POINTS = 480  # the forecaster learns from the last 480 decisions
REFIT_EVERY = 20  # ... refit every 20 decisions (5 min at 15 s)
QUALITY_WINDOW = 240  # resolved forecasts the accuracy figure is over
MIN_SCORED = 20  # resolved forecasts before the accuracy figure exists
N_LAGS = 6  # few lags: a usable model after ~15 min of 15-s decisions


def _model(horizon: int) -> LagForecaster:
    # Decisions are regularly spaced by construction; index time, not wall time.
    return LagForecaster(horizon=horizon, season_length=None, n_lags=N_LAGS, calendar=False)


@functools.cache
def min_fit_points(horizon: int) -> int:
    """The fewest gap-free decisions the engine's forecaster fits on (found by trying).

    The LagForecaster's own floor (lags, rolling windows, 30 training rows) is not a
    public figure, so this bisects on a noisy series once per horizon; the panel's
    "needs N decisions" is then the forecaster's real need, not a guess.
    """
    noise = 1.0 + 0.1 * np.random.default_rng(0).random(4096)
    low, high = 2, len(noise)  # low fails (or is below any floor), high fits
    while high - low > 1:
        mid = (low + high) // 2
        try:
            _model(horizon).fit(noise[:mid])
            high = mid
        except ValueError:
            low = mid
    return high


class DemandForecaster:
    """Learn demand one decision at a time; forecast it at the boot lag (units)."""

    def __init__(self, interval_s: float, boot_s: float) -> None:
        self.interval_s = interval_s
        self.lead_steps = max(1, math.ceil(boot_s / interval_s))
        self.horizon = self.lead_steps + 2
        self._demand: deque[float] = deque(maxlen=TRAIN_POINTS)
        self._pending: deque[tuple[float, float, float]] = deque()  # due, forecast, naive
        self._errors: deque[tuple[float, float]] = deque(maxlen=QUALITY_WINDOW)
        self._model: LagForecaster | None = None
        self._since_fit = 0
        self.last: DemandForecast | None = None

    def learn(self, now: float, demand: float) -> None:
        """Record demand, and score forecasts that fall due (vs 'no change')."""
        while self._pending and self._pending[0][0] <= now + 1e-6:
            _, predicted, naive = self._pending.popleft()
            if math.isfinite(demand):
                self._errors.append((abs(predicted - demand), abs(naive - demand)))
        self._demand.append(demand)

    def quality(self) -> float | None:
        """Forecast MAE at the boot lag / MAE of assuming no change; None until 20 known."""
        if len(self._errors) < MIN_SCORED:
            return None
        ours = sum(e for e, _ in self._errors)
        naive = sum(b for _, b in self._errors)
        if naive > 0:
            return ours / naive
        # Demand never moved (a pegged host): a forecast as exact ties with no change.
        return 1.0 if ours == 0 else None

    def forecast(self, now: float) -> DemandForecast | None:
        """The forecast from ``now`` (None on a gap or before the first fit)."""
        values = np.fromiter(self._demand, float)
        if len(values) == 0 or not math.isfinite(values[-1]):
            self.last = None
            return None
        self._since_fit += 1
        if self._model is None or self._since_fit >= REFIT_EVERY:
            try:
                self._model = _model(self.horizon).fit(values)
                self._since_fit = 0
            except ValueError as exc:  # not enough history yet: reactive until then
                logger.debug("live forecaster not fitted yet: %s", exc)
                self._model = None
                return None
        batch = self._model.predict_batch(values, np.array([len(values) - 1]))
        mean, upper = batch.mean[0], batch.upper_80[0]
        lead = self.lead_steps
        self._pending.append(
            (now + lead * self.interval_s, float(mean[lead - 1]), float(values[-1]))
        )
        self.last = DemandForecast(now, self.interval_s, mean, upper, self.quality())
        return self.last

    def waiting(self) -> str | None:
        """What the forecast still waits for before it is trusted, in words (None: nothing).

        The per-metric charts' forecasts are a different model: demand (the highest
        signal, in capacity units) is forecast here from the decisions themselves, so it
        needs its own history first, then its own scored forecasts.
        """
        step = f"{self.interval_s:g}-s"
        scored = len(self._errors)
        if scored >= MIN_SCORED:
            if self.quality() is not None:
                return None
            return (
                f"demand forecast not comparable yet: demand has not moved over the last "
                f"{scored} scored decisions, so no change was exact and the forecast was not"
            )
        need = min_fit_points(self.horizon)
        have = len(self._demand)
        to_score = (MIN_SCORED - scored) + (0 if self._pending else self.lead_steps)
        if self._model is None or have < need:
            wait_s = (max(0, need - have) + self.lead_steps + MIN_SCORED) * self.interval_s
            return (
                f"no demand forecast yet: the engine forecasts demand from its own {step} "
                f"decisions and needs {need} of them (has {have}), then {MIN_SCORED} of its "
                f"forecasts scored against no change; ready in about {_minutes(wait_s)}"
            )
        return (
            f"demand forecast not trusted yet: {scored} of the {MIN_SCORED} forecasts at "
            f"the boot lag it needs are scored against no change; ready in about "
            f"{_minutes(to_score * self.interval_s)}"
        )


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"
