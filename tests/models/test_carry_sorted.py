"""The live pool's carried sorted view (``conformal_pool.carry_sorted``) against the loop
it replaced, one insert and one removal at a time per step (``reference_carry_sorted``,
kept here verbatim but for returning its view instead of caching it): the sorted pool and
counts equal bit for bit, on random pools with gaps, ties, exact zeros and infinities,
scores with NaNs, infinities, repeats and steps out of range, at any capacity; and the
bands of a state that observed live errors equal those of a fresh sort of its pool."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from foresight.models import conformal_pool
from foresight.models.conformal import LEVELS, ConformalState, grown_pool
from foresight.models.conformal_pool import carry_sorted, roll_sorted, sorted_pool


def reference_carry_sorted(
    old: np.ndarray, new: np.ndarray, steps: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """``carry_sorted`` as it was (main 418a9d4), returning (sorted pool, counts)."""
    found = conformal_pool._SORTED_POOLS.get(id(old))
    if found is None or found[0]() is not old or not isinstance(new, np.ndarray):
        return None
    spool, counts, _ = found[1]
    horizon = new.shape[1]
    steps = np.asarray(steps, dtype=np.int64)
    scores = np.asarray(scores, dtype=float)
    ok = np.isfinite(scores) & (steps >= 0) & (steps < horizon)
    steps, scores = steps[ok], scores[ok]
    per_step = np.bincount(steps, minlength=horizon)
    rows = max(len(old), len(new)) + int(per_step.max() if len(steps) else 0) + 1
    work = np.full((rows, horizon), np.nan)
    work[: len(spool)] = spool
    now = counts.astype(np.int64).copy()
    new_counts = np.sum(~np.isnan(new), axis=0)
    for h in np.flatnonzero(per_step).tolist():
        col = old[:, h]
        queue = np.concatenate([col[~np.isnan(col)], scores[steps == h]])
        gone = queue[: len(queue) - int(new_counts[h])]
        for x in queue[len(queue) - int(per_step[h]) :].tolist():
            roll_sorted(work, now, h, x, np.nan)
        for x in gone.tolist():
            c = int(now[h])
            q = int(np.searchsorted(work[:c, h], x, side="left"))
            work[q : c - 1, h] = work[q + 1 : c, h].copy()
            work[c - 1, h] = np.nan
            now[h] = c - 1
    return work[: len(new)].copy(), now


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    rows = int(rng.choice([0, 1, 3, 10, 40, 360]))
    horizon = int(rng.choice([1, 2, 5, 12, 60, 288]))
    coarse = rng.random() < 0.4  # many ties

    def draw(shape):
        x = np.abs(rng.normal(0, 1, shape)) * (1 + 2 * rng.random())
        return np.round(x, 1) if coarse else x

    pool = draw((rows, horizon))
    pool[rng.random(pool.shape) < rng.choice([0.0, 0.1, 0.6])] = np.nan
    if rng.random() < 0.5:  # a grown pool: each column's values at its bottom
        pool = np.take_along_axis(pool, np.argsort(~np.isnan(pool), axis=0, kind="stable"), 0)
    pool[rng.random(pool.shape) < 0.03] = 0.0
    if rng.random() < 0.2:
        pool[rng.random(pool.shape) < 0.01] = np.inf
    n = int(rng.choice([0, 1, horizon, 2 * horizon, 50]))
    if rng.random() < 0.6:  # one outcome per step, as a re-forecast feeds back
        steps = rng.permutation(horizon)[: min(n, horizon)]
    else:
        steps = rng.integers(-2, horizon + 2, n)
    scores = draw(len(steps))
    scores[rng.random(len(steps)) < 0.1] = np.nan
    scores[rng.random(len(steps)) < 0.05] = 0.0
    if rng.random() < 0.2:
        scores[rng.random(len(steps)) < 0.05] = np.inf
    capacity = [1, 3, max(rows, 1), rows + 7, 360][int(rng.integers(0, 5))]
    return pool, steps, scores, capacity


def assert_bits_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64))


@pytest.mark.parametrize("seed", range(300))
def test_the_carried_view_equals_the_reference_on_random_cases(seed):
    old, steps, scores, capacity = random_case(seed)
    sorted_pool(old)  # cached, as after a band was drawn from the old pool
    new = grown_pool(old, steps, scores, capacity)
    want = reference_carry_sorted(old, new, steps, scores)
    assert want is not None
    conformal_pool._SORTED_POOLS.pop(id(new), None)
    carry_sorted(old, new, steps, scores)
    got = conformal_pool._SORTED_POOLS[id(new)][1]
    assert_bits_equal(got[0], want[0])
    assert got[1].dtype == want[1].dtype and np.array_equal(got[1], want[1])
    assert got[2] is None
    assert not got[0].flags.writeable and not got[1].flags.writeable
    # and it is what sorting the new pool afresh gives
    fresh = sorted_pool(new.copy())
    assert_bits_equal(got[0], fresh[0])
    assert np.array_equal(got[1], fresh[1])


def test_nothing_is_carried_from_a_pool_whose_view_is_not_cached():
    gc.collect()
    rng = np.random.default_rng(1)
    old = np.abs(rng.normal(0, 1, (20, 6)))
    new = grown_pool(old, np.arange(6), np.ones(6), 20)
    carry_sorted(old, new, np.arange(6), np.ones(6))
    assert id(new) not in conformal_pool._SORTED_POOLS


def test_a_live_state_rolled_many_times_keeps_the_bands_of_a_fresh_sort():
    rng = np.random.default_rng(3)
    horizon = 288
    pool = np.abs(rng.normal(0, 1, (360, horizon)))
    alpha = {lv: np.full(horizon, 1 - lv / 100) for lv in LEVELS}
    state = ConformalState(pool, alpha, offset=1.0, spread_window=0)
    state.half_widths()
    for _ in range(20):
        steps = rng.permutation(horizon)[: int(rng.integers(1, horizon + 1))]
        misses = {lv: (rng.random(len(steps)) < 0.2).astype(float) for lv in LEVELS}
        state = state.observe(steps, misses, np.abs(rng.normal(0, 1.5, len(steps))))
        fresh = ConformalState(state.pool.copy(), state.alpha, offset=1.0, spread_window=0)
        for level in LEVELS:
            assert_bits_equal(state.half_widths()[level], fresh.half_widths()[level])
