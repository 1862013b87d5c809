"""The conformal quantile of a score pool, per horizon step, with too few scores handled.

Split conformal's band at level ``1 - alpha`` is the ``k = ceil((n + 1)(1 - alpha))``-th
smallest of a step's ``n`` scores. When ``k > n`` the pool is too small for that level
(fewer than 4 scores at 80 %, 19 at 95 %) and the honest band is unbounded; before this
module the largest score was served instead, so a pool of one or two early residuals
gave a band as wide as one error, and the first tens of minutes after a start covered
well under 80 %. Here such a step borrows from every step: the scores divided by
``sqrt(step)`` (a random walk's growth) are pooled across the horizon, their conformal
quantile taken, and multiplied back by ``sqrt(step)``. Only when even the pooled scores
are too few is the largest one used (the band the data can still support).

When ACI asks for more than a large enough pool can give (``alpha <= 0`` or ``k > n``
with ``n`` enough at the nominal level) the step's largest score is the band, as Gibbs &
Candès' bounded variant does (``conformal.py``). Pure numpy; sorted pools are cached by
the pool array's identity (a live model draws bands from one pool at every re-forecast).
"""

from __future__ import annotations

import weakref
from functools import partial

import numpy as np

# The sorted pools of the states in use, by the pool array's identity: an entry holds its
# pool weakly and goes when the pool is freed (so an id is never reused while cached, and
# old pools' copies do not pile up).
_SORTED_POOLS: dict[int, tuple[weakref.ref, tuple[np.ndarray, ...]]] = {}
MAX_SORTED_POOLS = 4096


def _forget_pool(key: int, _ref: object) -> None:
    _SORTED_POOLS.pop(key, None)


def sorted_pool(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-step sorted pool (NaN last), per-step counts, the pooled scores / sqrt(step)
    sorted), computed once per pool array."""
    key = id(scores)
    found = _SORTED_POOLS.get(key)
    if found is not None and found[0]() is scores:
        return found[1]  # type: ignore[return-value]
    raw = np.asarray(scores, dtype=float)
    pool = np.sort(raw, axis=0)  # NaN sort last
    counts = np.sum(~np.isnan(pool), axis=0)
    steps = np.sqrt(np.arange(1, raw.shape[1] + 1, dtype=float))
    flat = (raw / steps[None, :]).ravel()
    pooled = np.sort(flat[~np.isnan(flat)])
    out = (pool, counts, pooled)
    if isinstance(scores, np.ndarray) and len(_SORTED_POOLS) < MAX_SORTED_POOLS:
        for a in out:
            a.flags.writeable = False  # shared: read only
        ref = weakref.ref(scores, partial(_forget_pool, key))
        _SORTED_POOLS[key] = (ref, out)
    return out


def min_scores(level: int) -> int:
    """The fewest scores whose conformal rank at ``level`` % is inside the pool."""
    alpha = 1.0 - level / 100.0
    return int(np.ceil((1.0 - alpha) / alpha - 1e-9))


def conformal_rank(n: np.ndarray | int, alpha: np.ndarray | float) -> np.ndarray:
    """``ceil((n + 1)(1 - alpha))``, alpha clipped to [0, 1] (1-based; > n: beyond the pool)."""
    a = np.clip(np.asarray(alpha, dtype=float), 0.0, 1.0)
    return np.ceil((np.asarray(n) + 1) * (1.0 - a) - 1e-9).astype(np.int64)


def step_quantiles(scores: np.ndarray, alpha: np.ndarray, level: int) -> np.ndarray:
    """The band half-width per horizon step at miss rates ``alpha`` (horizon,).

    A step with at least ``min_scores(level)`` scores: its own conformal quantile (its
    largest score when ACI asks for more). A step with fewer: the pooled quantile of
    every step's scores / sqrt(step), times sqrt(step). No score at all: inf.
    """
    pool, counts, pooled = sorted_pool(scores)
    return quantiles_of_sorted(pool, counts, pooled, alpha, level)


def pooled_from_sorted(pool: np.ndarray) -> np.ndarray:
    """Every step's scores / sqrt(step), sorted (what a step with too few borrows)."""
    steps = np.sqrt(np.arange(1, pool.shape[1] + 1, dtype=float))
    flat = (pool / steps[None, :]).ravel()
    return np.sort(flat[~np.isnan(flat)])


