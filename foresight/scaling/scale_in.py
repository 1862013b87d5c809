"""When the predictive policies may give capacity back: the scale-in guard.

Scaling out late costs overload minutes; scaling in early costs a *flap*: the instance
removed now has to be launched again minutes later and, with a boot lag of minutes, is
not ready when the returning demand needs it. On one-minute traces the HPA's rule
(scale in once the last 300 s of recommendations agree) fires on every lull in the
noise, so the predictive policies add their own, stricter conditions before any
scale-in (Kubernetes ``behavior.scaleDown`` and AWS's scale-in cooldown are the
models):

1. a *cooldown*: no scale-in within ``cooldown_s`` of any scale-up (AWS's default is
   300 s), so an instance just launched is not given back before it could serve;
2. the *observed peak*: the highest demand of the last ``peak_window_s`` must fit the
   smaller pool at ``peak_utilisation``; a data gap inside the window blocks scale-in
   (the peak is unknown);
3. the *forecast horizon*: the upper edge of the 80 % band over the whole horizon
   (not only at the boot lag) of every usable forecast made in the last
   ``peak_window_s`` must fit the smaller pool at ``band_utilisation``; one-minute
   forecasts move with the latest noisy values, so one low forecast is not enough.
   Skipped (and said so) when there was no usable forecast in that window;
4. at most ``max_step`` instances per scale-in (0: no limit).

The other half of "no flapping" is on the way out: the hybrid policy follows the HPA's
scale-out only once it has held for a minute (``PredictivePolicy.up_confirm_s``).
Time is passed in (``now``, epoch seconds), never read.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from foresight.core.errors import InputError
from foresight.scaling.forecast import DemandForecast
from foresight.scaling.records import ScalingAction, ScalingDecision, ScalingState


class _SlidingMax:
    """The maximum of values pushed since a cut-off time, in O(1) amortised per push."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: deque[tuple[float, float]] = deque()  # (time, value), decreasing

    def push(self, now: float, value: float, window_s: float) -> None:
        items = self._items
        while items and items[-1][1] <= value:  # can never be the maximum again
            items.pop()
        items.append((now, value))
        while items[0][0] < now - window_s:
            items.popleft()

    def peak(self, since_s: float) -> float:
        """Max of the values pushed at or after ``since_s``; -inf if none."""
        for t, value in self._items:
            if t >= since_s:
                return value
        return -math.inf


@dataclass(frozen=True, slots=True)
class ScaleInRule:
    """The settings of the scale-in guard (see the module docstring).

    ``band_utilisation`` should sit below the utilisation the policy scales *out* at
    (0.95 by default): that gap is the hysteresis that keeps a forecast wobbling
    around an instance boundary from adding and removing the same instance. The
    defaults were chosen by replaying NASA and Alibaba (bench/bench_replay.py): a
    longer ``peak_window_s`` or a lower ``band_utilisation`` flaps less but costs more;
    600 s matches the replay's flap window (a scale-down undone within 10 min).
    """

    cooldown_s: float = 300.0
    peak_window_s: float = 600.0
    peak_utilisation: float = 0.8
    band_utilisation: float = 0.85
    max_step: int = 0

    def __post_init__(self) -> None:
        if self.cooldown_s < 0 or self.peak_window_s < 0:
            raise InputError(
                f"scale-in cooldown and peak window must be >= 0 s "
                f"(got {self.cooldown_s}, {self.peak_window_s})"
            )
        for name in ("peak_utilisation", "band_utilisation"):
            value = getattr(self, name)
            if not 0 < value <= 1.5:
                raise InputError(f"scale-in {name} must be in (0, 1.5] (got {value})")
        if self.max_step < 0:
            raise InputError(f"scale-in max step must be >= 0 (got {self.max_step})")


@dataclass(frozen=True, slots=True)
class ScaleInVerdict:
    """How far down the guard lets a scale-in go, and why (``rule`` None: allowed)."""

    target: int
    rule: str | None
    reason: str
    inputs: dict = field(default_factory=dict)


