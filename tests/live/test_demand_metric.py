"""SCALING_DEMAND_METRIC: a stored series (a service's request rate) drives the pool."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from foresight.core.errors import InputError
from foresight.core.settings import Settings, from_environment
from foresight.live import scaling as live_scaling
from foresight.live.demand_metric import SeriesDemand, forecast_quality
from foresight.live.scaling import LiveScaling
from foresight.store.metric_store import MetricStore
from predictor import Forecast

T0 = 1_767_571_200.0
KEY = 'requests_per_s@service="api"'


@pytest.fixture
def store(tmp_path: Path):
    s = MetricStore(tmp_path / "f.db")
    yield s
    s.close()


def test_reading_averages_new_points_then_reuses_the_newest_until_stale(store) -> None:
    store.append_many([(T0 + i, {KEY: 10.0 * (i + 1)}) for i in range(3)])
    demand = SeriesDemand(KEY, 5.0, store, stale_s=60.0)
    first = demand.read(T0 + 3)
    assert (first.value, first.timestamp, first.points) == (20.0, T0 + 2, 3)
    again = demand.read(T0 + 10)  # nothing new: the newest point stands
    assert (again.value, again.points) == (30.0, 0)
    assert demand.units(T0 + 10) == pytest.approx(6.0)
    assert math.isnan(demand.read(T0 + 100).value)  # older than stale_s: a gap
    store.append(T0 + 101, {KEY: 50.0, "cpu_percent": 99.0})  # other series don't count
    assert demand.read(T0 + 102).value == 50.0


def test_unit_capacity_must_be_positive(store) -> None:
    with pytest.raises(InputError, match="SCALING_UNIT_CAPACITY must be > 0"):
        SeriesDemand(KEY, 0.0, store)


def test_rising_request_rate_raises_the_desired_count(store) -> None:
    demand = SeriesDemand(KEY, 10.0, store)  # one instance serves 10 requests/s
    live = LiveScaling(
        now=T0, interval_s=15.0, max_instances=20, daily_budget=1000.0, demand=demand
    )
    assert live.signals == (KEY,) and live.max_reachable == 20  # not bounded by this host
    desired = []
    for k in range(40):
        now = T0 + 15.0 * (k + 1)
        rate = 5.0 if k < 10 else 5.0 + 4.0 * (k - 10)  # flat, then a ramp to 121 req/s
        store.append(now - 1, {KEY: rate, "cpu_percent": 1.0})
        live.decide(now)
        desired.append(live.pool.state(now).desired)
    assert desired[9] == 1  # 5 req/s is half an instance
    assert desired[-1] >= 13  # 121 req/s at 80 % of 10 req/s each needs 16
    status = live.status(T0 + 15.0 * 41)
    assert status["demand_signal"] == KEY
    assert status["demand_metric"]["metric"] == KEY
    assert status["demand_metric"]["unit_capacity"] == 10.0
    assert status["demand_signals"][KEY] == pytest.approx(12.1)
    assert status["last_decision"]["inputs"]["signal"] == KEY


def test_the_series_live_forecast_leads_the_predictive_policy(store) -> None:
    """A forecast of the series saying 200 req/s at the boot lag is what the policy sizes for."""
    step = 10.0

    def series_forecast(key: str, ahead_s: float, now: float):
        assert key == KEY and ahead_s >= 60.0
        ts = now + step * np.arange(1, 31)
        mean = np.full(30, 200.0)
        return Forecast(step, mean, mean - 5, mean + 5, mean - 10, mean + 10, ts), 0.5

    demand = SeriesDemand(KEY, 10.0, store, series_forecast)
    live = LiveScaling(
        now=T0,
        interval_s=15.0,
        policy="predictive",
        max_instances=40,
        daily_budget=1e3,
        demand=demand,
    )
    store.append(T0 + 14, {KEY: 20.0})
    decision = live.decide(T0 + 15)
    assert live.forecast_source == "series"
    assert live.quality() == 0.5
    # 20 req/s now is 2 units (3 instances); the forecast of ~205 req/s is 20.5 units
    assert decision.target >= 21


def test_settings_need_a_unit_capacity_with_a_demand_metric(store) -> None:
    settings = from_environment({"SCALING_DEMAND_METRIC": KEY})
    assert settings.scaling_demand_metric == KEY and settings.scaling_unit_capacity is None
    with pytest.raises(InputError, match="needs SCALING_UNIT_CAPACITY"):
        live_scaling.from_settings(settings, T0, store=store)
    with pytest.raises(InputError, match="SCALING_DEMAND_METRIC"):
        from_environment({"SCALING_DEMAND_METRIC": "9bad@x"})
    ok = Settings(scaling_demand_metric="requests_per_s", scaling_unit_capacity=50.0)
    assert live_scaling.from_settings(ok, T0, store=store).demand.unit_capacity == 50.0


def test_forecast_quality_is_mase_over_the_last_values() -> None:
    assert forecast_quality({"mase": 0.6, "naive_mase": 1.2}) == pytest.approx(0.5)
    assert forecast_quality({"mase": 0.6, "naive_mase": None}) is None
    assert forecast_quality(None) is None
