"""A trending series served the last value: the note says why, and its figure is true."""

from __future__ import annotations

import re

import numpy as np

from foresight.live.forecasting import choose_served
from foresight.live.history_need import lag_model_steps
from foresight.live.models import EXTRAS_KEY, SHORT_TIER

STEP_S = 10.0


def trend(n: int, every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A rising series on the 10-s grid, observed at every ``every``-th step."""
    ts = 1_796_000_000.0 + STEP_S * np.arange(n)
    values = 100.0 + 0.5 * np.arange(n) + np.random.default_rng(5).normal(0, 1, n)
    values[np.arange(n) % every != 0] = np.nan
    return ts, values


def serve(n: int, every: int = 1):
    ts, values = trend(n, every)
    return choose_served(
        "queue_depth",
        values,
        ts,
        horizon=SHORT_TIER.horizon_steps,
        step_s=STEP_S,
        min_observed=SHORT_TIER.min_observed,
        now=ts[-1] + STEP_S,
    )


def test_short_history_names_the_history_a_trend_model_needs_and_it_is_true():
    need = lag_model_steps(SHORT_TIER.horizon_steps, STEP_S)
    short = serve(180)  # 30 min
    assert short.name == "last"
    note = short.accuracy(STEP_S)["summary"]
    found = re.search(
        r"needs about (\d+) min of 10-second history \(it had 30 min when last fitted\)", note
    )
    assert found is not None, note  # before: "nothing else could be tried yet", no figure
    assert int(found.group(1)) == round(need * STEP_S / 60)
    assert "ridge" not in serve(need - 1).candidates  # one step short: still not tried
    enough = serve(need)
    assert "ridge" in enough.candidates and enough.name != "last"  # the trend wins


def test_a_series_coarser_than_the_tier_says_so_rather_than_history_builds_up(services, clock):
    """Pushed every minute, the 10-s tier fills one step in six: it never gets a lag model."""
    start = clock()
    rng = np.random.default_rng(6)
    services.store.append_many(
        (start + 60.0 * i, {"queue_depth": 100 + 0.5 * i + float(rng.normal(0, 1))})
        for i in range(240)
    )
    clock.advance(240 * 60.0 + 1)
    state = services.extras[EXTRAS_KEY].refit("queue_depth", SHORT_TIER, clock())
    assert state.status == "ok" and state.model == "last"
    note = state.accuracy["summary"]
    assert "while history builds up" not in note
    assert "the series arrives about every 60 s" in note and "coarser steps" in note
