"""The live scaling engine's demand forecaster says truthfully what it waits for."""

from __future__ import annotations

import re

import numpy as np
import pytest

from foresight.live.demand_forecast import MIN_SCORED, DemandForecaster, min_fit_points
from foresight.live.scaling import LiveScaling
from foresight.scaling.policies import DemandForecast, ScalingState
from foresight.scaling.predictive import PredictivePolicy
from metrics_collector import Sample


def test_the_needed_history_is_the_first_count_that_forecasts():
    forecaster = DemandForecaster(15.0, 60.0)
    need = min_fit_points(forecaster.horizon)
    demand = 0.3 + 0.05 * np.random.default_rng(1).random(need + 5)
    for k, value in enumerate(demand[: need - 1]):
        forecaster.learn(15.0 * k, float(value))
        assert forecaster.forecast(15.0 * k) is None
        text = forecaster.waiting()
        assert text is not None and f"needs {need} of them (has {k + 1})" in text
    forecaster.learn(15.0 * need, float(demand[need - 1]))
    assert forecaster.forecast(15.0 * need) is not None


def test_after_the_fit_it_counts_scored_forecasts_then_says_nothing():
    forecaster = DemandForecaster(15.0, 60.0)
    rng = np.random.default_rng(2)
    k, seen = 0, set()
    while forecaster.quality() is None:
        forecaster.learn(15.0 * k, 0.3 + 0.05 * float(rng.random()))
        fitted = forecaster.forecast(15.0 * k) is not None
        text = forecaster.waiting()
        if fitted and forecaster.quality() is None:
            found = re.search(rf"(\d+) of the {MIN_SCORED} forecasts", text or "")
            assert found is not None, text
            seen.add(int(found.group(1)))
        k += 1
        assert k < 500
    assert forecaster.waiting() is None
    assert seen == set(range(MIN_SCORED))  # every count shown, none skipped or invented


def test_ready_in_estimate_shrinks_to_the_truth():
    """The 'ready in about N min' figure at the first decision is the time it takes."""
    forecaster = DemandForecaster(15.0, 60.0)
    forecaster.learn(0.0, 0.3)
    forecaster.forecast(0.0)
    promised = int(re.search(r"ready in about (\d+) min", forecaster.waiting() or "").group(1))
    k = 1
    while forecaster.quality() is None:
        forecaster.learn(15.0 * k, 0.3 + 0.01 * (k % 3))
        forecaster.forecast(15.0 * k)
        k += 1
    assert abs(k * 15.0 / 60.0 - promised) <= 1.0


def test_the_fallback_reason_names_what_is_missing_not_no_forecast_yet(clock):
    live = LiveScaling(now=clock(), host_cores=2, host_memory_gb=8.0)
    for _ in range(16):
        live.stage(clock.advance(1.0), Sample(clock(), {"cpu_percent": 40.0}))
    reason = live.engine.last_decision.reason
    assert "no forecast yet" not in reason
    assert "no demand forecast yet" in reason and "needs" in reason and "ready in about" in reason
    assert live.status(clock())["forecast_waiting"] == live.forecaster.waiting()


@pytest.mark.parametrize(
    ("quality", "waiting", "expected"),
    [
        (None, None, "forecast accuracy unmeasured: not scored yet"),
        (None, "3 of 20 scored", "3 of 20 scored"),
        (1.7, "ignored", "forecast accuracy 1.70 is worse than 1.00"),
        # rounded to two decimals this read "1.00 is worse than 1.00"
        (1.004, "ignored", "forecast accuracy 1.004 is worse than 1.000"),
    ],
)
def test_predictive_fallback_wording(quality, waiting, expected):
    policy = PredictivePolicy(interval_s=15.0)
    policy.forecast_waiting = waiting
    forecast = DemandForecast(0.0, 15.0, np.full(8, 1.0), np.full(8, 1.2), quality)
    state = ScalingState(1, 1, 1.0, 1, 3, boot_s=60.0)
    decision = policy.decide(state, forecast, 0.0)
    assert decision.reason.startswith(expected) and "fallback" in decision.rule


def test_a_demand_that_never_moves_is_still_judged():
    """A pegged host (demand 2.00 for minutes): 'no change' is exact, so the ratio has
    no denominator; an exact forecast ties (1.0), an inexact one says why it waits."""
    forecaster = DemandForecaster(15.0, 60.0)
    k = 0
    while len(forecaster._errors) < MIN_SCORED:
        forecaster.learn(15.0 * k, 2.0)
        forecaster.forecast(15.0 * k)
        k += 1
        assert k < 500
    assert forecaster.quality() == 1.0 and forecaster.waiting() is None
    forecaster._errors.append((0.5, 0.0))  # one forecast off while demand stood still
    assert forecaster.quality() is None
    assert "demand has not moved" in (forecaster.waiting() or "")
