"""Scaling policies (threshold, reactive) and the records every policy exchanges.

The forecast-driven policies (predictive, hybrid) and ``make_policy`` are in
``predictive_policies.py``; ``scaling_engine`` re-exports all of them.

Demand is in capacity units (one standard instance at 100 % = 1 unit; DESIGN.md,
"Scaling model"). Every policy has ``decide(state, forecast, now) -> ScalingDecision``
and answers "how many instances should be ready or booting now"; time is passed in,
never read. Policies are small stateful objects (cooldown clocks, the HPA's
recommendation window), like the controllers they imitate.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np

from foresight.core.errors import InputError
from foresight.pool.execution import ExecutionResult
from foresight.pool.records import PoolState
from resource_manager import DAY_S

logger = logging.getLogger(__name__)

Z_90 = 1.2815515655446004  # the 80 % band's upper edge is the 90th percentile


class ScalingAction(str, Enum):
    """What a decision asks for."""

    SCALE_UP = "scale_up"
    SCALE_DOWN = "scale_down"
    HOLD = "hold"
    GROW_STORAGE = "grow_storage"
    RESIZE_UP = "resize_up"


class EngineMode(str, Enum):
    """auto acts; dry-run records decisions without acting; paused does neither."""

    AUTO = "auto"
    DRY_RUN = "dry-run"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class ScalingState:
    """What a policy sees: the pool's counts and money, and the measured demand.

    ``demand`` is in capacity units over the last interval; NaN means a data gap.
    """

    ready: int
    current: int  # ready + booting: what the pool is heading for
    demand: float
    min_instances: int
    max_instances: int
    capacity_per_instance: float = 1.0
    boot_s: float = 300.0
    cost_today: float = 0.0  # USD
    daily_budget: float = math.inf  # USD per day; <= 0 or inf: no budget
    price_per_hour: float = 0.10  # USD per instance-hour

    @classmethod
    def from_pool(cls, pool: PoolState, demand: float) -> ScalingState:
        """Combine a pool snapshot with the measured demand (units, NaN for a gap)."""
        return cls(
            pool.ready,
            pool.desired,
            float(demand),
            pool.min_instances,
            pool.max_instances,
            pool.size.capacity_units,
            pool.boot_s,
            pool.cost_today,
            pool.daily_budget,
            pool.size.price_per_hour,
        )

    @property
    def utilisation(self) -> float:
        """Demand / ready capacity (0-1+); inf with no ready instance, NaN on a gap."""
        cap = self.ready * self.capacity_per_instance
        return self.demand / cap if cap > 0 else math.inf


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


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    """One explained decision: action, counts, the rule that fired, why, and inputs."""

    timestamp: float
    policy: str
    action: ScalingAction
    current: int
    target: int
    reason: str
    rule: str
    confidence: float
    inputs: dict = field(default_factory=dict)
    mode: EngineMode = EngineMode.AUTO
    execution: ExecutionResult | None = None

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "policy": self.policy,
            "action": self.action.value,
            "current": self.current,
            "target": self.target,
            "reason": self.reason,
            "rule": self.rule,
            "confidence": round(self.confidence, 4),
            "inputs": dict(self.inputs),
            "mode": self.mode.value,
            "execution": None if self.execution is None else self.execution.to_dict(),
        }


class Policy(Protocol):
    name: str

    def decide(
        self, state: ScalingState, forecast: DemandForecast | None, now: float
    ) -> ScalingDecision: ...


DEFAULT_CONFIDENCE = 0.7  # CONFIDENCE_THRESHOLD's default (Settings)


def check_confidence(confidence: float) -> float:
    """``confidence`` as a float; InputError unless it is a probability in [0, 1]."""
    if not 0.0 <= confidence <= 1.0:  # NaN fails too
        raise InputError(f"confidence threshold must be from 0 to 1 (got {confidence})")
    return float(confidence)


def _finish(
    policy: str,
    state: ScalingState,
    now: float,
    target: int,
    rule: str,
    reason: str,
    confidence: float,
    inputs: dict,
) -> ScalingDecision:
    """Apply the limits every policy shares, then label the action.

    Limits, in order: never scale in on a data gap; [min, max]; the daily budget
    (no scale-up that the rest of today's budget cannot pay for).
    """
    raw = target
    notes = []
    if target < state.current and not math.isfinite(state.demand):
        target, rule = state.current, "missing-data"
        notes.append("no scale-in on a data gap")
    if target > state.max_instances:
        target = state.max_instances
        notes.append(f"limited by max instances {state.max_instances}")
    if target < state.min_instances:
        target = state.min_instances
        notes.append(f"raised to min instances {state.min_instances}")
    if target > state.current and 0 < state.daily_budget < math.inf:
        hours_left = max(1.0 / 60, (DAY_S - now % DAY_S) / 3600.0)
        left = state.daily_budget - state.cost_today
        affordable = math.floor(left / (state.price_per_hour * hours_left)) if left > 0 else 0
        if affordable < target:
            target = max(state.current, affordable)
            rule = "budget"
            notes.append(
                f"budget: ${state.cost_today:.2f} of ${state.daily_budget:.2f} "
                f"spent today, affords {affordable} for the rest of the day"
            )
    if notes:
        reason = f"{reason}; {'; '.join(notes)}"
        inputs = {**inputs, "unlimited_target": raw}
    action = (
        ScalingAction.SCALE_UP
        if target > state.current
        else ScalingAction.SCALE_DOWN
        if target < state.current
        else ScalingAction.HOLD
    )
    return ScalingDecision(
        now, policy, action, state.current, int(target), reason, rule, float(confidence), inputs
    )


def _observed_inputs(state: ScalingState) -> dict:
    return {
        "demand_units": None if math.isnan(state.demand) else round(state.demand, 4),
        "ready": state.ready,
        "current": state.current,
        "utilisation": (
            None if not math.isfinite(state.utilisation) else round(state.utilisation, 4)
        ),
    }


class ThresholdPolicy:
    """The seeds' rule: +1 above ``up`` utilisation, -1 below ``down``, with a cooldown.

    With a forecast, "above" means P(next-step utilisation > up) >= ``confidence``
    (from the forecast interval); without one it is the measured utilisation, which
    counts as certain.
    """

    name = "threshold"

    def __init__(
        self,
        *,
        up: float = 0.8,
        down: float = 0.3,
        confidence: float = DEFAULT_CONFIDENCE,
        cooldown_s: float = 300.0,
    ) -> None:
        if not 0 < down < up:
            raise InputError(f"need 0 < down < up (got down {down}, up {up})")
        self.up, self.down, self.cooldown_s = up, down, cooldown_s
        self.confidence = check_confidence(confidence)
        self._last_action_s = -math.inf

    def decide(
        self, state: ScalingState, forecast: DemandForecast | None, now: float
    ) -> ScalingDecision:
        inputs = _observed_inputs(state)
        cap = max(state.ready, 1) * state.capacity_per_instance
        window = None if forecast is None else forecast.window(now, now + forecast.step_s)
        if window is not None:
            mean, upper = window
            p_up = prob_exceeds(mean, upper, self.up * cap)
            p_down = 1.0 - prob_exceeds(mean, upper, self.down * cap)
            inputs.update(forecast_demand=round(mean, 4), forecast_upper_80=round(upper, 4))
            basis = "forecast next-step utilisation"
        elif math.isfinite(state.demand):
            util = state.utilisation
            p_up, p_down = float(util > self.up), float(util < self.down)
            basis = "measured utilisation"
        else:
            return _finish(
                self.name,
                state,
                now,
                state.current,
                "missing-data",
                "no demand measurement and no forecast: holding",
                0.0,
                inputs,
            )
        inputs.update(p_above_up=round(p_up, 4), p_below_down=round(p_down, 4))
        left = self._last_action_s + self.cooldown_s - now
        if left > 0 and (p_up >= self.confidence or p_down >= self.confidence):
            return _finish(
                self.name,
                state,
                now,
                state.current,
                "cooldown",
                f"in cooldown for {left:.0f} more s after the last action",
                max(p_up, p_down),
                inputs,
            )
        if p_up >= self.confidence:
            target, rule, conf = state.current + 1, "above-up-threshold", p_up
            reason = (
                f"{basis} above {self.up:.0%} with probability {p_up:.0%} "
                f">= {self.confidence:.0%}: add one instance"
            )
        elif p_down >= self.confidence and math.isfinite(state.demand):
            target, rule, conf = state.current - 1, "below-down-threshold", p_down
            reason = (
                f"{basis} below {self.down:.0%} with probability {p_down:.0%} "
                f">= {self.confidence:.0%}: remove one instance"
            )
        else:
            target, rule, conf = state.current, "within-band", 1.0 - max(p_up, p_down)
            reason = (
                f"{basis} within {self.down:.0%}-{self.up:.0%} "
                f"(or below the {self.confidence:.0%} confidence gate)"
            )
        decision = _finish(self.name, state, now, target, rule, reason, conf, inputs)
        if decision.action is not ScalingAction.HOLD:
            self._last_action_s = now
        return decision


class ReactivePolicy:
    """The Kubernetes HPA: ``ceil(N * util / target)`` with tolerance and stabilisation.

    No change while |util/target - 1| <= ``tolerance``. Scale-down uses the highest
    recommendation of the last ``stabilisation_s`` seconds; scale-up is limited to
    max(+4, +100 %) of the count at the start of each 15 s period.
    """

    name = "reactive"

    def __init__(
        self,
        *,
        target_utilisation: float = 0.8,
        tolerance: float = 0.1,
        stabilisation_s: float = 300.0,
        up_period_s: float = 15.0,
        up_pods: int = 4,
        up_percent: float = 100.0,
    ) -> None:
        if not 0 < target_utilisation <= 1.5:
            raise InputError(f"target utilisation must be in (0, 1.5] (got {target_utilisation})")
        self.target, self.tolerance, self.stabilisation_s = (
            target_utilisation,
            tolerance,
            stabilisation_s,
        )
        self.up_period_s, self.up_pods, self.up_percent = up_period_s, up_pods, up_percent
        self._recommendations: deque[tuple[float, int]] = deque()
        self._counts: deque[tuple[float, int]] = deque()

    def decide(
        self, state: ScalingState, forecast: DemandForecast | None, now: float
    ) -> ScalingDecision:
        inputs = _observed_inputs(state)
        n = state.current
        if not math.isfinite(state.demand):
            return _finish(
                self.name,
                state,
                now,
                n,
                "missing-data",
                "no demand measurement: holding (never scale on a gap)",
                0.0,
                inputs,
            )
        ratio = state.demand / (max(n, 1) * state.capacity_per_instance * self.target)
        inputs["usage_ratio"] = round(ratio, 4)
        if abs(ratio - 1.0) <= self.tolerance:
            rec, why = n, f"usage ratio {ratio:.2f} within {self.tolerance:.0%} tolerance"
        else:
            rec = math.ceil(state.demand / (state.capacity_per_instance * self.target) - 1e-9)
            why = f"demand {state.demand:.2f} units at target {self.target:.0%} needs {rec}"
        window = self._recommendations
        window.append((now, rec))
        while window and window[0][0] < now - self.stabilisation_s:
            window.popleft()
        counts = self._counts
        counts.append((now, n))
        while counts and counts[0][0] <= now - self.up_period_s:
            counts.popleft()
        rule = "hpa"
        if rec < n:
            target = min(n, max(r for _, r in window))
            if target > rec:
                rule = "stabilisation"
                why += (
                    f"; stabilised at {target}, the highest recommendation "
                    f"in the last {self.stabilisation_s:.0f} s"
                )
        elif rec > n:
            base = min(c for _, c in counts)
            limit = max(base + self.up_pods, math.ceil(base * (1 + self.up_percent / 100)))
            target = min(rec, limit)
            if target < rec:
                rule = "rate-limit"
                why += f"; rate-limited to {limit} per {self.up_period_s:.0f} s"
        else:
            target = n
        inputs["recommendation"] = rec
        return _finish(self.name, state, now, target, rule, why, 1.0, inputs)
