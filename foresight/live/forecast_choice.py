"""Which demand forecast the live engine hands its policy, and how good that one is.

With ``SCALING_DEMAND_METRIC`` the demand series has its own live forecast
(``demand_metric.SeriesDemand``, from ``live_models``); that one is used whenever it is
fresh and the demand was measured. Otherwise, and while it warms up, the engine's own
forecaster (``demand_forecast.DemandForecaster``), which learns from every decision.
"""

from __future__ import annotations

import math

from foresight.live.demand_forecast import DemandForecaster
from foresight.live.demand_metric import SeriesDemand
from foresight.scaling.forecast import DemandForecast


class ForecastChoice:
    """The engine's forecaster and the demand series' forecast; the one in use is ``source``.

    ``source`` is "series" (the demand series' live forecast), "engine" (the engine's
    own) or None (neither has a forecast yet).
    """

    def __init__(
        self, forecaster: DemandForecaster, demand: SeriesDemand | None, ahead_s: float
    ) -> None:
        self.forecaster = forecaster
        self.demand = demand
        self.ahead_s = ahead_s  # how far the series' forecast must reach (boot lag + interval)
        self.source: str | None = None
        self._series: DemandForecast | None = None

    def choose(self, now: float, demand: float) -> DemandForecast | None:
        """Learn ``demand`` (units, NaN for a gap) at ``now``; return the forecast to use."""
        self.forecaster.learn(now, demand)
        forecast = own = self.forecaster.forecast(now)
        series = self._series = (
            None if self.demand is None else self.demand.forecast(now, self.ahead_s)
        )
        if series is not None and math.isfinite(demand):
            forecast = series
        self.source = (
            "series"
            if forecast is series and series is not None
            else ("engine" if own is not None else None)
        )
        return forecast

    def quality(self) -> float | None:
        """Forecast MAE at the boot lag / MAE of assuming no change; None until 20 known.

        With the demand series' live forecast in use: its validation MASE / the last
        value's."""
        if self.source == "series" and self._series is not None:
            return self._series.quality
        return self.forecaster.quality()

    def waiting(self) -> str | None:
        """What the forecast in use still waits for (None: it is measured, or the series')."""
        if self.source == "series":
            return None
        return self.forecaster.waiting()

    @property
    def last(self) -> DemandForecast | None:
        if self.source == "series" and self._series is not None:
            return self._series
        return self.forecaster.last
