"""Policy tables (threshold, reactive, predictive, hybrid), the engine's modes, the
vertical tier, and the behaviours the issue names: wobble, square wave, known ramp."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from foresight.core.errors import InputError
from foresight.replay.forecast_track import ForecastTrack
from foresight.replay.scenarios import square_wave
from foresight.replay.simulation import run_policy
from resource_manager import ResourcePool
from scaling_engine import (
    DemandForecast,
    EngineMode,
    HybridPolicy,
    PredictivePolicy,
    ReactivePolicy,
    ScalingAction,
    ScalingEngine,
    ScalingState,
    ThresholdPolicy,
    VerticalPolicy,
    make_policy,
    prob_exceeds,
)

T0 = 1_767_571_200.0  # Monday 00:00 UTC
UP, DOWN, HOLD = ScalingAction.SCALE_UP, ScalingAction.SCALE_DOWN, ScalingAction.HOLD


def state(
    current: int,
    demand: float,
    *,
    ready: int | None = None,
    min_i: int = 1,
    max_i: int = 10,
    cost_today: float = 0.0,
    budget: float = math.inf,
    boot_s: float = 300.0,
) -> ScalingState:
    return ScalingState(
        ready=current if ready is None else ready,
        current=current,
        demand=demand,
        min_instances=min_i,
        max_instances=max_i,
        boot_s=boot_s,
        cost_today=cost_today,
        daily_budget=budget,
    )


def forecast(
    mean: float | list[float],
    upper: float | list[float] | None = None,
    *,
    now: float = T0,
    step_s: float = 60.0,
    horizon: int = 7,
    quality: float | None = 0.6,
) -> DemandForecast:
    m = np.broadcast_to(np.asarray(mean, float), (horizon,)).copy()
    u = m * 1.05 if upper is None else np.broadcast_to(np.asarray(upper, float), (horizon,)).copy()
    return DemandForecast(now, step_s, m, u, quality)


# ---- threshold -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "current, demand, fc, action, rule",
    [
        (4, 3.6, None, UP, "above-up-threshold"),  # 90 % measured
        (4, 2.0, None, HOLD, "within-band"),  # 50 %
        (4, 0.8, None, DOWN, "below-down-threshold"),  # 20 %
        (4, math.nan, None, HOLD, "missing-data"),  # gap, no forecast
        (4, 2.0, (3.6, 3.7), UP, "above-up-threshold"),  # forecast 90 %, narrow band
        (4, 2.0, (3.3, 4.4), HOLD, "within-band"),  # forecast 82 % but unsure: gate
        (10, 9.5, None, HOLD, "above-up-threshold"),  # at max
        (1, 0.1, None, HOLD, "below-down-threshold"),  # at min
    ],
)
def test_threshold_table(current, demand, fc, action, rule):
    f = None if fc is None else forecast(fc[0], fc[1])
    d = ThresholdPolicy(confidence=0.7).decide(state(current, demand), f, T0)
    assert (d.action, d.rule) == (action, rule)
    assert d.target == current + {UP: 1, DOWN: -1, HOLD: 0}[action]


def test_threshold_cooldown():
    p = ThresholdPolicy(cooldown_s=300)
    assert p.decide(state(4, 3.6), None, T0).action is UP
    d = p.decide(state(5, 4.5), None, T0 + 120)
    assert (d.action, d.rule) == (HOLD, "cooldown") and "180 more s" in d.reason
    assert p.decide(state(5, 4.5), None, T0 + 300).action is UP


def test_confidence_threshold_comes_from_the_environment(monkeypatch):
    from foresight.core.settings import from_environment
    from foresight.live.scaling import from_settings

    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "0.95")
    monkeypatch.setenv("SCALING_POLICY", "threshold")
    live = from_settings(from_environment(), T0)
    assert live.engine.policy.confidence == 0.95
    monkeypatch.setenv("CONFIDENCE_THRESHOLD", "2")
    with pytest.raises(InputError, match="CONFIDENCE_THRESHOLD"):
        from_environment()


def test_prob_exceeds_uses_the_band():
    assert prob_exceeds(10.0, 11.0, 10.0) == pytest.approx(0.5)
    assert prob_exceeds(10.0, 11.0, 11.0) == pytest.approx(0.1)
    assert prob_exceeds(10.0, 10.0, 9.0) == 1.0  # no spread: certain


# ---- reactive (HPA) --------------------------------------------------------------------
@pytest.mark.parametrize(
    "current, demand, target, rule",
    [
        (5, 4.0, 5, "hpa"),  # exactly on target
        (5, 4.35, 5, "hpa"),  # +8.75 %: inside the 10 % tolerance
        (5, 3.65, 5, "hpa"),  # -8.75 %
        (5, 4.5, 6, "hpa"),  # +12.5 %: ceil(4.5 / 0.8) = 6
        (2, 7.0, 6, "rate-limit"),  # wants 9; +4 per 15 s from 2 -> 6
        (6, 20.0, 10, "rate-limit"),  # wants 25; +100 % from 6 = 12, then max 10
        (5, math.nan, 5, "missing-data"),
        (3, 0.0, 2, "hpa"),  # min instances 2
    ],
)
def test_reactive_table(current, demand, target, rule):
    d = ReactivePolicy().decide(state(current, demand, min_i=2), None, T0)
    assert (d.target, d.rule) == (target, rule)


def test_reactive_scale_down_waits_for_the_stabilisation_window():
    p = ReactivePolicy(stabilisation_s=300)
    assert p.decide(state(6, 4.7), None, T0).target == 6  # recommends 6
    d = p.decide(state(6, 1.5), None, T0 + 60)  # recommends 2
    assert (d.target, d.rule) == (6, "stabilisation")
    assert p.decide(state(6, 1.5), None, T0 + 299).target == 6
    d = p.decide(state(6, 1.5), None, T0 + 301)  # the 6 left the window
    assert (d.action, d.target) == (DOWN, 2)


def test_budget_caps_scale_up():
    # $9.90 of $10 spent at noon: nothing more is affordable for the rest of the day.
    s = state(4, 3.9, cost_today=9.9, budget=10.0)
    d = ReactivePolicy().decide(s, None, T0 + 12 * 3600)
    assert (d.action, d.rule) == (HOLD, "budget") and "budget" in d.reason
    assert d.inputs["unlimited_target"] == 5
    # Plenty left: the same state scales up.
    assert (
        ReactivePolicy()
        .decide(state(4, 3.9, cost_today=1.0, budget=10.0), None, T0 + 12 * 3600)
        .action
        is UP
    )


# ---- predictive and hybrid -------------------------------------------------------------
def test_predictive_launches_for_the_forecast_at_the_boot_lag():
    f = forecast([1.0] * 4 + [4.0] * 3)  # steps 5-7 (300-420 s ahead) jump to 4
    d = PredictivePolicy().decide(state(2, 1.0), f, T0)
    assert (d.action, d.rule, d.target) == (UP, "forecast", 5)  # ceil(4.2 / 0.85)
    assert d.inputs["lead_s"] == 300 and "launching now" in d.reason
    assert 0.5 < d.confidence <= 1.0


def test_predictive_never_scales_in_on_the_forecast_alone():
    d = PredictivePolicy().decide(state(5, 3.9), forecast(1.0), T0)
    assert (d.action, d.rule) == (HOLD, "no-scale-in-on-forecast")
    # Measured demand agrees (after its stabilisation window): scale in.
    p = PredictivePolicy()
    p.decide(state(5, 1.0), forecast(1.0), T0)
    d = p.decide(state(5, 1.0), forecast(1.0), T0 + 60)
    assert (d.action, d.target, d.rule) == (DOWN, 2, "forecast-and-reactive")


@pytest.mark.parametrize(
    "fc, why",
    [
        (None, "no forecast"),
        (forecast(4.0, quality=1.4), "accuracy 1.40"),
        (forecast(4.0, quality=None), "unmeasured"),
        (forecast([1.0] * 4 + [math.nan] * 3), "gap at the lead"),
    ],
)
def test_predictive_falls_back_to_reactive(fc, why):
    d = PredictivePolicy().decide(state(2, 1.0), fc, T0)
    assert d.rule == "fallback-hpa" and why in d.reason
    assert d.target == 2


def test_no_scale_in_on_a_data_gap_even_when_the_forecast_is_low():
    d = HybridPolicy().decide(state(5, math.nan), forecast(0.5), T0)
    assert d.action is HOLD


def test_hybrid_takes_the_larger_of_reactive_and_predictive():
    # Flash crowd: measured demand is far above the (stale) forecast.
    d = HybridPolicy().decide(state(3, 4.0), forecast(2.0), T0)
    assert (d.action, d.target, d.rule) == (UP, 5, "reactive-hpa")
    p = PredictivePolicy().decide(state(3, 4.0), forecast(2.0), T0)
    assert p.target == 3  # predictive alone trusts the forecast


def test_decision_to_dict_is_json():
    d = HybridPolicy().decide(state(2, 1.0), forecast(4.0), T0)
    out = json.loads(json.dumps(d.to_dict()))
    assert out["action"] == "scale_up" and out["policy"] == "hybrid"
    assert {"reason", "rule", "confidence", "inputs", "current", "target"} <= set(out)


def test_make_policy_rejects_unknown_names():
    with pytest.raises(InputError, match="unknown policy"):
        make_policy("psychic")


# ---- engine modes ----------------------------------------------------------------------
def engine(mode: EngineMode = EngineMode.AUTO) -> ScalingEngine:
    pool = ResourcePool(start_s=T0, min_instances=1, max_instances=8, initial=2, daily_budget=100.0)
    return ScalingEngine(ReactivePolicy(), pool, mode=mode)


def test_auto_mode_acts_and_records():
    e = engine()
    d = e.step(T0, 4.0)
    assert d.action is UP and d.execution.ok and e.pool.state(T0).desired == 5
    assert list(e.history) == [d] and e.last_decision is d


def test_dry_run_records_without_acting():
    e = engine(EngineMode.DRY_RUN)
    d = e.step(T0, 4.0)
    assert d.action is UP and d.mode is EngineMode.DRY_RUN and d.execution is None
    assert e.pool.state(T0).desired == 2 and len(e.history) == 1


def test_paused_mode_neither_decides_nor_acts():
    e = engine(EngineMode.PAUSED)
    d = e.step(T0, 4.0)
    assert (d.action, d.rule) == (HOLD, "paused") and len(e.history) == 0
    assert e.pool.state(T0).desired == 2


def test_manual_override_is_bounded():
    e = engine()
    d = e.override(6, T0)
    assert d.rule == "manual-override" and e.pool.state(T0).desired == 6
    for bad in (0, 9):
        with pytest.raises(InputError, match="between 1 and 8"):
            e.override(bad, T0)


# ---- vertical tier ---------------------------------------------------------------------
def test_storage_grows_when_the_disk_forecast_crosses_critical():
    v = VerticalPolicy()
    d = v.decide_storage(100.0, np.array([70.0, 85.0, 93.0]), T0)
    assert d.action is ScalingAction.GROW_STORAGE and d.target == 120  # 100*93/80 -> 120
    assert v.decide_storage(100.0, np.array([70.0, 85.0]), T0).action is HOLD
    assert v.decide_storage(100.0, None, T0).rule == "missing-data"
    e = engine()
    e.apply_vertical(d, T0)
    assert e.pool.storage_gb == 120


def test_instance_size_goes_up_when_the_count_is_capped():
    capped = ReactivePolicy().decide(state(10, 12.0), None, T0)
    d = VerticalPolicy().decide_size("standard", capped, 10, T0)
    assert d.action is ScalingAction.RESIZE_UP and "large" in d.reason


# ---- behaviours over time ---------------------------------------------------------------
def _track(demand: np.ndarray, horizon: int, *, perfect: bool) -> ForecastTrack:
    """Forecasts as plain data: the true future (a ramp known in advance) or none."""
    n = len(demand)
    idx = np.arange(n)[:, None] + np.arange(1, horizon + 1)[None, :]
    mean = demand[np.minimum(idx, n - 1)] if perfect else np.full((n, horizon), np.nan)
    q = np.full(n, 0.5 if perfect else np.nan)
    return ForecastTrack(mean, mean * 1.05, mean * 0.95, q, horizon - 2, 0.0, 0)


def _run(name: str, demand: np.ndarray, *, perfect: bool, step_s: float = 60.0):
    t = T0 + step_s * np.arange(len(demand))
    return run_policy(
        name,
        t,
        demand,
        _track(demand, 7, perfect=perfect),
        step_s=step_s,
        boot_s=300.0,
        min_instances=1,
        max_instances=20,
    )


@pytest.mark.parametrize("name", ["threshold", "reactive", "predictive", "hybrid"])
def test_wobble_of_8_percent_around_target_makes_no_actions(name):
    rng = np.random.default_rng(3)
    demand = 4.0 * (1 + rng.uniform(-0.08, 0.08, 600))  # 5 instances at 80 % +- 8 %
    # The forecaster knows the level, not the wobble: its band is the wobble's spread.
    n, h = len(demand), 7
    mean = np.full((n, h), 4.0)
    track = ForecastTrack(mean, mean * 1.05, mean * 0.95, np.full(n, 0.6), 5, 0.0, 0)
    t = T0 + 60.0 * np.arange(n)
    metrics, ready = run_policy(name, t, demand, track, step_s=60.0)
    assert metrics.actions == 0 and set(ready) == {5}


@pytest.mark.parametrize("name", ["reactive", "predictive", "hybrid"])
def test_square_wave_with_a_4_minute_period_does_not_flap(name):
    demand = square_wave(240, low=1.0, high=4.0, period_steps=4)  # 2 min high, 2 low
    metrics, _ready = _run(name, demand, perfect=False)
    assert metrics.scale_downs == 0
    assert metrics.scale_ups <= 2


def test_a_ramp_known_in_advance_is_met_by_predictive_but_not_reactive():
    n = 180
    k = np.clip((np.arange(n) - 60) / 30, 0, 1)
    demand = 1.5 + 6.0 * k  # 1.5 -> 7.5 units over 30 min, from minute 60
    pred, pred_ready = _run("predictive", demand, perfect=True)
    react, _ = _run("reactive", demand, perfect=True)
    assert pred.overload_minutes == 0, "capacity was ready before demand arrived"
    assert np.all(pred_ready >= demand)
    assert react.overload_minutes >= 5


# ---- flash crowds: the surge rule ---------------------------------------------------------
def _flat_forecast(now: float, level: float, width: float, steps: int = 12) -> DemandForecast:
    """A forecast that expects ``level`` with an 80 % band up to ``level + width``."""
    return DemandForecast(now, 60.0, np.full(steps, level), np.full(steps, level + width), 0.5)


def _state(n: int, demand: float):
    from foresight.scaling.policies import ScalingState

    return ScalingState(
        ready=n, current=n, demand=demand, min_instances=1, max_instances=20, boot_s=300.0
    )


def test_demand_outrunning_the_forecast_is_sized_on_its_trend():
    policy = HybridPolicy(interval_s=60.0)
    now = T0
    for k, demand in enumerate([2.0, 2.0, 2.0, 2.0, 2.0, 2.6, 3.4, 4.2]):  # a ramp begins
        now = T0 + 60.0 * k
        decision = policy.decide(_state(3, demand), _flat_forecast(now, 2.0, 0.2), now)
    assert decision.rule == "surge"
    # +2.2 units over the last 5 minutes, projected 5 more: 6.4 units at 95 % -> 7
    assert decision.inputs["surge_projected"] == pytest.approx(4.2 + 2.2 * 300 / 300, rel=0.05)
    assert decision.target == decision.inputs["surge_need"] >= 7
    assert "outran the forecast" in decision.reason


def test_a_single_outlier_is_not_a_surge():
    policy = HybridPolicy(interval_s=60.0)
    for k, demand in enumerate([2.0, 2.05, 1.95, 2.0, 2.02]):
        now = T0 + 60.0 * k
        policy.decide(_state(3, demand), _flat_forecast(now, 2.0, 0.2), now)
    now = T0 + 300.0
    blip = policy.decide(_state(3, 2.35), _flat_forecast(now, 2.0, 0.2), now)
    assert blip.rule != "surge"  # beyond the band, but not by two band widths


def test_flash_crowds_hybrid_never_worse_than_reactive():
    from foresight.replay.scenarios import FLASH_KINDS, flash_crowd
    from foresight.replay.simulation import replay

    for kind in FLASH_KINDS:
        sc = flash_crowd(kind, 3.0, days=3)
        m = replay(
            sc.timestamps,
            sc.demand,
            step_s=60.0,
            boot_s=300.0,
            max_instances=20,
            policies=("reactive", "hybrid"),
        ).metrics
        assert m["hybrid"].overload_minutes <= m["reactive"].overload_minutes, kind
        assert m["hybrid"].cost <= 1.10 * m["reactive"].cost, kind
