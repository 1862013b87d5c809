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
    horizon = pool.shape[1]
    alpha = np.broadcast_to(np.asarray(alpha, dtype=float), (horizon,))
    k = np.minimum(conformal_rank(counts, alpha), counts)  # ACI beyond the pool: the max
    own = pool[np.maximum(k - 1, 0), np.arange(horizon)]
    enough = counts >= max(min_scores(level), 1)
    if enough.all():
        return own
    steps = np.sqrt(np.arange(1, horizon + 1, dtype=float))
    n = len(pooled)
    if not n:
        borrowed = np.full(horizon, np.inf)
    else:
        kp = np.minimum(conformal_rank(n, alpha), n)  # too few pooled: the largest
        borrowed = pooled[np.maximum(kp - 1, 0)] * steps
    return np.where(enough, own, borrowed)
