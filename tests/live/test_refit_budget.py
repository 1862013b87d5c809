"""Refits within a CPU share: new series forecast at once, refits round-robin, the rest
re-anchored every run (issue 12: a fleet of series under one core)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight.live.models import TIERS, LiveModels
from foresight.live.refit_budget import RefitBudget

NAMES = [f"cpu_percent@host-{i}" for i in range(6)]
HOUR = TIERS[0]


def seed(store, now: float, hours: float) -> None:
    rng = np.random.default_rng(3)
    times = np.arange(now - hours * 3600.0, now, 60.0)
    rows = []
    for t in times:
        base = 40 + 20 * np.sin(2 * np.pi * t / 7200.0)
        rows.append((float(t), {n: float(base + rng.normal(0, 2)) for n in NAMES}))
    store.append_many(rows)


def drain(budget: RefitBudget, left_s: float = 1e-6) -> None:
    """Leave ``left_s`` of credit: exactly one more refit (any costs more than that, and
    more than the 6e-5 CPU-s a share of 1e-6 saves up at most)."""
    budget.spend(budget.credit_s - left_s)


def test_budget_accrues_its_share_up_to_the_limit_and_is_spent():
    budget = RefitBudget(0.5, burst_s=10.0, max_inflight=2)
    assert budget.to_dict()["credit_cpu_s"] == 5.0  # starts full
    budget.accrue(1000.0)
    budget.spend(7.0)
    assert budget.to_dict()["credit_cpu_s"] == -2.0 and not budget.allows(0)
    budget.accrue(1004.0)  # 4 s at half a core
    assert budget.to_dict()["credit_cpu_s"] == 0.0 and not budget.allows(0)
    budget.accrue(1005.0)
    assert budget.allows(0) and budget.allows(1) and not budget.allows(2)  # in flight
    budget.accrue(2000.0)
    assert budget.to_dict()["credit_cpu_s"] == 5.0  # never more than the limit
    budget.accrue(1500.0)  # time going back adds nothing
    assert budget.to_dict()["credit_cpu_s"] == 5.0
    assert budget.to_dict()["spent_cpu_s"] == 7.0


def test_no_share_means_no_limit():
    budget = RefitBudget(None)
    budget.spend(1e6)
    assert budget.allows(10_000) and budget.to_dict()["credit_cpu_s"] is None


@pytest.mark.parametrize("share", [0.0, -1.0])
def test_a_share_must_be_positive(share):
    with pytest.raises(ValueError, match=str(share)):
        RefitBudget(share)


@pytest.fixture
def live(store, clock) -> LiveModels:
    seed(store, clock(), hours=8)
    models = LiveModels(store, lambda: list(NAMES), tiers=(HOUR,), refit_core_share=1e-6)
    models.budget_s = 600.0  # wall time is not what this test is about
    return models


def test_without_credit_every_new_series_is_served_the_last_value_at_once(live, clock):
    live.refit_budget.spend(1e6)
    assert live.run(clock()) == 0  # no credit: nothing refitted
    for name in NAMES:
        state = live.state(name, HOUR)
        assert state.status == "ok" and state.forecast is not None
        assert state.forecast_made_at == clock() and state.accuracy["fast_start"]
        assert len(state.forecast.mean) == HOUR.horizon_steps
        assert not math.isfinite(state.checked_at)  # first in line for its fit
        _, newest = live._read(name, HOUR, 1, clock())  # the newest complete minute
        assert np.allclose(state.forecast.mean, newest[-1])  # the last value, repeated
        assert (state.forecast.lower_80 < state.forecast.mean).all()  # with a band


def test_refits_take_turns_oldest_first_and_the_rest_are_reanchored(live, clock):
    fitted_at: dict[str, list[float]] = {name: [] for name in NAMES}
    order = []
    for _ in range(2 * len(NAMES)):
        drain(live.refit_budget)
        assert live.run(clock()) == 1  # one refit a run: the credit allows no more
        for name in NAMES:
            state = live.state(name, HOUR)
            assert state.status == "ok"
            assert state.forecast_made_at == clock()  # every forecast is fresh each run
            if state.fitted_at == clock() and not state.accuracy["fast_start"]:
                order.append(name)
                fitted_at[name].append(clock())
        clock.advance(live.refit_every_s)  # every model is due again each run
    assert len(order) == 2 * len(NAMES)
    # Round-robin: every series once, then every series again in the same order.
    assert sorted(order[: len(NAMES)]) == sorted(NAMES)
    assert order[len(NAMES) :] == order[: len(NAMES)]
    assert all(len(times) == 2 for times in fitted_at.values())
