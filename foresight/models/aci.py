"""Adaptive conformal inference (Gibbs & Candès 2021) with a decaying step size.

After each outcome at a horizon step, that step's miss rate moves:
``alpha += gamma_t * (target - miss)``, kept in ``[-gamma_t, 1 + gamma_t]``. The step
size decays with the outcomes that step has had since its calibration,
``gamma_t = max(gamma, GAMMA0 / sqrt(t))`` (t = 1, 2, ...: the decaying schedule of
Angelopoulos, Barber & Bates 2024, floored at the fixed ``gamma`` that
``bench/bench_coverage.py`` chose for the long run). With a fixed 0.01 a step needed
about 25 misses in a row to move its 80 % band from the nominal level to the pool's
largest score: on the 5-minute tier, minutes of bad bands after every start and every
new choice. At 0.1 / sqrt(t) the first few outcomes move it 8 points each, the step is
back at 0.01 after 100 outcomes, and long-run coverage holds as with ACI's fixed step.
Feedback is delayed honestly: the step-``h`` miss of origin ``t`` is known at ``t + h``.

That delay caps the step: ``gamma_t <= DELAY_GAIN / h`` at horizon step ``h`` (1-based).
The effect of a move of a step's level is only seen ``h`` outcomes later, so near
calibration the level follows ``alpha_{t+1} = alpha_t - gamma (alpha_{t-h} - target)``,
which settles without oscillating only while ``gamma * h <= 1/e``. At 24 h (288 5-minute
steps) ACI's 0.01 gave ``gamma * h`` up to 2.9 (bench/README.md). Steps up to 36 keep
the fixed 0.01; only the first outcomes' larger steps are capped there.

The pool rolls (``capacity``): as an origin's step-``h`` target is observed, its score
joins step ``h``'s pool and, once the step holds ``capacity`` scores, its oldest leaves,
so a pool calibrated wider (or narrower) than the served model's errors now follows
them. The live monitor does the same (``ConformalState.observe``, ``grown_pool``).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from foresight.models.conformal_pool import (
    quantiles_of_sorted,
    roll_sorted,
    sorted_pool,
    step_quantiles,
)

LEVELS: tuple[int, ...] = (80, 95)
DEFAULT_GAMMA = 0.01  # see bench/README.md: a larger fixed step did worse at 24 h
GAMMA0 = 0.1  # the first outcome's step; decays as 1 / sqrt(outcomes) down to ``gamma``
# gamma_t * h <= 1/e at horizon step h (1-based): the delayed loop does not oscillate.
DELAY_GAIN = float(np.exp(-1.0))


def step_size(gamma: float, seen: np.ndarray | float, step: np.ndarray | float = 1) -> np.ndarray:
    """ACI's step after ``seen`` outcomes (>= 1) at horizon step ``step`` (1-based, its
    feedback delay): ``min(max(gamma, GAMMA0 / sqrt(seen)), DELAY_GAIN / step)``;
    ``gamma`` 0 is plain split conformal (never moves)."""
    seen = np.maximum(np.asarray(seen, dtype=float), 1.0)
    if gamma <= 0:
        return np.zeros_like(seen)
    delay = np.maximum(np.asarray(step, dtype=float), 1.0)
    return np.minimum(np.maximum(gamma, GAMMA0 / np.sqrt(seen)), DELAY_GAIN / delay)


def aci_step(
    alpha: np.ndarray, miss: np.ndarray | float, level: int, gamma: np.ndarray | float
) -> np.ndarray:
    """One ACI update: ``alpha + gamma * (target - miss)``, kept in ``[-gamma, 1 + gamma]``.

    ``miss`` (1.0 = the actual fell outside the band; a mean of such) and ``gamma`` (the
    step, ``step_size``) broadcast on ``alpha``.
    """
    target = 1.0 - level / 100.0
    g = np.asarray(gamma, dtype=float)
    return np.clip(alpha + g * (target - miss), -g, 1.0 + g)


def half_widths_at(pool: np.ndarray, alpha: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Half-width per level and step (units of the scale) at the miss rates ``alpha``."""
    return {level: step_quantiles(pool, alpha[level], level) for level in LEVELS}


def run_aci(
    pool: np.ndarray,
    scores: np.ndarray,
    origins: np.ndarray,
    *,
    gamma: float = DEFAULT_GAMMA,
    alpha: dict[int, np.ndarray] | None = None,
    seen: np.ndarray | None = None,
    capacity: int | None = None,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Walk the origins in time order with ACI; return (half-widths per level, final alpha).

    ``scores`` (n, horizon) are the outcomes at ``origins`` (NaN = not observed); the
    miss of origin ``t`` at step ``h`` updates alpha only from origin ``t + h`` on.
    ``seen``: outcomes per step before the walk (None: none, a fresh calibration), for
    the step size. ``capacity``: the pool rolls, each outcome's score joining its step
    once known (after that origin's ACI step), the step's oldest leaving past
    ``capacity`` scores (None: the pool stays as given). Half-widths are in units of the
    scale (``ConformalState.scale``).
    """
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
