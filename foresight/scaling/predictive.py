"""The forecast-driven policies (predictive, hybrid), the policy registry and factory.

Both size for the forecast at the boot lag and scale out early; scale-in goes through
the guard in ``scale_in.py`` (cooldown after a scale-up, the recent observed peak, the
forecast band over the whole horizon), which is what keeps them from flapping on noisy
one-minute demand. Time is passed in as ``now``, never read.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import replace

from foresight.core.errors import InputError
from foresight.scaling.forecast import DemandForecast, demand_quantile, prob_exceeds
from foresight.scaling.limits import finish_decision
from foresight.scaling.policies import ReactivePolicy, ThresholdPolicy
from foresight.scaling.records import (
    DEFAULT_CONFIDENCE,
    Policy,
    ScalingDecision,
    ScalingState,
    check_confidence,
)
from foresight.scaling.scale_in import ScaleInGuard, ScaleInRule

logger = logging.getLogger(__name__)


SURGE_BANDS = 2.0  # band widths beyond the 80 % upper edge that count as a surge
SURGE_RISE = 1.0  # ... and band widths demand must have risen over the last boot lag


class PredictivePolicy:
    """Size for the forecast demand at ``now + boot lag`` plus the interval's margin.

    Sizes for the upper edge of the 80 % band over [now + boot_s, now + boot_s +
    interval_s] at ``band_utilisation`` (the band is most of the safety margin, so this
    sits above the reactive target), launching before demand arrives. Never scales
    in on the forecast alone: going down also needs the reactive policy's stabilised
    recommendation, and then the scale-in guard (``scale_in.py``) must agree, which
    by default wants the band to fit the smaller pool at 85 % (hysteresis against
    the 95 % it scales out at). Where measured demand asks for more than the forecast
    (reactive's target), that is followed once the previous reading within
    ``up_confirm_s`` asked for it too (a fresh policy follows at once). Falls back to
    reactive when the forecast is missing, has a gap, or its measured ``quality`` is
    worse than ``max_quality``; the guard still applies to scale-in then.

    ``confidence_threshold`` (CONFIDENCE_THRESHOLD) is the least chance, from the
    forecast's band, that the count sized for covers the demand at the boot lag: the
    decision's confidence. Sizing at the 80 % band's upper edge already gives about
    90 %, so only a higher threshold adds instances (a lower one never removes any).
    """

    name = "predictive"
    follow_reactive_up = False  # hybrid: also never below what reactive wants

    def __init__(
        self,
        *,
        target_utilisation: float = 0.8,
        band_utilisation: float = 0.95,
        interval_s: float = 60.0,
        max_quality: float = 1.0,
        reactive: ReactivePolicy | None = None,
        scale_in: ScaleInRule | None = None,
        up_confirm_s: float = 60.0,
        confidence_threshold: float = DEFAULT_CONFIDENCE,
    ) -> None:
        self.confidence = check_confidence(confidence_threshold)
        if not 0 < band_utilisation <= 1.5:
            raise InputError(f"band utilisation must be in (0, 1.5] (got {band_utilisation})")
        if up_confirm_s < 0:
            raise InputError(f"scale-out confirmation must be >= 0 s (got {up_confirm_s})")
        rule = scale_in or ScaleInRule(
            peak_utilisation=target_utilisation, band_utilisation=min(0.85, band_utilisation)
        )
        if rule.band_utilisation > band_utilisation:
            raise InputError(
                f"scale-in band utilisation {rule.band_utilisation} is above "
                f"the scale-out one {band_utilisation}: the policy would flap"
            )
        self.target, self.interval_s, self.max_quality = (band_utilisation, interval_s, max_quality)
        self.reactive = reactive or ReactivePolicy(target_utilisation=target_utilisation)
        self.guard = ScaleInGuard(rule)
        self.up_confirm_s = up_confirm_s
        self._reactive_recent: deque[tuple[float, int]] = deque()
        # Surge detection: what the last forecast said the next decision would see
        # (its 80 % upper edge), and the demand over the last boot lag for the trend.
        self._expected: tuple[float, float, float] | None = None
        self._demand_seen: deque[tuple[float, float]] = deque()
        # What a missing or unmeasured forecast waits for, in words, set by whoever
        # feeds the forecasts (the live monitor's demand forecaster): the fallback's
        # reason says it instead of a bare "no forecast yet".
        self.forecast_waiting: str | None = None

    def _usable(
        self, state: ScalingState, forecast: DemandForecast | None, now: float
    ) -> tuple[tuple[float, float] | None, str]:
        if forecast is None:
            return None, self.forecast_waiting or "no forecast yet"
        if forecast.quality is None:
            return None, self.forecast_waiting or "forecast accuracy unmeasured: not scored yet"
        if not forecast.quality <= self.max_quality:
            q, limit = forecast.quality, self.max_quality
            # as many decimals as tell them apart: "1.00 is worse than 1.00" was 1.004
            digits = next((d for d in (2, 3, 4) if f"{q:.{d}f}" != f"{limit:.{d}f}"), 4)
            return None, f"forecast accuracy {q:.{digits}f} is worse than {limit:.{digits}f}"
        lead = state.boot_s
        window = forecast.window(now + lead, now + lead + self.interval_s)
        if window is None:
            return None, "forecast has a gap at the lead time"
        return window, ""

    def decide(
        self, state: ScalingState, forecast: DemandForecast | None, now: float
    ) -> ScalingDecision:
        window, problem = self._usable(state, forecast, now)
        self.guard.observe(state, None if window is None else forecast, now)
        reactive = self.reactive.decide(state, forecast, now)
        surge = self._surge(state, forecast, now)
        if window is None:
            decision = replace(
                reactive,
                policy=self.name,
                rule=f"fallback-{reactive.rule}",
                reason=f"{problem}: reactive fallback; {reactive.reason}",
            )
        else:
            assert forecast is not None  # a usable window comes from a forecast
            decision = self._propose(state, forecast, window, reactive, now, surge)
        if decision.target < state.current:
            verdict = self.guard.judge(state, decision.target, now)
            decision = finish_decision(
                self.name,
                state,
                now,
                verdict.target,
                verdict.rule or decision.rule,
                f"{decision.reason}; {verdict.reason}",
                decision.confidence,
                {**decision.inputs, **verdict.inputs},
            )
        self.guard.record(decision)
        return decision

    def _propose(
        self,
        state: ScalingState,
        forecast: DemandForecast,
        window: tuple[float, float],
        reactive: ScalingDecision,
        now: float,
        surge: tuple[float, float] | None = None,
    ) -> ScalingDecision:
        """Size for the forecast at the boot lag; scale-in only as far as reactive agrees.

        ``surge`` is (expected upper edge, demand projected at the boot lag) when
        measured demand has outrun the forecast (see ``_surge``): then the projection
        is sized for at once, without waiting for a second reading or the next refit.
        """
        mean, upper = window
        cap = state.capacity_per_instance
        need = math.ceil(upper / (cap * self.target) - 1e-9)
        cover = 1.0 - prob_exceeds(mean, upper, need * cap)
        sized_for_band = need
        if cover < self.confidence and need < state.max_instances:
            level = demand_quantile(mean, upper, self.confidence)
            top = state.max_instances if math.isinf(level) else math.ceil(level / cap - 1e-9)
            need = min(state.max_instances, max(need, top))
            cover = 1.0 - prob_exceeds(mean, upper, need * cap)
        inputs = {
            **reactive.inputs,
            "lead_s": state.boot_s,
            "forecast_demand": round(mean, 4),
            "forecast_upper_80": round(upper, 4),
            "forecast_quality": forecast.quality,
            "forecast_need": need,
            "reactive_target": reactive.target,
            "confidence_threshold": self.confidence,
        }
        lead_min = state.boot_s / 60
        reason = (
            f"forecast {mean:.2f} units (80 % band up to {upper:.2f}) in "
            f"{lead_min:.0f} min needs {sized_for_band} at {self.target:.0%}"
        )
        if need > sized_for_band:
            reason += (
                f", {need} for a {cover:.0%} chance of covering it "
                f"(confidence threshold {self.confidence:.0%})"
            )
        n = state.current
        floor = self._confirmed_reactive(reactive.target, n, now)
        if floor < reactive.target and reactive.target > max(need, n):
            inputs["reactive_confirmed"] = floor
            reason += (
                f"; reactive wants {reactive.target} but not yet for "
                f"{self.up_confirm_s:.0f} s: waiting for a second reading"
            )
        if surge is not None:
            expected, projected = surge
            surge_need = math.ceil(projected / (state.capacity_per_instance * self.target) - 1e-9)
            inputs.update(
                surge_expected_upper=round(expected, 4),
                surge_projected=round(projected, 4),
                surge_need=surge_need,
            )
            if surge_need > max(need, n) and surge_need >= reactive.target:
                target = surge_need
                reason = (
                    f"demand {state.demand:.2f} outran the forecast's 80 % band "
                    f"({expected:.2f}); its trend reaches {projected:.2f} units in "
                    f"{lead_min:.0f} min: sizing for that at {self.target:.0%} now"
                )
                return finish_decision(
                    self.name, state, now, target, "surge", reason, cover, inputs
                )
            floor = max(floor, reactive.target)  # a surge needs no second reading
        if self.follow_reactive_up and floor > need:
            target, rule = floor, f"reactive-{reactive.rule}"
            reason += f"; reactive wants more ({floor}): {reactive.reason}"
        elif need >= n:
            target, rule = need, "forecast"
            if need > n:
                reason += ": launching now so they are ready in time"
        else:  # the forecast says fewer: only as far down as measured demand agrees
            target = max(need, floor)
            rule = (
                "forecast-and-reactive"
                if target < n
                else "reactive-unconfirmed"
                if floor < reactive.target
                else "no-scale-in-on-forecast"
            )
            reason += f"; scale-in needs measured demand to agree (reactive: {reactive.target})"
        return finish_decision(self.name, state, now, target, rule, reason, cover, inputs)

    def _surge(
        self, state: ScalingState, forecast: DemandForecast | None, now: float
    ) -> tuple[float, float] | None:
        """(expected upper edge, projected demand) when demand outran the forecast.

        The previous decision's forecast gave a mean and an 80 % upper edge for this
        moment. Demand beyond the band by ``SURGE_BANDS`` more band widths (about 2.5
        standard deviations for a normal error: noise gets there ~1 % of the time)
        that has also risen by more than a band width over the last boot lag is a
        surprise the forecast has not learned — a flash crowd. Then the trend over the
        last boot lag is extrapolated one boot lag ahead, at most doubling the current
        demand, so the pool is sized for where demand is heading.
        """
        demand = state.demand
        seen = self._demand_seen
        expected, self._expected = self._expected, None
        if math.isfinite(demand):
            seen.append((now, demand))
        horizon_s = max(state.boot_s, self.interval_s)
        while seen and seen[0][0] < now - horizon_s - 1e-6:
            seen.popleft()
        if forecast is not None:
            nxt = forecast.window(now + self.interval_s, now + self.interval_s)
            if nxt is not None:  # (mean, upper) at the next decision
                self._expected = (now + self.interval_s, nxt[0], nxt[1])
        if expected is None or not math.isfinite(demand) or len(seen) < 2:
            return None
        due, mean, upper = expected
        width = max(upper - mean, 1e-9)
        t0, d0 = seen[0]
        if now < due - 0.5 * self.interval_s or demand <= upper + SURGE_BANDS * width:
            return None
        if demand - d0 <= SURGE_RISE * width:  # beyond the band but not rising: an outlier
            return None
        slope = max(0.0, (demand - d0) / max(now - t0, self.interval_s))
        projected = min(demand + slope * state.boot_s, 2.0 * demand)
        return upper, projected

    def _confirmed_reactive(self, wanted: int, current: int, now: float) -> int:
        """Reactive's target, with a scale-out only as far as it held for up_confirm_s.

        One noisy minute above the HPA's tolerance should not launch an instance that
        the scale-in guard then keeps for minutes (AWS's scale-out alarms likewise need
        consecutive datapoints); a real surge persists and is followed a step later.
        """
        recent = self._reactive_recent
        recent.append((now, wanted))
        while recent[0][0] < now - self.up_confirm_s - 1e-9:
            recent.popleft()
        if wanted <= current:
            return wanted
        return max(current, min(t for _, t in recent))


class HybridPolicy(PredictivePolicy):
    """The default: the larger of predictive and reactive (AWS, Alibaba AHPA).

    Reactive's scale-out counts once confirmed by a second reading (``up_confirm_s``),
    so a single noisy minute does not add an instance the scale-in guard then holds.
    """

    name = "hybrid"
    follow_reactive_up = True


POLICIES: dict[str, type] = {
    p.name: p for p in (ThresholdPolicy, ReactivePolicy, PredictivePolicy, HybridPolicy)
}


def make_policy(
    name: str,
    *,
    target_utilisation: float = 0.8,
    band_utilisation: float = 0.95,
    interval_s: float = 60.0,
    scale_in: ScaleInRule | None = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE,
) -> Policy:
    """Build the named policy with shared settings (InputError for unknown names).

    ``target_utilisation`` is the reactive (HPA) target, also the floor hybrid and the
    scale-in guard's peak check use; ``band_utilisation`` is what the forecast's 80 %
    upper edge is sized at when scaling out; ``interval_s`` is the time between decisions;
    ``scale_in`` tunes the predictive policies' scale-in guard (default: ``ScaleInRule``
    at those two utilisations); ``confidence_threshold`` is the threshold policy's bar for
    acting and the predictive policies' least chance of covering the forecast demand
    (reactive has no confidence: it acts on measurements), checked for every policy.
    """
    if name not in POLICIES:
        raise InputError(f"unknown policy {name!r} (choose from {', '.join(POLICIES)})")
    check_confidence(confidence_threshold)
    if name == "threshold":
        return ThresholdPolicy(confidence=confidence_threshold)
    if name == "reactive":
        return ReactivePolicy(target_utilisation=target_utilisation)
    return POLICIES[name](
        target_utilisation=target_utilisation,
        band_utilisation=band_utilisation,
        interval_s=interval_s,
        scale_in=scale_in,
        confidence_threshold=confidence_threshold,
    )
