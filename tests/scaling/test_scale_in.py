"""No flapping: the scale-in guard's table, the hybrid's confirmed scale-out, the
flap counter, and noisy demand near an instance boundary through whole replays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight.core.errors import InputError
from foresight.replay.forecast_track import ForecastTrack
from foresight.replay.simulation import FlapCounter, run_policy
from scaling_engine import (
    DemandForecast,
    HybridPolicy,
    PredictivePolicy,
    ScaleInGuard,
    ScaleInRule,
    ScalingAction,
    ScalingDecision,
    ScalingState,
)

T0 = 1_767_571_200.0
UP, DOWN, HOLD = ScalingAction.SCALE_UP, ScalingAction.SCALE_DOWN, ScalingAction.HOLD


def state(current: int, demand: float) -> ScalingState:
    return ScalingState(
        ready=current, current=current, demand=demand, min_instances=1, max_instances=20
    )


def forecast(upper: list[float], *, now: float = T0) -> DemandForecast:
    u = np.asarray(upper, float)
    return DemandForecast(now - 60.0, 60.0, u / 1.05, u, 0.6)


def decision(action: ScalingAction, now: float) -> ScalingDecision:
    return ScalingDecision(now, "hybrid", action, 5, 5, "test", "test", 1.0)


# ---- the guard, one condition at a time ------------------------------------------------
# Each row: demand seen over the last minutes (units, one per minute, oldest first, NaN
# a gap), the forecasts' band top over the horizon, scale-ups (minutes ago), the
# proposed target from 6 instances -> (allowed target, the rule that bound).
@pytest.mark.parametrize(
    "demand, upper, ups_ago, proposed, target, rule",
    [
        ([2.0] * 10, 2.0, [], 3, 3, None),  # everything agrees
        ([2.0] * 10, 2.0, [4], 3, 6, "scale-in-cooldown"),  # scaled up 4 min ago
        ([2.0] * 10, 2.0, [6], 3, 3, None),  # cooldown (5 min) over
        ([2.0] * 4 + [4.3] + [2.0] * 5, 2.0, [], 3, 6, "scale-in-peak"),  # 4.3 / 0.8 -> 6
        ([2.0] * 4 + [3.5] + [2.0] * 5, 2.0, [], 3, 5, "scale-in-peak"),  # 3.5 / 0.8 -> 5
        ([3.5] + [2.0] * 11, 2.0, [], 3, 3, None),  # the peak left the window
        ([2.0] * 10, 4.0, [], 3, 5, "scale-in-horizon"),  # 4.0 / 0.85 -> 5
        ([2.0] * 5 + [math.nan] + [2.0] * 4, 2.0, [], 3, 6, "scale-in-gap"),
    ],
)
def test_guard_table(demand, upper, ups_ago, proposed, target, rule):
    guard = ScaleInGuard()
    now = T0 - 60.0 * len(demand)
    for d in demand:
        now += 60.0
        guard.observe(state(6, d), forecast([upper] * 7, now=now), now)
    for minutes in ups_ago:
        guard.record(decision(UP, now - 60.0 * minutes))
    verdict = guard.judge(state(6, demand[-1]), proposed, now)
    assert (verdict.target, verdict.rule) == (target, rule)
    assert verdict.reason.startswith("scale-in held" if target == 6 else "scale-in")


def test_guard_looks_at_the_whole_horizon_and_at_recent_forecasts():
    guard = ScaleInGuard()
    low, late_peak = [2.0] * 7, [2.0] * 6 + [5.0]  # high only at the horizon's end
    guard.observe(state(6, 2.0), forecast(late_peak, now=T0), T0)
    assert guard.judge(state(6, 2.0), 3, T0).rule == "scale-in-horizon"
    # Later forecasts are low again, but one from 5 min ago still reached 5.0 units.
    for k in range(1, 6):
        guard.observe(state(6, 2.0), forecast(low, now=T0 + 60 * k), T0 + 60 * k)
    v = guard.judge(state(6, 2.0), 3, T0 + 300)
    assert (v.target, v.rule) == (6, "scale-in-horizon")
    assert v.inputs["horizon_upper_80"] == 5.0 and v.inputs["horizon_need"] == 6
    assert "forecasts of the last 10 min reach 5.00" in v.reason


def test_guard_without_a_forecast_says_the_horizon_check_was_skipped():
    guard = ScaleInGuard()
    guard.observe(state(6, 2.0), None, T0)
    v = guard.judge(state(6, 2.0), 3, T0)
    assert (v.target, v.rule) == (3, None) and "no usable forecast" in v.reason


def test_guard_can_limit_the_step():
    guard = ScaleInGuard(ScaleInRule(max_step=1))
    guard.observe(state(6, 1.0), None, T0)
    v = guard.judge(state(6, 1.0), 2, T0)
    assert (v.target, v.rule) == (5, "scale-in-step") and "limited to 5" in v.reason


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cooldown_s": -1}, "must be >= 0 s"),
        ({"peak_utilisation": 0}, "peak_utilisation must be in (0, 1.5]"),
        ({"band_utilisation": 2}, "band_utilisation must be in (0, 1.5]"),
        ({"max_step": -1}, "max step must be >= 0"),
    ],
)
def test_scale_in_rule_rejects_bad_settings(kwargs, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("]", r"\]")):
        ScaleInRule(**kwargs)


def test_scale_in_band_above_the_scale_out_band_is_refused():
    with pytest.raises(InputError, match="would flap"):
        PredictivePolicy(band_utilisation=0.8, scale_in=ScaleInRule(band_utilisation=0.9))


# ---- the policies ----------------------------------------------------------------------
def test_hybrid_explains_a_held_scale_in():
    p = HybridPolicy()
    p.decide(state(6, 4.5), forecast([4.7] * 7), T0)  # a busy minute
    for k in range(1, 7):
        d = p.decide(state(6, 1.0), forecast([1.05] * 7, now=T0 + 60 * k), T0 + 60 * k)
    assert (d.action, d.rule) == (HOLD, "scale-in-peak")
    assert d.inputs["recent_peak_units"] == 4.5 and d.inputs["recent_peak_need"] == 6
    assert "scale-in held" in d.reason and "10-min peak 4.50" in d.reason
    # Once the busy minute is 10 min old, the forecasts and the peak agree: scale in.
    for k in range(7, 12):
        d = p.decide(state(6, 1.0), forecast([1.05] * 7, now=T0 + 60 * k), T0 + 60 * k)
    assert (d.action, d.target, d.rule) == (DOWN, 2, "forecast-and-reactive")
    assert "scale-in allowed" in d.reason


def test_hybrid_follows_a_reactive_scale_out_on_the_second_reading():
    # A band wide enough that 4.4 is noise it allows for (not a surge, see the surge tests).
    def noisy(now: float) -> DemandForecast:
        return DemandForecast(now - 60.0, 60.0, np.full(7, 2.2), np.full(7, 3.0), 0.6)

    p = HybridPolicy()
    assert p.decide(state(4, 2.8), noisy(T0), T0).action is HOLD
    d = p.decide(state(4, 4.4), noisy(T0 + 60), T0 + 60)  # one spike
    assert d.action is HOLD and "waiting for a second reading" in d.reason
    assert d.inputs["reactive_confirmed"] == 4
    d = p.decide(state(4, 4.4), noisy(T0 + 120), T0 + 120)  # it held
    assert (d.action, d.target, d.rule) == (UP, 6, "reactive-hpa")


# ---- the flap counter ------------------------------------------------------------------
def test_flap_counter_counts_scale_downs_reversed_within_the_window():
    c = FlapCounter(600.0)
    for action, minute in [
        (DOWN, 0),
        (UP, 9),  # reversed after 9 min: a flap
        (DOWN, 20),
        (UP, 31),  # 11 min: not a flap
        (DOWN, 40),
        (DOWN, 42),
        (HOLD, 43),
        (UP, 45),  # both undone
        (UP, 46),
    ]:  # nothing left to reverse
        c.record(action, T0 + 60 * minute)
    assert c.flaps == 3


# ---- behaviour: noise around an instance boundary ----------------------------------------
def _noisy(level: float, sd: float, n: int, seed: int) -> tuple[np.ndarray, ForecastTrack]:
    """Demand with seeded noise, and a forecaster that chases it (an EWMA of the last
    values, its 80 % band from the noise): the forecast wobbles across the boundary
    just as the demand does."""
    rng = np.random.default_rng(seed)
    demand = level * (1 + rng.normal(0.0, sd, n))
    ewma = np.empty(n)
    acc = demand[0]
    for i, d in enumerate(demand):
        acc = 0.3 * d + 0.7 * acc
        ewma[i] = acc
    mean = np.repeat(ewma[:, None], 7, axis=1)
    upper = mean + 1.2816 * sd * level
    return demand, ForecastTrack(mean, upper, 2 * mean - upper, np.full(n, 0.8), 5, 0.0, 0)


@pytest.mark.parametrize(
    "level, sd, seed",
    [
        (3.1, 0.08, 11),  # ceil(3.1 / 0.8) = 4 but 3.2 flips it to 5: right on a boundary
        (3.6, 0.12, 11),  # the HPA's +10 % tolerance edge of 4 instances
        (4.4, 0.12, 5),
        (5.0, 0.12, 11),
    ],
)
def test_noise_near_a_boundary_makes_few_flaps_with_hybrid(level, sd, seed):
    demand, track = _noisy(level, sd, 1440, seed)  # one day of minutes
    t = T0 + 60.0 * np.arange(len(demand))
    runs = {
        name: run_policy(name, t, demand, track, step_s=60.0, boot_s=300.0, max_instances=20)[0]
        for name in ("reactive", "hybrid")
    }
    hybrid, reactive = runs["hybrid"], runs["reactive"]
    assert reactive.flaps >= 5, "the input should make the HPA flap"
    assert hybrid.flaps <= 1 and hybrid.flaps * 5 <= reactive.flaps
    assert hybrid.actions * 3 <= reactive.actions
    # Not flapping is not bought with overload or money.
    assert hybrid.overload_ratio <= 0.005 and hybrid.cost <= 1.1 * reactive.cost