def quantiles_of_sorted(
    pool: np.ndarray,
    counts: np.ndarray,
    pooled: np.ndarray | None,
    alpha: np.ndarray,
    level: int,
) -> np.ndarray:
    """``step_quantiles`` from a per-step sorted pool (NaN last) and its counts;
    ``pooled`` None: computed from ``pool`` if a step needs it."""
    horizon = pool.shape[1]
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (horizon,))
    k = np.minimum(conformal_rank(counts, alpha), counts)  # ACI beyond the pool: the max
    own = pool[np.maximum(k - 1, 0), np.arange(horizon)]
    enough = counts >= max(min_scores(level), 1)
    if enough.all():
        return own
    if pooled is None:
        pooled = pooled_from_sorted(pool)
    return np.where(enough, own, borrowed_quantiles(pooled, alpha))


def borrowed_quantiles(pooled: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """What each step with too few scores serves: the conformal quantile at ``alpha``
    (horizon,) of the ``pooled`` scores / sqrt(step) (sorted), times sqrt(step); inf
    when there are none."""
    horizon = len(alpha)
    steps = np.sqrt(np.arange(1, horizon + 1, dtype=float))
    n = len(pooled)
    if not n:
        return np.full(horizon, np.inf)
    kp = np.minimum(conformal_rank(n, alpha), n)  # too few pooled: the largest
    return pooled[np.maximum(kp - 1, 0)] * steps


def roll_sorted(
    pool: np.ndarray, counts: np.ndarray, step: int, added: float, removed: float
) -> None:
    """In place: step ``step``'s sorted column (NaN last, one spare row) gains ``added``
    and loses ``removed`` (NaN: nothing leaves); ``counts`` follows."""
    col = pool[:, step]
    c = int(counts[step])
    p = int(np.searchsorted(col[:c], added, side="right"))
    col[p + 1 : c + 1] = col[p:c].copy()
    col[p] = added
    c += 1
    if removed == removed:
        q = int(np.searchsorted(col[:c], removed, side="left"))
        col[q : c - 1] = col[q + 1 : c].copy()
        col[c - 1] = np.nan
        c -= 1
    counts[step] = c


def carry_sorted(old: np.ndarray, new: np.ndarray, steps: np.ndarray, scores: np.ndarray) -> None:
    """Cache ``new``'s sorted view, derived from ``old``'s cached one when ``new`` is
    ``old`` with ``scores`` added at ``steps`` and each step's oldest gone past its
    capacity (``conformal.grown_pool``): a live pool rolls at every re-forecast, and
    re-sorting a long pool each time (with the pooled scores of every step) cost more
    than sorting the columns that changed. A column without a new score keeps ``old``'s
    sorted column; one with new scores holds the same values as ``new``'s column, so it
    is that column sorted (NaN last) -- bit for bit what inserting each new score and
    removing each leaving one gave (``tests/models/test_carry_sorted.py``), without a
    Python loop over the steps (~6 ms at 288 steps). Nothing is cached when ``old``'s
    view is not (the next draw sorts ``new``)."""
    found = _SORTED_POOLS.get(id(old))
    if found is None or found[0]() is not old or not isinstance(new, np.ndarray):
        return
    if len(_SORTED_POOLS) >= MAX_SORTED_POOLS:
        return
    spool, counts, _ = found[1]
    length, horizon = new.shape
    steps = np.asarray(steps, dtype=np.int64)
    scores = np.asarray(scores, dtype=float)
    ok = np.isfinite(scores) & (steps >= 0) & (steps < horizon)
    touched = np.flatnonzero(np.bincount(steps[ok], minlength=horizon))
    pool = np.full((length, horizon), np.nan)
    kept = min(len(spool), length)
    pool[:kept] = spool[:kept]
    now = counts.astype(np.int64).copy()
    if len(touched):
        column = new[:, touched] if len(touched) < horizon else new
        pool[:, touched] = np.sort(column, axis=0)  # NaN sort last
        now[touched] = np.sum(~np.isnan(column), axis=0)
    out = (pool, now, None)
    for a in out[:2]:
        a.flags.writeable = False
    key = id(new)
    _SORTED_POOLS[key] = (weakref.ref(new, partial(_forget_pool, key)), out)  # type: ignore[assignment]
