"""A demand forecast as the policies read it, and its 80 % band as a normal distribution.

Demand is in capacity units (one standard instance at 100 % = 1 unit; DESIGN.md,
"Scaling model"). The band's upper edge is taken as the 90th percentile of a normal
around the mean, which is how the policies turn a band into probabilities and levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

Z_90 = 1.2815515655446004  # the 80 % band's upper edge is the 90th percentile


@dataclass(frozen=True, slots=True)
class DemandForecast:
    """A demand forecast as plain data: what the predictive policies consume.

    ``mean[k]`` and ``upper[k]`` (upper edge of the 80 % interval) are demand units for
    ``origin_s + (k + 1) * step_s``. ``quality`` is the forecaster's measured error
    divided by a naive baseline's on the same points (lower is better, < 1 beats the
    baseline); ``None`` means not measured yet.
    """

    origin_s: float
    step_s: float
    mean: np.ndarray
    upper: np.ndarray
    quality: float | None = None

    @classmethod
    def from_forecast(
        cls, forecast, *, per_unit: float = 1.0, quality: float | None = None
    ) -> DemandForecast:
        """Build from a ``predictor.Forecast`` whose values are ``per_unit`` x demand units."""
        origin = float(forecast.timestamps[0]) - float(forecast.step_s)
        return cls(
            origin,
            float(forecast.step_s),
            np.asarray(forecast.mean, float) / per_unit,
            np.asarray(forecast.upper_80, float) / per_unit,
            quality,
        )

    def window(self, start_s: float, end_s: float) -> tuple[float, float] | None:
        """Max of (mean, upper) over steps in [start_s, end_s]; None if none or a NaN.

        When the window lies past the horizon the last step is used (the best we have).
        """
        n = len(self.mean)
        first = max(0, math.ceil((start_s - self.origin_s) / self.step_s - 1e-9) - 1)
        last = min(n - 1, math.floor((end_s - self.origin_s) / self.step_s + 1e-9) - 1)
        if first > n - 1:
            first = last = n - 1
        if n == 0 or last < first:
            return None
        mean = float(self.mean[first : last + 1].max())
        upper = float(self.upper[first : last + 1].max())
        if not (math.isfinite(mean) and math.isfinite(upper)):
            return None
        return mean, max(upper, mean)

    def to_dict(self) -> dict:
        return {
            "origin_s": self.origin_s,
            "step_s": self.step_s,
            "mean": [round(float(v), 4) for v in self.mean],
            "upper_80": [round(float(v), 4) for v in self.upper],
            "quality": self.quality,
        }


def prob_exceeds(mean: float, upper80: float, level: float) -> float:
    """P(demand > level) if demand ~ Normal(mean, sigma from the 80 % band's upper edge)."""
    sigma = (upper80 - mean) / Z_90
    if sigma <= 1e-12:
        return 1.0 if mean > level else 0.0
    return 0.5 * math.erfc((level - mean) / (sigma * math.sqrt(2.0)))


def demand_quantile(mean: float, upper80: float, probability: float) -> float:
    """The demand not exceeded with ``probability`` (normal, sigma from the 80 % band)."""
    sigma = max(0.0, (upper80 - mean) / Z_90)
    if probability >= 1.0:
        return math.inf if sigma > 0 else mean
    if probability <= 0.0 or sigma == 0:
        return mean if probability > 0 else -math.inf
    return mean + sigma * NormalDist().inv_cdf(probability)
