"""The sorted conformal pool is computed once per pool (re-forecasts only move alpha),
gives the same bands as sorting afresh, and is dropped with its pool (no pile-up)."""

from __future__ import annotations

import gc

import numpy as np

from foresight.models import conformal
from foresight.models.conformal import LEVELS, ConformalState


def state(rng: np.random.Generator) -> ConformalState:
    pool = rng.gamma(2.0, 1.0, size=(400, 24))
    pool[rng.random(pool.shape) < 0.1] = np.nan  # steps without a score at some origins
    alpha = {level: np.full(24, 1 - level / 100) for level in LEVELS}
    return ConformalState(pool=pool, alpha=alpha, offset=1.0)


def test_cached_pool_gives_the_bands_of_a_fresh_sort_after_alpha_moves():
    rng = np.random.default_rng(5)
    s = state(rng)
    s.half_widths()
    moved = s.observe(np.arange(24), {level: np.ones(24) for level in LEVELS})
    assert moved.pool is s.pool  # same pool: the cached sort is used
    fresh = ConformalState(pool=s.pool.copy(), alpha=moved.alpha, offset=1.0)
    for level in LEVELS:
        np.testing.assert_array_equal(moved.half_widths()[level], fresh.half_widths()[level])
        assert not np.array_equal(moved.half_widths()[level], s.half_widths()[level])


def test_a_freed_pool_leaves_the_cache():
    gc.collect()  # earlier tests' dead pools leave first
    s = state(np.random.default_rng(6))
    if len(conformal._SORTED_POOLS) >= conformal.MAX_SORTED_POOLS:
        conformal._SORTED_POOLS.clear()  # a full cache takes no new pool: make room
    s.half_widths()
    key = id(s.pool)
    assert key in conformal._SORTED_POOLS
    del s
    gc.collect()
    assert key not in conformal._SORTED_POOLS
