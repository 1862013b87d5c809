"""What each rule kind observes: the signals one evaluation reads, and the observations.

Everything is passed in (``Signals``): the newest values, the time, the forecasts, the
anomalies and the store's history come through callables the live wiring provides, so
this module reads no clock, no psutil and imports nothing above it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from foresight.alerts.rules import Kind, Rule, matching
from foresight.core.series import SEPARATOR, split_key
from predictor import Forecast

SAMPLER = "sampler"  # the metric label of the sampler's own rules
Z_80 = 1.2815515655446004  # the 90th percentile of the standard normal (80 % band edge)
MIN_TREND_POINTS = 10


@dataclass(frozen=True, slots=True)
class Signals:
    """The inputs of one evaluation at ``now`` (epoch seconds)."""

    now: float
    values: Mapping[str, float]
    sample_at: float | None  # the newest sample's time (None: none yet)
    cores: int = 1  # this host's logical CPUs (the local target's)
    forecast: Callable[[str, float], Forecast | None] = lambda metric, horizon_s: None
    series: Callable[[str, float, float], tuple[np.ndarray, np.ndarray]] | None = None
    # linear_trend of series(metric, since, until), when the wiring keeps it with the
    # series it caches (the same history each tick: one fit, not one per tick)
    trend: Callable[[str, float, float], tuple[float, float] | None] | None = None
    anomalies: Callable[[str, float], list[dict]] = lambda metric, since: []
    missed_since: Callable[[float], int] = lambda since: 0
    # the live risk signals (crash_risk_score, failure_probability) that have a value
    risk: Callable[[], Mapping[str, float]] = lambda: {}
    # another target's logical CPUs (None: unknown, so no per-CPU threshold)
    target_cores: Callable[[str], int | None] = lambda target: None

    def cores_for(self, metric: str) -> int | None:
        """The CPU count of ``metric``'s target: this host's for a local series, the
        target's own for another's (None when unknown: never this host's)."""
        if SEPARATOR not in metric:  # a local series (most): no split to make
            return self.cores
        target = split_key(metric)[1]
        return self.cores if not target else self.target_cores(target)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one rule sees for one metric now.

    ``breach``: the condition holds (start or keep pending). ``hold``: an active alert
    stays active (not yet back past the clear level); ``breach`` implies ``hold``.
    """

    metric: str
    breach: bool
    hold: bool
    value: float | None
    threshold: float | None = None
    clear: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Crossing:
    """The first forecast step whose band reaches a level."""

    metric: str
    level: float
    band: str
    when: float  # epoch seconds of the step (its bucket's middle)
    value: float  # the band's value there
    mean: float
    probability: float  # P(value >= level) at that step, from the forecast's bands

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "threshold": self.level,
            "band": self.band,
            "when": self.when,
            "value": round(self.value, 4),
            "mean": round(self.mean, 4),
            "probability": round(self.probability, 4),
        }


@functools.lru_cache(maxsize=256)
def iso(ts: float) -> str:
    """``ts`` as UTC ISO 8601 to the second (remembered: an anomaly's or a forecast
    step's time is asked again every tick while it is recent)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exceed_probability(mean: float, upper_80: float, level: float) -> float:
    """P(X >= level) for a normal with this mean whose 80 % band ends at ``upper_80``."""
    sigma = (upper_80 - mean) / Z_80
    if not sigma > 0:
        return 1.0 if mean >= level else 0.0
    z = (level - mean) / sigma
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def first_crossing(
    forecast: Forecast, metric: str, level: float, now: float, horizon_s: float, band: str
) -> Crossing | None:
    """The first step up to ``now + horizon_s`` where ``band`` is at or above ``level``."""
    values = np.asarray(getattr(forecast, band), dtype=float)
    mean = np.asarray(forecast.mean, dtype=float)
    upper = np.asarray(forecast.upper_80, dtype=float)
    stamps = forecast.timestamps
    if stamps is None:
        return None
    for i, when in enumerate(np.asarray(stamps, dtype=float)):
        if when > now + horizon_s:
            break
        if math.isfinite(values[i]) and values[i] >= level:
            return Crossing(
                metric,
                level,
                band,
                float(when),
                float(values[i]),
                float(mean[i]),
                exceed_probability(float(mean[i]), float(upper[i]), level),
            )
    return None


def _past(value: float, level: float, below: bool) -> bool:
    return value <= level if below else value >= level


def _threshold(rule: Rule, metric: str, s: Signals) -> Observation:
    value = s.values.get(metric)
    level = rule.threshold(metric, s.cores_for(metric))
    clear = rule.clear_level(metric, s.cores_for(metric))
    if value is None or level is None or clear is None:
        return Observation(metric, False, False, value, level, clear)
    breach = _past(value, level, rule.below)
    hold = breach or (value < clear if rule.below else value > clear)
    return Observation(metric, breach, hold, value, level, clear)


def _probe(rule: Rule, metric: str, s: Signals) -> Observation:
    value = s.values.get(metric)
    level = 1.0 if rule.level is None else rule.threshold(metric, s.cores_for(metric))
    failing = value is not None and level is not None and value < level
    return Observation(metric, failing, failing, value, level, level)


def _forecast(rule: Rule, metric: str, s: Signals) -> Observation:
    level = rule.threshold(metric, s.cores_for(metric))
    forecast = s.forecast(metric, rule.within_s)
    if forecast is None or level is None:
        return Observation(metric, False, False, None, level, level)
    crossing = first_crossing(forecast, metric, level, s.now, rule.within_s, rule.band)
    if crossing is None:
        return Observation(metric, False, False, None, level, level)
    extra = {
        "when": iso(crossing.when),
        "in_s": max(0.0, crossing.when - s.now),
        "probability": crossing.probability,
    }
    return Observation(metric, True, True, crossing.value, level, level, extra)


def linear_trend(ts: np.ndarray, values: np.ndarray) -> tuple[float, float] | None:
    """Least-squares (slope per second, value at the last finite point), or None."""
    ok = np.isfinite(values)
    if int(ok.sum()) < MIN_TREND_POINTS:
        return None
    t, v = ts[ok], values[ok]
    slope, intercept = np.polyfit(t - t[-1], v, 1)
    return float(slope), float(intercept)


def _exhaustion(rule: Rule, metric: str, s: Signals) -> Observation:
    assert rule.limit is not None
    value = s.values.get(metric)
    if s.series is None or value is None:
        return Observation(metric, False, False, value, rule.limit, None)
    floor = rule.threshold(metric, s.cores_for(metric))
    if floor is not None and value < floor:  # below the floor: no need of the trend (a read
        return Observation(metric, False, False, value, rule.limit, floor)  # of hours)
    if s.trend is not None:
        trend = s.trend(metric, s.now - rule.window_s, s.now)
    else:
        trend = linear_trend(*s.series(metric, s.now - rule.window_s, s.now))
    if trend is None or trend[0] <= 0:
        return Observation(metric, False, False, value, rule.limit, floor)
    in_s = max(0.0, (rule.limit - value) / trend[0])
    breach = in_s <= rule.within_s
    extra = {"in_s": in_s, "when": iso(s.now + in_s)}
    return Observation(metric, breach, breach, value, rule.limit, floor, extra)


def _anomaly(rule: Rule, metric: str, s: Signals) -> Observation:
    found = s.anomalies(metric, s.now - rule.window_s)
    if not found:
        return Observation(metric, False, False, None)
    score = max(float(a["score"]) for a in found)
    return Observation(metric, True, True, score, extra={"when": iso(found[0]["timestamp"])})


def _risk(rule: Rule, metric: str, s: Signals) -> Observation:
    value = s.risk().get(metric)
    level = rule.threshold(metric, s.cores_for(metric))
    clear = rule.clear_level(metric, s.cores_for(metric))
    if value is None or level is None or clear is None:
        return Observation(metric, False, False, value, level, clear)
    breach = value >= level
    return Observation(metric, breach, breach or value > clear, value, level, clear)


def _stale(rule: Rule, s: Signals) -> Observation:
    if s.sample_at is None:
        return Observation(SAMPLER, False, False, None, rule.window_s, rule.window_s)
    age = max(0.0, s.now - s.sample_at)
    stale = age > rule.window_s
    return Observation(SAMPLER, stale, stale, age, rule.window_s, rule.window_s)


def _missed(rule: Rule, s: Signals) -> Observation:
    assert rule.limit is not None
    missed = float(s.missed_since(s.now - rule.window_s))
    breach = missed >= rule.limit
    # A sliding count hovers around its limit under steady load (10, 9 as one ages out,
    # 10 again): a firing alert holds until the count is down to `clear` or fewer.
    clear = rule.limit - 1 if rule.clear is None else rule.clear
    return Observation(SAMPLER, breach, breach or missed > clear, missed, rule.limit, clear)


_PER_METRIC = {
    Kind.THRESHOLD: _threshold,
    Kind.PROBE: _probe,
    Kind.FORECAST: _forecast,
    Kind.EXHAUSTION: _exhaustion,
    Kind.ANOMALY: _anomaly,
    Kind.RISK: _risk,
}


def observe(
    rule: Rule, s: Signals, active: Iterable[str] = (), names: tuple[str, ...] | None = None
) -> list[Observation]:
    """Observe ``rule`` on every metric it matches, and on its ``active`` metrics.

    ``names``: ``tuple(s.values)`` when the caller has it (one evaluation asks every rule).
    """
    if rule.kind is Kind.STALE:
        return [_stale(rule, s)]
    if rule.kind is Kind.MISSED_TICKS:
        return [_missed(rule, s)]
    if rule.kind is Kind.RISK:
        names = matching(rule.metric, tuple(s.risk()))
    else:
        names = matching(rule.metric, tuple(s.values) if names is None else names)
    if active:
        names = tuple(sorted(set(names).union(active)))
    check = _PER_METRIC[rule.kind]
    return [check(rule, name, s) for name in names]
