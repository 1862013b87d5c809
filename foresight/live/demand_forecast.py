"""The live scaling engine's demand forecaster, and its measured accuracy.

A ``LagForecaster`` refit on the last ``TRAIN_POINTS`` decisions' demand every
``REFIT_EVERY`` decisions (off nothing but the decisions themselves, so replayed and
live time agree), forecasting to the boot lag and a little beyond. Each forecast at the
boot lag is scored when its time comes against "no change", the baseline it must beat
before the predictive policies trust it (``DemandForecast.quality``).
"""

from __future__ import annotations

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
        if len(self._errors) < 20:
            return None
        ours = sum(e for e, _ in self._errors)
        naive = sum(b for _, b in self._errors)
        return ours / naive if naive > 0 else None

    def forecast(self, now: float) -> DemandForecast | None:
        """The forecast from ``now`` (None on a gap or before the first fit)."""
        values = np.fromiter(self._demand, float)
        if len(values) == 0 or not math.isfinite(values[-1]):
            self.last = None
            return None
        self._since_fit += 1
        if self._model is None or self._since_fit >= REFIT_EVERY:
            try:
                # Decisions are regularly spaced by construction; index time, not wall time.
                # Few lags: a usable model after ~12 min of 15-s decisions.
                self._model = LagForecaster(
                    horizon=self.horizon, season_length=None, n_lags=6, calendar=False
                ).fit(values)
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
