"""The live refit schedule (``refit_due``): age in tier buckets, drift, hourly selection."""

from __future__ import annotations

from dataclasses import replace

import pytest

from foresight.live.forecasting import RESELECT_EVERY_S, reselect_s
from foresight.live.history_need import lag_model_steps
from foresight.live.models import SHORT_TIER, TIERS, LiveModels
from foresight.live.records import ModelState
from foresight.live.refit_due import (
    DRIFT_COVERAGE_80,
    DRIFT_MIN_OUTCOMES,
    REFIT_STEPS,
    drifted,
    refit_reason,
)
from tests.live.history_support import seed_history

HOUR_TIER, DAY_TIER, WEEK_TIER = TIERS
REFIT_S = 300.0


@pytest.fixture
def live(store, clock) -> LiveModels:
    """The model job fitting in-process (no worker), on the 1-hour tier alone; the store
    holds 8 hours before ``clock()`` and 3 after (the job reads only what is past)."""
    seed_history(store, clock() + 3 * 3600.0, hours=11)
    models = LiveModels(store, lambda: ["cpu_percent"], refit_every_s=REFIT_S, tiers=(HOUR_TIER,))
    models.budget_s = 600.0  # a busy test machine must not split a run
    return models


def fitted(live: LiveModels, now: float):
    state = live.refit("cpu_percent", HOUR_TIER, now)
    assert state.status == "ok", state.message
    return state, live._models[("cpu_percent", HOUR_TIER.name)]


def with_live_coverage(served, n: int, inside: int):
    return replace(served, conformal=replace(served.conformal, online={80: (n, inside)}))


def test_a_kept_choice_is_refit_after_its_tier_has_refit_steps_new_buckets(live, clock):
    state, served = fitted(live, clock())
    t0 = clock()
    for tier in (SHORT_TIER, HOUR_TIER):
        max_age_s = max(REFIT_S, REFIT_STEPS * tier.step_s)
        s = replace(state, tier=tier)
        assert refit_reason(s, served, tier, t0 + max_age_s - 1, refit_every_s=REFIT_S) is None
        assert refit_reason(s, served, tier, t0 + max_age_s, refit_every_s=REFIT_S) == "age"
    assert HOUR_TIER.step_s * REFIT_STEPS == 1800.0  # the 1-hour tier: every 30 min
    # 0: the former rule, every FORECAST_REFIT_S (once the tier has a new bucket).
    assert (
        refit_reason(state, served, HOUR_TIER, t0 + REFIT_S, refit_every_s=REFIT_S, refit_steps=0)
        == "age"
    )


def test_the_slow_tiers_reach_their_reselection_before_their_max_age(live, clock):
    state, served = fitted(live, clock())
    t0 = clock()
    for tier in (DAY_TIER, WEEK_TIER):
        s = replace(state, tier=tier)
        assert REFIT_STEPS * tier.step_s > reselect_s(tier)
        assert (
            refit_reason(s, served, tier, t0 + reselect_s(tier) - 1, refit_every_s=REFIT_S) is None
        )
        assert refit_reason(s, served, tier, t0 + reselect_s(tier), refit_every_s=REFIT_S) == (
            "reselect"
        )


def test_a_drifted_model_is_due_before_its_max_age_and_a_covering_one_is_not(live, clock):
    state, served = fitted(live, clock())
    now = clock() + REFIT_S  # well before the 30-min max age
    few_inside = int(DRIFT_MIN_OUTCOMES * (DRIFT_COVERAGE_80 - 0.1))
    missing = with_live_coverage(served, DRIFT_MIN_OUTCOMES, few_inside)
    assert drifted(missing)
    assert refit_reason(state, missing, HOUR_TIER, now, refit_every_s=REFIT_S) == "drift"
    covering = with_live_coverage(served, DRIFT_MIN_OUTCOMES, int(0.8 * DRIFT_MIN_OUTCOMES))
    assert not drifted(covering)
    assert refit_reason(state, covering, HOUR_TIER, now, refit_every_s=REFIT_S) is None
    # Too few live actuals to tell, or a choice younger than FORECAST_REFIT_S: not yet.
    early = with_live_coverage(served, DRIFT_MIN_OUTCOMES - 1, 0)
    assert refit_reason(state, early, HOUR_TIER, now, refit_every_s=REFIT_S) is None
    young = replace(missing, selected_at=now - REFIT_S + 1)
    assert refit_reason(state, young, HOUR_TIER, now, refit_every_s=REFIT_S) is None


