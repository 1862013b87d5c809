"""ACI's step is capped by its feedback delay: at horizon step h the step-h miss of an
origin is only known h origins later, and a delayed loop with gain x delay above 1/e
oscillates (the far steps' bands swung and under-covered at 24 h). The cap is in
``aci.step_size``, which the backtest (``run_aci``) and the live monitor
(``ConformalState.observe``) both call."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight.models.aci import DELAY_GAIN, GAMMA0, run_aci, step_size
from foresight.models.conformal import ConformalState


def test_the_step_at_horizon_step_h_is_at_most_one_over_e_h():
    assert DELAY_GAIN == pytest.approx(math.exp(-1.0))
    assert step_size(0.01, 10_000, 288) == pytest.approx(math.exp(-1.0) / 288)
    assert step_size(0.01, 10_000, 36) == 0.01  # short horizons keep the fixed step
    assert step_size(0.01, 1, 1) == pytest.approx(GAMMA0)  # step 1: the decay as before
    assert step_size(0.01, 1, 12) == pytest.approx(math.exp(-1.0) / 12)
    assert step_size(0.0, 1, 288) == 0.0  # plain split conformal never moves


def test_live_feedback_at_a_far_step_moves_alpha_by_the_capped_step():
    horizon = 288
    state = ConformalState(
        pool=np.ones((50, horizon)),
        alpha={80: np.full(horizon, 0.2), 95: np.full(horizon, 0.05)},
        offset=1.0,
        gamma=0.01,
        spread_window=0,
    )
    got = state.observe(np.array([0, 199]), {80: np.array([1.0, 1.0]), 95: np.array([1.0, 1.0])})
    assert got.alpha[80][0] == pytest.approx(0.2 - 0.8 * GAMMA0)  # step 1: uncapped
    assert got.alpha[80][199] == pytest.approx(0.2 - 0.8 * math.exp(-1.0) / 200)


def drifting_scores(seed: int, n: int = 2500, horizon: int = 288):
    """|errors| whose scale drifts with time, one error per target time (so the errors of
    neighbouring origins at one step are alike, as a forecaster's are), and a calm pool."""
    rng = np.random.default_rng(seed)
    t = n + horizon + 10
    scale = 1.0 + 0.6 * np.sin(np.arange(t) / 100.0)
    e = rng.normal(0, 1, t) * scale
    idx = np.arange(n)[:, None] + np.arange(1, horizon + 1)[None, :]
    scores = np.abs(e[idx] + 0.3 * rng.normal(0, 1, (n, horizon)))
    pool = np.abs(rng.normal(0, 1, (600, horizon)) + 0.3 * rng.normal(0, 1, (600, horizon)))
    return pool, scores


@pytest.mark.parametrize("seed", [0, 1])
def test_far_steps_of_a_day_ahead_cover_near_80_percent_under_drift(seed):
    pool, scores = drifting_scores(seed)
    widths, _ = run_aci(pool, scores, np.arange(len(scores)), gamma=0.01)
    far = slice(scores.shape[1] // 2, None)
    # Uncapped (gamma 0.01 at every step) the far half covered 73.6-74.5 %.
    assert 0.77 <= np.mean(scores[:, far] <= widths[80][:, far]) <= 0.83
