"""Demand from one chosen series (``SCALING_DEMAND_METRIC``): a service's request rate.

The live scaling engine watches this host's CPU and memory by default. A fleet user
scales a *service*, whose load is a series Foresight already stores and forecasts:
``requests_per_s@service="api"`` read from Prometheus or pushed to ``POST /api/samples``.
Demand in capacity units is that series' value / ``SCALING_UNIT_CAPACITY`` (the demand
one instance serves, ``replay --unit-capacity``'s meaning), and the forecast the
predictive and hybrid policies size for is the live models' forecast of the same series,
divided by the same capacity.

The value is read from the store, not from the cycle's sample, so every way a series
arrives (the cycle, a source's backlog, a push between two cycles) counts: the mean of
the points newer than the last one used, else the newest point while it is younger than
``STALE_S`` (Prometheus' own lookback), else a gap (NaN: no policy scales in on it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from foresight.core.errors import InputError
from foresight.live import models as live_models
from foresight.scaling.policies import DemandForecast
from foresight.store.metric_store import MetricStore
from predictor import Forecast

logger = logging.getLogger(__name__)

STALE_S = 300.0  # Prometheus' lookback delta: an older newest point is a gap
READ_LIMIT = 5000  # points one read may return (a 300-s window of 1-s pushes is 300)

# (series key, seconds ahead needed, now) -> (the live forecast, its quality) or None
SeriesForecast = Callable[[str, float, float], tuple[Forecast, float | None] | None]


@dataclass(frozen=True, slots=True)
class DemandReading:
    """The demand series at one decision: its value (the metric's unit) and when."""

    value: float  # NaN: a gap (no point younger than STALE_S)
    timestamp: float | None  # the newest point used
    points: int  # how many new points the value is the mean of (0: the newest reused)

    def to_dict(self) -> dict:
        return {
            "value": None if math.isnan(self.value) else round(self.value, 6),
            "timestamp": self.timestamp,
            "points": self.points,
        }


class SeriesDemand:
    """Read one stored series as demand, and its live forecast in capacity units."""

    def __init__(
        self,
        key: str,
        unit_capacity: float,
        store: MetricStore,
        forecast: SeriesForecast | None = None,
        stale_s: float = STALE_S,
    ) -> None:
        if not (math.isfinite(unit_capacity) and unit_capacity > 0):
            raise InputError(f"SCALING_UNIT_CAPACITY must be > 0 (got {unit_capacity})")
        self.key = key
        self.unit_capacity = float(unit_capacity)
        self.store = store
        self._forecast = forecast
        self.stale_s = stale_s
        self._used_until = -math.inf  # the newest point already counted
        self.last: DemandReading | None = None

    def read(self, now: float) -> DemandReading:
        """The series' value at ``now``: the mean of the points since the last read."""
        points = self.store.query([self.key], now - self.stale_s, now, limit=READ_LIMIT).get(
            self.key, []
        )
        points = [(t, v) for t, v in points if t <= now and math.isfinite(v)]
        fresh = [v for t, v in points if t > self._used_until]
        if fresh:
            newest = points[-1][0]
            reading = DemandReading(sum(fresh) / len(fresh), newest, len(fresh))
            self._used_until = newest
        elif points:
            reading = DemandReading(points[-1][1], points[-1][0], 0)
        else:
            reading = DemandReading(math.nan, None, 0)
        self.last = reading
        return reading

    def units(self, now: float) -> float:
        """Demand in capacity units at ``now`` (NaN on a gap)."""
        return self.read(now).value / self.unit_capacity

    def forecast(self, now: float, ahead_s: float) -> DemandForecast | None:
        """The live forecast of the series covering ``ahead_s`` seconds, in units."""
        if self._forecast is None:
            return None
        found = self._forecast(self.key, ahead_s, now)
        if found is None:
            return None
        forecast, quality = found
        return DemandForecast.from_forecast(forecast, per_unit=self.unit_capacity, quality=quality)

    def status(self) -> dict:
        """The status block: which series drives demand, its capacity and last value."""
        return {
            "metric": self.key,
            "unit_capacity": self.unit_capacity,
            "reading": None if self.last is None else self.last.to_dict(),
        }


def forecast_quality(accuracy: dict | None) -> float | None:
    """Validation MASE of the served model / the last value's (< 1 beats no change)."""
    if not accuracy:
        return None
    ours, naive = accuracy.get("mase"), accuracy.get("naive_mase")
    if ours is None or naive is None or not naive > 0:
        return None
    return float(ours) / float(naive)


def live_series_forecast(services: Any) -> SeriesForecast:
    """A ``SeriesForecast`` over ``services``' live models (None while they have none)."""

    def series_forecast(
        key: str, ahead_s: float, now: float
    ) -> tuple[Forecast, float | None] | None:
        """live_models' fresh forecast of ``key`` covering ``ahead_s``, with its quality."""
        models = services.extras.get(live_models.EXTRAS_KEY)
        if models is None:
            return None
        tier = live_models.tier_for_seconds(ahead_s)
        state = models.state(key, tier)
        made_at = state.forecast_made_at
        if state.forecast is None or made_at is None or now - made_at > max(300.0, 3 * tier.step_s):
            return None  # an old forecast says nothing about the next minutes
        return state.forecast, forecast_quality(state.accuracy)

    return series_forecast
