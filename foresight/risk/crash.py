"""Crash risk from forecasts (seed 000): the chance that a metric crosses its critical level.

Each forecast step is read as a normal distribution: its mean, and a spread from its
bands (the 80 % band's half-width is 1.2816 σ, the 95 % band's 1.96 σ; we average the
two estimates). A factor's probability is the largest P(value > critical) over the
steps within the horizon: the chance at the step it is most likely to be over. The
score is the chance that at least one factor crosses, 1 − Π(1 − pᵢ), taking the metrics
as independent (correlated metrics make it an overestimate, never an underestimate of
the largest factor). A metric is a factor when its 95 % band reaches the level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np

# The seed's crash levels; disk uses its catalog critical level, passed in.
CRASH_LEVELS: dict[str, float] = {
    "cpu_percent": 90.0,
    "db_query_ms": 400.0,
    "api_response_ms": 250.0,
}
DISK_METRIC = "disk_percent"
Z_80 = 1.2815515655446004
Z_95 = 1.959963984540054
MIN_PROBABILITY = 0.025  # the 95 % band's upper edge reaches the level


class CrashLevel(str, Enum):
    """Critical > 0.75, High > 0.5, Medium > 0.25, Low otherwise."""

    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"


def crash_level(score: float) -> CrashLevel:
    if score > 0.75:
        return CrashLevel.CRITICAL
    if score > 0.5:
        return CrashLevel.HIGH
    if score > 0.25:
        return CrashLevel.MEDIUM
    return CrashLevel.LOW


@dataclass(frozen=True, slots=True)
class Bands:
    """One metric's forecast: step times (epoch s), mean, 80 % and 95 % upper edges."""

    timestamps: np.ndarray
    mean: np.ndarray
    upper_80: np.ndarray
    upper_95: np.ndarray


@dataclass(frozen=True, slots=True)
class RiskFactor:
    """A metric whose forecast may cross its critical level within the horizon."""

    metric: str
    critical: float
    probability: float
    crossing_at: float | None  # first step whose mean reaches the level (None: none)
    earliest_at: float  # first step whose 95 % band reaches it
    peak_mean: float

    def to_dict(self) -> dict[str, float | str | None]:
        return {
            "metric": self.metric,
            "critical": self.critical,
            "probability": self.probability,
            "crossing_at": self.crossing_at,
            "earliest_at": self.earliest_at,
            "peak_mean": self.peak_mean,
        }


@dataclass(frozen=True, slots=True)
class CrashRisk:
    """The score in [0, 1], its level and the factors behind it (largest first)."""

    score: float
    level: CrashLevel
    factors: tuple[RiskFactor, ...]
    horizon_s: float
    generated_at: float
    metrics_checked: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "level": self.level.value,
            "factors": [f.to_dict() for f in self.factors],
            "horizon_s": self.horizon_s,
            "generated_at": self.generated_at,
            "metrics_checked": list(self.metrics_checked),
            "note": "score = 1 - prod(1 - p) over the factors; p = the largest chance over "
            "the horizon's steps that the metric is above its critical level, reading each "
            "step as normal with sigma from the 80 % and 95 % bands",
        }


def exceed_probability(bands: Bands, critical: float) -> np.ndarray:
    """P(value > critical) at each step, from the mean and the bands' spread."""
    mean = np.asarray(bands.mean, dtype=float)
    sigma = 0.5 * (
        (np.asarray(bands.upper_80, dtype=float) - mean) / Z_80
        + (np.asarray(bands.upper_95, dtype=float) - mean) / Z_95
    )
    sigma = np.maximum(np.nan_to_num(sigma, nan=0.0), 1e-9 * (1.0 + np.abs(mean)))
    z = (critical - mean) / sigma
    # math.erfc per step through a list: np.vectorize's overhead was most of the live
    # cycle's crash-risk cost (same function, same values).
    tails = np.array([math.erfc(x) for x in (z / math.sqrt(2.0)).ravel().tolist()], dtype=float)
    return np.where(np.isnan(mean), 0.0, 0.5 * tails.reshape(np.shape(z)))


def factor(metric: str, bands: Bands, critical: float, until: float) -> RiskFactor | None:
    """The risk factor of one metric within ``until`` (epoch s), or None."""
    within = np.asarray(bands.timestamps, dtype=float) <= until
    if not within.any():
        return None
    t = np.asarray(bands.timestamps, dtype=float)[within]
    mean = np.asarray(bands.mean, dtype=float)[within]
    p = exceed_probability(
        Bands(t, mean, np.asarray(bands.upper_80)[within], np.asarray(bands.upper_95)[within]),
        critical,
    )
    if not p.size or float(p.max()) < MIN_PROBABILITY:
        return None
    over = np.flatnonzero(mean >= critical)
    return RiskFactor(
        metric=metric,
        critical=critical,
        probability=float(p.max()),
        crossing_at=float(t[over[0]]) if len(over) else None,
        earliest_at=float(t[np.flatnonzero(p >= MIN_PROBABILITY)[0]]),
        peak_mean=float(np.nanmax(mean)),
    )


def crash_risk(
    forecasts: Mapping[str, Bands],
    now: float,
    horizon_s: float,
    disk_critical: float | None = None,
    levels: Mapping[str, float] | None = None,
) -> CrashRisk:
    """Combine the crossing chances of the metrics that have crash levels."""
    table = dict(CRASH_LEVELS if levels is None else levels)
    if disk_critical is not None:
        table.setdefault(DISK_METRIC, disk_critical)
    checked: list[str] = []
    found: list[RiskFactor] = []
    for metric, critical in table.items():
        bands = forecasts.get(metric)
        if bands is None:
            continue
        checked.append(metric)
        f = factor(metric, bands, critical, now + horizon_s)
        if f is not None:
            found.append(f)
    found.sort(key=lambda f: -f.probability)
    score = 1.0 - float(np.prod([1.0 - f.probability for f in found])) if found else 0.0
    return CrashRisk(score, crash_level(score), tuple(found), horizon_s, now, tuple(checked))


def scaling_alerts(risk: CrashRisk) -> list[dict[str, object]]:
    """Seed 000's scaling alerts: one per factor whose mean crosses, with a suggestion."""
    advice = {
        "cpu_percent": "add capacity (scale out) before CPU saturates",
        "db_query_ms": "add a read replica or look for slow queries",
        "api_response_ms": "scale out the API tier",
        DISK_METRIC: "grow the volume or prune old data",
    }
    alerts: list[dict[str, object]] = []
    for f in risk.factors:
        alerts.append(
            {
                "metric": f.metric,
                "probability": f.probability,
                "at": f.crossing_at if f.crossing_at is not None else f.earliest_at,
                "action": advice.get(f.metric, f"watch {f.metric}"),
            }
        )
    return alerts
