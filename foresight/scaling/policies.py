"""The measured-utilisation scaling policies: threshold (the seeds' rule) and reactive (HPA).

The forecast-driven policies (predictive, hybrid) and ``make_policy`` are in
``predictive.py``; the records policies exchange in ``records.py``, the forecast they
read in ``forecast.py``, the limits every target passes in ``limits.py``;
``scaling_engine`` re-exports all of them.

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

from foresight.core.errors import InputError
from foresight.scaling.forecast import DemandForecast, prob_exceeds
from foresight.scaling.limits import finish_decision, observed_inputs
from foresight.scaling.records import (
    DEFAULT_CONFIDENCE,
    EngineMode,
    ScalingAction,
    ScalingDecision,
    ScalingState,
    check_confidence,
)

logger = logging.getLogger(__name__)

# Imported from here by the web schemas, the replay and the live forecasters.
__all__ = [
    "DEFAULT_CONFIDENCE",
    "DemandForecast",
    "EngineMode",
    "ReactivePolicy",
    "ScalingAction",
    "ScalingState",
    "ThresholdPolicy",
    "check_confidence",
]


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
        inputs = observed_inputs(state)
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
            return finish_decision(
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
            return finish_decision(
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
        decision = finish_decision(self.name, state, now, target, rule, reason, conf, inputs)
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
        inputs = observed_inputs(state)
        n = state.current
        if not math.isfinite(state.demand):
            return finish_decision(
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
        return finish_decision(self.name, state, now, target, rule, why, 1.0, inputs)