def test_new_warming_and_fast_start_models_are_looked_at_soon(live, clock):
    now = clock()
    assert refit_reason(None, None, HOUR_TIER, now, refit_every_s=REFIT_S) == "first"
    warming = ModelState("cpu_percent", HOUR_TIER, "warming_up", "short", 10, now)
    assert refit_reason(warming, None, HOUR_TIER, now + 59, refit_every_s=REFIT_S) is None
    assert refit_reason(warming, None, HOUR_TIER, now + 60, refit_every_s=REFIT_S) == "warming"
    ok = ModelState("cpu_percent", HOUR_TIER, "ok", None, 80, now, now, {"fast_start": True})
    assert refit_reason(ok, None, HOUR_TIER, now + 60, refit_every_s=REFIT_S) == "fast-start"


def test_the_job_refits_by_age_chooses_hourly_and_chooses_afresh_on_drift(live, clock):
    """Through the job: no refit before the max age, a refit of the kept choice at it,
    a new choice after an hour, and a new choice at once when the live bands miss."""
    key = ("cpu_percent", HOUR_TIER.name)
    assert live.run(clock()) == 1
    chosen_at = live._models[key].selected_at
    assert chosen_at == clock()
    clock.advance(REFIT_S)
    assert live.run(clock()) == 0  # refit_every_s alone no longer makes it due
    clock.advance(REFIT_STEPS * HOUR_TIER.step_s - REFIT_S)
    assert live.run(clock()) == 1  # max age: the kept choice refitted
    refitted = live._models[key]
    assert refitted.fitted_at == clock() and refitted.selected_at == chosen_at
    clock.advance(RESELECT_EVERY_S - REFIT_STEPS * HOUR_TIER.step_s)
    assert live.run(clock()) == 1  # an hour after the choice: chosen afresh
    rechosen_at = live._models[key].selected_at
    assert rechosen_at == clock()
    clock.advance(REFIT_S)
    with live._lock:  # its live bands missed most actuals since the choice
        live._models[key] = with_live_coverage(live._models[key], DRIFT_MIN_OUTCOMES, 10)
    assert live.run(clock()) == 1
    again = live._models[key]
    assert again.selected_at == clock() > rechosen_at  # chosen afresh, not just refitted
    assert again.conformal.online.get(80, (0, 0))[0] < DRIFT_MIN_OUTCOMES  # new bands
    clock.advance(REFIT_S)
    assert live.run(clock()) == 0  # and not again at once


def test_the_last_value_served_for_want_of_history_is_rechosen_once_history_suffices(store, clock):
    """A new series' first fit at the 5-minute tier has 10 minutes, too little for a lag
    model (about 33 min of 10-s buckets): only the last value is tried. The job chooses
    again the minute the tier could have the history a lag model needs, not an hour
    after the first choice (``reselect_s``)."""
    t0 = clock()
    seed_history(store, t0 + 2 * 3600.0, hours=2 + 10 / 60, step_s=5.0)
    live = LiveModels(store, lambda: ["cpu_percent"], refit_every_s=REFIT_S, tiers=(SHORT_TIER,))
    live.budget_s = 600.0
    key = ("cpu_percent", SHORT_TIER.name)
    state = live.refit("cpu_percent", SHORT_TIER, t0)
    served = live._models[key]
    assert state.status == "ok" and served.name == "last" and set(served.candidates) == {"last"}
    need = lag_model_steps(SHORT_TIER.horizon_steps, SHORT_TIER.step_s)
    ready = t0 + (need - served.n_observed) * SHORT_TIER.step_s
    assert ready - t0 < reselect_s(SHORT_TIER) / 2
    # Ten buckets short when checked: due ten buckets later, before the kept choice's age.
    short = replace(served, n_observed=need - 10)
    ten_s = 10 * SHORT_TIER.step_s
    assert refit_reason(state, short, SHORT_TIER, t0 + ten_s - 1, refit_every_s=REFIT_S) is None
    assert refit_reason(state, short, SHORT_TIER, t0 + ten_s, refit_every_s=REFIT_S) == "grown"
    # The job: its age refits keep the last value (its only candidate) until then.
    while clock() < ready:
        clock.advance(60.0)
        live.run(clock())
    live.wait_idle()
    chosen = live._models[key]
    assert chosen.selected_at is not None and t0 < chosen.selected_at <= ready + 60.0
    assert set(chosen.candidates) > {"last"}, chosen.candidates  # the lag models were tried
    clock.advance(60.0)
    assert live.run(clock()) == 0  # and not chosen again at the next run
