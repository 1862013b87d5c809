"""Forecast tiers (horizon and step per chart range) and plain-words helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass

from foresight.evaluation.backtest import BacktestResult
from foresight.live.forecasting import FAST_START_OBSERVED
from foresight.live.history_need import duration_words


@dataclass(frozen=True, slots=True)
class Tier:
    """A forecast horizon and the step it is made at; history is what a fit reads."""

    name: str
    step_s: float
    horizon_steps: int
    history_steps: int
    first_forecast_steps: int = 0  # 0: once the last value's error is measured at every step

    @property
    def horizon_s(self) -> float:
        return self.step_s * self.horizon_steps

    @property
    def min_observed(self) -> int:
        """Observed steps before the first forecast (the last value with its band)."""
        return self.first_forecast_steps or self.horizon_steps + 10


# 1 h ahead at 1-min means (4 days of history: a daily season needs 3 days to be learnt),
# 24 h at 15-min means (3 weeks), 7 days at hourly means (8 weeks). TIERS[0] is the 1-h
# tier (live_scaling reads it). SHORT_TIER, 5 min ahead at 10-s means from 6 h, is what
# the live 5-minute chart shows: it serves the last value with an empirical band a minute
# after the first sample, until a richer candidate has the history and wins.
TIERS: tuple[Tier, ...] = (
    Tier("1h", 60.0, 60, 5760),
    Tier("24h", 900.0, 96, 2016),
    Tier("7d", 3600.0, 168, 1344),
)
SHORT_TIER = Tier("5m", 10.0, 30, 2160, FAST_START_OBSERVED)
ALL_TIERS: tuple[Tier, ...] = (SHORT_TIER, *TIERS)


def tier_for_seconds(horizon_s: float) -> Tier:
    """The shortest tier whose horizon covers ``horizon_s`` seconds."""
    for tier in sorted(ALL_TIERS, key=lambda t: t.horizon_s):
        if tier.horizon_s >= horizon_s - 1e-9:
            return tier
    return max(ALL_TIERS, key=lambda t: t.horizon_s)


def tier_for_hours(hours: float) -> Tier:
    """The shortest tier of at least 1-minute steps whose horizon covers ``hours``."""
    return tier_for_seconds(max(hours, 1.0) * 3600.0)


def describe_accuracy(result: BacktestResult, step_s: float) -> str:
    """Say how good a model is in plain words (the dashboard shows this sentence)."""
    season = result.season_length
    if season and abs(season * step_s - 86_400.0) < 1.0:
        baseline = "repeating yesterday"
    elif season and abs(season * step_s - 604_800.0) < 1.0:
        baseline = "repeating last week"
    elif season:
        baseline = f"repeating the last {duration_words(season * step_s)}"
    else:
        baseline = "repeating the last value"
    ratio = result.mase / result.seasonal_naive_mase if result.seasonal_naive_mase else math.nan
    if not math.isfinite(ratio):
        words = f"no honest baseline to compare with ({baseline} is never wrong here)"
    elif ratio < 0.005:  # rounded, "100 % below" read as a perfect forecast
        words = f"error under 1 % of {baseline}'s"
    elif abs(ratio - 1.0) < 0.005:  # rounded, "0 % below" read as a measured difference
        words = f"error within 1 % of {baseline}'s"
    elif ratio <= 1.0:
        words = f"error {round(100 * (1 - ratio))} % below {baseline}"
    else:
        words = f"error {round(100 * (ratio - 1))} % above {baseline}"
    return f"{words}; {round(100 * result.coverage_80)} % of actuals inside the 80 % band"
