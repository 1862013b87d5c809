"""A metric that has never changed (swap unused, a disk that does not fill): the live
monitor serves the last value with a band at every tier, without errors or warnings,
run after run (the offline ``backtest`` scores such a series on a fallback scale)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from foresight.live.models import EXTRAS_KEY, SHORT_TIER, TIERS, LiveModels


@pytest.fixture
def live(services) -> LiveModels:
    return services.extras[EXTRAS_KEY]


def test_a_constant_metric_is_served_the_last_value_with_a_band(services, live, clock, caplog):
    times = np.arange(clock() - 8 * 3600.0, clock(), 10.0)
    services.store.append_many((float(t), {"swap_percent": 12.5}) for t in times)
    live.metrics = lambda: ["swap_percent"]
    live.tiers = (SHORT_TIER, TIERS[0])
    live.budget_s = 600.0
    caplog.set_level(logging.INFO)
    for _ in range(4):  # a fresh start, then the rechecks of a fast-start model
        live.run(clock())
        live.wait_idle()  # the fit worker answers on its own thread
        clock.advance(60)
    for tier in live.tiers:
        state = live.state("swap_percent", tier)
        assert state.status == "ok", state.message
        assert state.model == "last" and state.accuracy["fast_start"]
        assert "has not changed" in state.accuracy["summary"]
        fc = state.forecast
        assert len(fc.mean) == tier.horizon_steps and np.all(fc.mean == 12.5)
        for band in (fc.lower_95, fc.lower_80, fc.upper_80, fc.upper_95):
            assert np.all(np.isfinite(band))
        assert np.all(fc.lower_95 <= fc.lower_80) and np.all(fc.lower_80 <= fc.mean)
        assert np.all(fc.mean <= fc.upper_80) and np.all(fc.upper_80 <= fc.upper_95)
    noisy = [r for r in caplog.records if r.levelno >= logging.INFO and "swap" in r.getMessage()]
    assert noisy == [], [r.getMessage() for r in noisy]
