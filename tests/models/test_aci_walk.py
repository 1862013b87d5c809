"""The vectorised ACI walk (``aci.run_aci``) against the walk as it was written before,
one (origin, step) at a time (``reference_run_aci``, kept here verbatim): bands and final
levels equal bit for bit, on random pools and scores with ties, NaNs, infinities, exact
zeros, pools too short for either level's floor (4 scores at 80 %, 19 at 95 %), fixed and
rolling pools, any capacity, gaps between origins and a prior ``seen``."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from foresight.models.aci import DEFAULT_GAMMA, LEVELS, aci_step, run_aci, step_size
from foresight.models.conformal import ConformalState
from foresight.models.conformal_pool import (
    min_scores,
    quantiles_of_sorted,
    roll_sorted,
    sorted_pool,
)


def reference_run_aci(
    pool: np.ndarray,
    scores: np.ndarray,
    origins: np.ndarray,
    *,
    gamma: float = DEFAULT_GAMMA,
    alpha: dict[int, np.ndarray] | None = None,
    seen: np.ndarray | None = None,
    capacity: int | None = None,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    origins = np.asarray(origins, dtype=np.int64)
    n, horizon = scores.shape
    spool, counts, cached = sorted_pool(pool)  # sort once for the whole walk
    pooled: np.ndarray | None = cached
    queues: list[deque[float]] = []
    if capacity is not None:
        spool = np.vstack([spool, np.full((max(capacity - len(spool), 0) + 1, horizon), np.nan)])
        counts = counts.astype(np.int64).copy()
        for h in range(horizon):
            col = np.asarray(pool[:, h], dtype=float)
            queues.append(deque(col[~np.isnan(col)].tolist()))
    row_of = np.full(int(origins.max()) + 1 if n else 1, -1, dtype=np.int64)
    row_of[origins] = np.arange(n)
    steps = np.arange(1, horizon + 1)
    widths = {level: np.empty((n, horizon)) for level in LEVELS}
    count = np.zeros(horizon) if seen is None else np.asarray(seen, dtype=float).copy()
    current = {
        level: (
            np.full(horizon, 1.0 - level / 100.0)
            if alpha is None
            else np.asarray(alpha[level], dtype=float).copy()
        )
        for level in LEVELS
    }
    for i in range(n):
        back = origins[i] - steps  # origins whose step-h outcome is known now
        ok = back >= 0
        rows = np.where(ok, row_of[np.maximum(back, 0)], -1)
        ok &= rows >= 0
        if ok.any():
            r, h = rows[ok], steps[ok] - 1
            s = scores[r, h]
            seen_now = ~np.isnan(s)
            r, h, s = r[seen_now], h[seen_now], s[seen_now]
            count[h] += 1
            g = step_size(gamma, count[h], h + 1)
            for level in LEVELS:
                miss = (s > widths[level][r, h]).astype(float)
                current[level][h] = aci_step(current[level][h], miss, level, g)
            if capacity is not None and len(h):
                for step, x in zip(h.tolist(), s.tolist(), strict=True):
                    queues[step].append(x)
                    gone = queues[step].popleft() if len(queues[step]) > capacity else np.nan
                    roll_sorted(spool, counts, step, x, gone)
                pooled = None
        for level in LEVELS:
            widths[level][i] = quantiles_of_sorted(spool, counts, pooled, current[level], level)
    return widths, current


def assert_same(got, want):
    for a, b in zip(got, want, strict=True):
        assert a.keys() == b.keys()
        for level in a:
            assert a[level].shape == b[level].shape
            assert a[level].tobytes() == b[level].tobytes(), level  # NaN, inf, zero signs too


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    horizon = int(rng.choice([1, 2, 5, 12, 40]))
    n = int(rng.integers(1, 400))
    rows = int(rng.choice([0, 1, 2, 3, 5, 18, 19, 25, 60]))
    coarse = rng.random() < 0.5  # few distinct values: many ties

    def draw(shape):
        x = np.abs(rng.normal(0, 1, shape)) * (1 + 2 * rng.random())
        return np.round(x, 1) if coarse else x

    pool = draw((rows, horizon))
    scores = draw((n, horizon))
    pool[rng.random(pool.shape) < rng.choice([0.0, 0.1, 0.6])] = np.nan
    scores[rng.random(scores.shape) < rng.choice([0.0, 0.05, 0.5])] = np.nan
    scores[rng.random(scores.shape) < 0.05] = 0.0
    if rng.random() < 0.2:
        scores[rng.random(scores.shape) < 0.01] = np.inf
    gaps = rng.choice([1, 1, 2, 3]) if rng.random() < 0.7 else rng.integers(1, 4, n)
    origins = int(rng.integers(0, 30)) + np.cumsum(np.broadcast_to(gaps, (n,))) - 1
    gamma = float(rng.choice([0.0, 0.01, DEFAULT_GAMMA, 0.05, 0.3]))
    alpha = None
    if rng.random() < 0.5:
        alpha = {lv: rng.choice([1 - lv / 100, 0.0, 1.0, -0.01, 0.5], horizon) for lv in LEVELS}
    seen = None if rng.random() < 0.6 else rng.random(horizon) * rng.choice([1.0, 50.0])
    capacity = [None, 0, 1, 3, max(rows, 1), rows + 7, 360][int(rng.integers(0, 7))]
    return pool, scores, origins, dict(gamma=gamma, alpha=alpha, seen=seen, capacity=capacity)


@pytest.mark.parametrize("seed", range(300))
def test_the_walk_equals_the_reference_on_random_cases(seed):
    pool, scores, origins, kw = random_case(seed)
    try:
        want = reference_run_aci(pool, scores, origins, **kw)
    except IndexError:  # a fixed pool of no rows has no band: both fail alike
        assert len(pool) == 0 and kw["capacity"] is None
        with pytest.raises(IndexError):
            run_aci(pool, scores, origins, **kw)
        return
    assert_same(run_aci(pool, scores, origins, **kw), want)


@pytest.mark.parametrize("capacity", [None, 40, 360])
@pytest.mark.parametrize("rows", [2, 10, 19, 40])
def test_short_pools_borrow_as_the_reference_at_both_floors(rows, capacity):
    # Fewer scores than one or both levels' floor at first: such steps borrow the pooled
    # scores / sqrt(step) until the rolling pool has grown past the floor.
    assert min_scores(80) == 4 and min_scores(95) == 19
    rng = np.random.default_rng(rows)
    horizon, n = 24, 300
    pool = rng.gamma(2.0, 1.0, (rows, horizon))
    pool[:, ::3] = np.nan  # some steps start empty
    pool[: rows // 2, 1::3] = np.nan  # some with half
    scores = rng.gamma(2.0, 1.0 + np.arange(n)[:, None] / n, (n, horizon))
    scores[rng.random(scores.shape) < 0.1] = np.nan
    origins = np.arange(n)
    for gamma in (0.0, 0.01):
        kw = dict(gamma=gamma, capacity=capacity)
        got = run_aci(pool, scores, origins, **kw)
        assert_same(got, reference_run_aci(pool, scores, origins, **kw))
    assert np.isfinite(got[0][95][0, 0])  # an empty step borrows the other steps' scores
    if capacity is not None:
        assert np.isfinite(got[0][95][-1]).all()  # grown past the floor


def test_no_score_anywhere_is_unbounded_as_the_reference():
    pool = np.full((5, 3), np.nan)
    scores = np.ones((30, 3))
    got = run_aci(pool, scores, np.arange(30), capacity=50)
    assert_same(got, reference_run_aci(pool, scores, np.arange(30), capacity=50))
    assert np.isinf(got[0][80][0]).all()  # nothing observed yet


@pytest.mark.parametrize("capacity", [3, 40, 300])
def test_a_long_walk_whose_ranks_are_rebuilt_chunk_by_chunk_equals_the_reference(capacity):
    # The window's ranks are rebuilt every max(capacity, 256) origins: many chunks here,
    # with steps short of outcomes, ties and gaps between origins.
    rng = np.random.default_rng(capacity)
    horizon, n = 6, 1600
    scores = np.round(np.abs(rng.normal(0, 1, (n, horizon))), 1)
    scores[rng.random(scores.shape) < 0.2] = np.nan
    pool = np.round(np.abs(rng.normal(0, 1, (30, horizon))), 1)
    pool[:, 2] = np.nan
    origins = np.cumsum(rng.integers(1, 3, n))
    kw = dict(gamma=0.01, capacity=capacity)
    got = run_aci(pool, scores, origins, **kw)
    assert_same(got, reference_run_aci(pool, scores, origins, **kw))


def test_a_served_backtest_sized_walk_equals_the_reference():
    # The size a 24 h backtest walks: 288 steps, a 400-row pool rolling at its capacity.
    rng = np.random.default_rng(11)
    horizon, n = 288, 500
    drift = 1.0 + np.sin(np.arange(n) / 40.0)[:, None] ** 2
    scores = np.abs(rng.standard_t(3, (n, horizon))) * drift * np.sqrt(np.arange(1, 289))
    scores[-horizon:][np.tri(horizon, dtype=bool)[:, ::-1]] = np.nan  # targets past the end
    pool = np.abs(rng.standard_t(3, (400, horizon))) * np.sqrt(np.arange(1, 289))
    alpha = {lv: np.full(horizon, 1 - lv / 100) for lv in LEVELS}
    state = ConformalState(pool, alpha, offset=1.0, gamma=0.01, spread_window=0)
    kw = dict(gamma=state.gamma, alpha=state.alpha, capacity=state.capacity())
    origins = np.arange(n) + 1000
    assert_same(
        run_aci(pool, scores, origins, **kw), reference_run_aci(pool, scores, origins, **kw)
    )


def test_a_pool_whose_sorted_view_was_carried_live_walks_as_the_reference():
    # A live pool's cached view (``carry_sorted``) holds no pooled scores: a short step
    # pools them from the sorted columns, as the reference does.
    rng = np.random.default_rng(5)
    pool = np.abs(rng.normal(0, 1, (6, 4)))
    pool[:, 2] = np.nan
    alpha = {lv: np.full(4, 1 - lv / 100) for lv in LEVELS}
    state = ConformalState(pool, alpha, offset=1.0, spread_window=0)
    state.half_widths()
    state = state.observe(np.array([0, 1]), {lv: np.zeros(2) for lv in LEVELS}, np.ones(2))
    assert sorted_pool(state.pool)[2] is None
    scores = np.abs(rng.normal(0, 1, (50, 4)))
    for capacity in (None, 8):
        kw = dict(gamma=0.01, capacity=capacity)
        got = run_aci(state.pool, scores, np.arange(50), **kw)
        assert_same(got, reference_run_aci(state.pool, scores, np.arange(50), **kw))


def test_no_origins_or_no_steps_walk_as_the_reference():
    for n, horizon in ((0, 5), (7, 0)):
        pool, scores = np.ones((10, horizon)), np.ones((n, horizon))
        kw = dict(gamma=0.01, capacity=20)
        assert_same(
            run_aci(pool, scores, np.arange(n), **kw),
            reference_run_aci(pool, scores, np.arange(n), **kw),
        )


def test_origins_out_of_order_are_refused():
    with pytest.raises(ValueError, match="origins must increase"):
        run_aci(np.ones((10, 3)), np.ones((3, 3)), np.array([0, 2, 2]))
