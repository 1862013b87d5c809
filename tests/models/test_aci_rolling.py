"""ACI's step capped by its feedback delay, and the score pool that rolls with the served
model's outcomes, in the backtest (``run_aci``) and live (``ConformalState.observe``)
alike: the backtest must evaluate what the monitor serves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from foresight.models.aci import DELAY_GAIN, GAMMA0, LEVELS, run_aci, step_size
from foresight.models.conformal import ConformalState, grown_pool
from foresight.models.conformal_pool import sorted_pool


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


def test_a_stale_wide_pool_narrows_as_it_rolls():
    # Calibrated on errors all above the test's: ACI on a fixed pool can go no narrower
    # than its smallest score, so it covers nearly everything; the rolling pool follows
    # the served model's errors and covers near 80 %.
    rng = np.random.default_rng(3)
    horizon, n = 12, 3000
    pool = 5.0 + np.abs(rng.normal(0, 1.0, (400, horizon)))
    scores = np.abs(rng.normal(0, 1.0, (n, horizon)))
    origins = np.arange(n)
    fixed, _ = run_aci(pool, scores, origins, gamma=0.01)
    rolled, _ = run_aci(pool, scores, origins, gamma=0.01, capacity=400)
    late = slice(n // 2, None)
    assert np.mean(scores[late] <= fixed[80][late]) > 0.99
    assert 0.77 <= np.mean(scores[late] <= rolled[80][late]) <= 0.83
    assert 1.1 < np.median(rolled[80][-1]) < 1.5  # |N(0, 1)|'s 80 % quantile: 1.28


def test_the_rolling_pool_keeps_each_steps_newest_capacity_scores():
    pool = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 6.0]])
    got = grown_pool(pool, np.array([0, 0, 1]), np.array([7.0, 8.0, 9.0]), capacity=3)
    assert got.shape == (3, 2)
    np.testing.assert_array_equal(got[:, 0], [3.0, 7.0, 8.0])  # 1 and 2 left, oldest first
    np.testing.assert_array_equal(got[:, 1], [5.0, 6.0, 9.0])  # it had room: none left


def test_capacity_is_the_calibrated_length_at_least_360_and_none_on_a_local_scale():
    alpha = {lv: np.full(4, 1 - lv / 100) for lv in LEVELS}
    assert ConformalState(np.ones((50, 4)), alpha, 1.0, spread_window=0).capacity() == 360
    assert ConformalState(np.ones((500, 4)), alpha, 1.0, spread_window=0).capacity() == 500
    assert ConformalState(np.ones((500, 4)), alpha, 1.0, spread_window=24).capacity() is None


@pytest.mark.parametrize("rows", [30, 400])
def test_the_backtest_walk_equals_live_feedback_bit_for_bit(rows):
    # The live monitor: one observe per origin with the outcomes that origin completes,
    # misses judged against the bands that forecast was drawn with, then the next bands.
    rng = np.random.default_rng(rows)
    horizon, n = 8, 700
    scale = 1.0 + 0.8 * np.sin(np.arange(n) / 60.0)[:, None]
    scores = np.abs(rng.normal(0, 1, (n, horizon))) * scale
    scores[rng.random((n, horizon)) < 0.03] = np.nan  # targets never observed
    scores[rng.random((n, horizon)) < 0.05] = 0.0  # exact hits
    pool = np.abs(rng.normal(0, 3, (rows, horizon)))
    pool[rng.random(pool.shape) < 0.1] = np.nan
    origins = np.arange(n) * 2  # every other step: outcomes arrive between origins
    alpha = {lv: np.full(horizon, 1 - lv / 100) for lv in LEVELS}
    state = ConformalState(pool, alpha, offset=1.0, gamma=0.01, spread_window=0)
    want, walked = run_aci(
        pool, scores, origins, gamma=0.01, alpha=alpha, capacity=state.capacity()
    )
    got = {lv: np.empty((n, horizon)) for lv in LEVELS}
    for i, t in enumerate(origins.tolist()):
        done = [(int(r), h) for h in range(horizon) for r in np.flatnonzero(origins == t - h - 1)]
        done = [(r, h) for r, h in done if not np.isnan(scores[r, h])]
        if done:
            r, h = (np.array(x) for x in zip(*done, strict=True))
            s = scores[r, h]
            misses = {lv: (s > got[lv][r, h]).astype(float) for lv in LEVELS}
            state = state.observe(h, misses, s)
        widths = state.half_widths()
        for lv in LEVELS:
            got[lv][i] = widths[lv]
    for lv in LEVELS:
        np.testing.assert_array_equal(got[lv], want[lv])
        np.testing.assert_array_equal(state.alpha[lv], walked[lv])


def test_a_live_pool_rolled_from_a_sorted_one_sorts_as_a_fresh_sort():
    rng = np.random.default_rng(7)
    pool = np.abs(rng.normal(0, 1, (60, 5)))
    pool[rng.random(pool.shape) < 0.2] = np.nan
    alpha = {lv: np.full(5, 1 - lv / 100) for lv in LEVELS}
    state = ConformalState(pool, alpha, offset=1.0, spread_window=0)
    state.half_widths()  # the served pool's sorted view is cached
    for _ in range(40):
        steps = rng.integers(0, 5, 7)
        errors = np.abs(rng.normal(0, 2, 7))
        state = state.observe(steps, {lv: np.zeros(7) for lv in LEVELS}, errors)
        carried = sorted_pool(state.pool)
        fresh = np.sort(np.array(state.pool), axis=0)
        np.testing.assert_array_equal(carried[0], fresh)
        np.testing.assert_array_equal(carried[1], np.sum(~np.isnan(fresh), axis=0))