class ScaleInGuard:
    """Remember recent demand and scale-ups; judge each proposed scale-in.

    Call ``observe`` once per decision before judging (with the forecast only when
    the policy trusts it), ``judge`` for a proposed
    target below the current count, and ``record`` with the decision finally made
    (like the threshold policy's cooldown, the clock starts at the policy's own
    scale-up decisions).
    """

    def __init__(self, rule: ScaleInRule | None = None) -> None:
        self.rule = rule or ScaleInRule()
        self._demand = _SlidingMax()  # observed demand, units
        self._upper = _SlidingMax()  # each forecast's band top over its horizon
        self._last_up_s = -math.inf
        self._last_gap_s = -math.inf

    def observe(self, state: ScalingState, forecast: DemandForecast | None, now: float) -> None:
        """Take in this interval's demand (units, NaN: a gap) and usable forecast."""
        window = self.rule.peak_window_s
        if math.isnan(state.demand):
            self._last_gap_s = now
        else:
            self._demand.push(now, state.demand, window)
        horizon = (
            None
            if forecast is None
            else forecast.window(now, forecast.origin_s + len(forecast.mean) * forecast.step_s)
        )
        if horizon is not None:
            self._upper.push(now, horizon[1], window)

    def record(self, decision: ScalingDecision) -> None:
        """Note the decision made; a scale-up starts the cooldown."""
        if decision.action is ScalingAction.SCALE_UP:
            self._last_up_s = decision.timestamp

    def judge(self, state: ScalingState, proposed: int, now: float) -> ScaleInVerdict:
        """Return the lowest count in [proposed, current] that every condition allows."""
        rule, n = self.rule, state.current
        cap = state.capacity_per_instance
        window_min = rule.peak_window_s / 60
        inputs: dict = {"scale_in_proposed": proposed}
        left = self._last_up_s + rule.cooldown_s - now
        if left > 0:
            inputs["scale_in_cooldown_left_s"] = round(left, 1)
            return ScaleInVerdict(
                n,
                "scale-in-cooldown",
                f"scale-in held: {left:.0f} s of the {rule.cooldown_s:.0f} s "
                "cooldown after the last scale-up remain",
                inputs,
            )
        if now - self._last_gap_s <= rule.peak_window_s:
            return ScaleInVerdict(
                n,
                "scale-in-gap",
                f"scale-in held: a data gap in the last {window_min:.0f} min "
                "leaves the recent peak unknown",
                inputs,
            )
        peak = self._demand.peak(now - rule.peak_window_s)
        if not math.isfinite(peak):
            return ScaleInVerdict(
                n,
                "scale-in-gap",
                f"scale-in held: no demand observed in the last {window_min:.0f} min",
                inputs,
            )
        floors = {"scale-in-peak": math.ceil(peak / (cap * rule.peak_utilisation) - 1e-9)}
        inputs["recent_peak_units"] = round(peak, 4)
        inputs["recent_peak_need"] = floors["scale-in-peak"]
        why = [
            f"the {window_min:.0f}-min peak {peak:.2f} units needs "
            f"{floors['scale-in-peak']} at {rule.peak_utilisation:.0%}"
        ]
        upper = self._upper.peak(now - rule.peak_window_s)
        if not math.isfinite(upper):
            why.append("no usable forecast for the horizon check")
        else:
            need = math.ceil(upper / (cap * rule.band_utilisation) - 1e-9)
            floors["scale-in-horizon"] = need
            inputs["horizon_upper_80"] = round(upper, 4)
            inputs["horizon_need"] = need
            why.append(
                f"the forecasts of the last {window_min:.0f} min reach {upper:.2f} "
                f"(80 % band, whole horizon), needing {need} at "
                f"{rule.band_utilisation:.0%}"
            )
        if rule.max_step:
            floors["scale-in-step"] = n - rule.max_step
            why.append(f"at most {rule.max_step} fewer per decision")
        binding = max(floors, key=lambda name: floors[name])
        target = min(n, max(proposed, floors[binding]))
        detail = "; ".join(why)
        if target >= n:
            return ScaleInVerdict(n, binding, f"scale-in held: {detail}", inputs)
        if target > proposed:
            return ScaleInVerdict(
                target, binding, f"scale-in limited to {target}: {detail}", inputs
            )
        return ScaleInVerdict(target, None, f"scale-in allowed: {detail}", inputs)
