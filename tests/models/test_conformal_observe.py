"""``ConformalState.observe`` (live ACI feedback, Python floats per outcome) against the
same updates made with ``aci.aci_step`` one outcome at a time, and ``grown_pool``
(whole-array) against its column-by-column form: equal bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.models.aci import LEVELS, aci_step, step_size
from foresight.models.conformal import LIVE_POOL_ROWS, ConformalState, grown_pool


def observe_with_aci_step(state: ConformalState, steps, misses) -> dict[int, np.ndarray]:
    """The alpha ``observe`` gives, written with numpy's ``aci_step`` per outcome."""
    seen = state.seen_per_step().copy()
    sizes = []
    for h in steps:
        seen[h] += 1
        sizes.append(seen[h])
    gammas = step_size(state.gamma, np.array(sizes, dtype=float), np.asarray(steps) + 1)
    out = {}
    for level in LEVELS:
        a = np.asarray(state.alpha[level], dtype=float).copy()
        for h, m, g in zip(steps, misses[level], gammas, strict=True):
            a[h : h + 1] = aci_step(a[h : h + 1], m, level, g)
        out[level] = a
    return out


@pytest.mark.parametrize("gamma", [0.0, 0.01, 0.3])
def test_observe_moves_alpha_exactly_as_aci_step(gamma):
    rng = np.random.default_rng(4)
    horizon = 12
    pool = rng.gamma(2.0, 1.0, size=(50, horizon))
    # start near and at the clip limits (0, 1, -gamma, 1 + gamma) as well as inside
    start = rng.choice([0.0, 1.0, -gamma, 1.0 + gamma, 0.2, 0.05, -0.0], size=horizon)
    alpha = {level: start.copy() for level in LEVELS}
    state = ConformalState(pool=pool, alpha=alpha, offset=1.0, gamma=gamma)
    for _ in range(40):  # runs of outcomes, repeated steps among them, misses and hits
        steps = rng.integers(0, horizon, size=int(rng.integers(1, 60)))
        misses = {level: (rng.random(len(steps)) < 0.5).astype(float) for level in LEVELS}
        want = observe_with_aci_step(state, steps.tolist(), misses)
        state = state.observe(steps, misses)
        for level in LEVELS:
            got = state.alpha[level]
            assert got.tobytes() == want[level].tobytes()  # the sign of a zero too


def grown_pool_by_column(pool: np.ndarray, steps: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``grown_pool`` as it was written, column by column (the reference); it never has
    fewer rows than ``pool`` (so a rolling pool's capacity stays its calibrated length)."""
    horizon = pool.shape[1]
    steps = np.asarray(steps, dtype=np.int64)
    ok = np.isfinite(scores)
    columns = []
    for h in range(horizon):
        old = pool[:, h]
        col = np.concatenate([old[~np.isnan(old)], scores[ok & (steps == h)]])
        columns.append(col[-LIVE_POOL_ROWS:])
    rows = max(max(len(c) for c in columns), len(pool))
    out = np.full((rows, horizon), np.nan)
    for h, col in enumerate(columns):
        if len(col):
            out[rows - len(col) :, h] = col
    return out


@pytest.mark.parametrize("rows", [0, 1, 5, 200, LIVE_POOL_ROWS])
def test_grown_pool_equals_the_column_by_column_growth(rows):
    rng = np.random.default_rng(rows)
    for horizon in (1, 7, 30):
        pool = rng.gamma(2.0, 1.0, size=(rows, horizon))
        pool[rng.random(pool.shape) < 0.2] = np.nan  # scattered gaps in the columns
        if rows:
            pool[:, 0] = np.nan  # a column with no score yet
        for count in (0, 1, 3, 50, 500):
            steps = rng.integers(0, horizon, size=count)
            scores = rng.gamma(2.0, 1.0, size=count)
            scores[rng.random(count) < 0.1] = np.nan  # no actual: not added
            scores[rng.random(count) < 0.05] = np.inf
            got = grown_pool(pool, steps, scores)
            want = grown_pool_by_column(pool, steps, scores)
            assert got.shape == want.shape
            assert got.tobytes() == want.tobytes()
            pool = got if len(got) else pool


@pytest.mark.parametrize("capacity", [1, 4, 9, LIVE_POOL_ROWS])
def test_a_compact_pool_grows_as_column_by_column_at_any_capacity(capacity):
    # Every grown pool has each column's values at its bottom: ``grown_pool`` shifts such
    # columns instead of re-sorting the whole pool; the result must not change.
    rng = np.random.default_rng(capacity)
    for rows, horizon in ((0, 3), (1, 4), (9, 6), (30, 12)):
        pool = np.full((rows, horizon), np.nan)
        for h in range(horizon):
            n = int(rng.integers(0, rows + 1))
            pool[rows - n :, h] = rng.gamma(2.0, 1.0, n)
        for count in (0, 1, 5, 40):
            steps = rng.integers(0, horizon, size=count)
            scores = rng.gamma(2.0, 1.0, size=count)
            scores[rng.random(count) < 0.1] = np.nan
            got = grown_pool(pool, steps, scores, capacity)
            keep = max(capacity, len(pool))
            cols = []
            for h in range(horizon):
                old = pool[:, h]
                new = scores[np.isfinite(scores) & (steps == h)]
                cols.append(np.concatenate([old[~np.isnan(old)], new])[-keep:])
            want = np.full((max([len(c) for c in cols] + [len(pool)]), horizon), np.nan)
            for h, col in enumerate(cols):
                want[len(want) - len(col) :, h] = col
            assert got.tobytes() == want.tobytes()
            pool = got
