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
"""

from __future__ import annotations

import numpy as np

from foresight.models.conformal_pool import sorted_pool, step_quantiles

LEVELS: tuple[int, ...] = (80, 95)
DEFAULT_GAMMA = 0.01  # see bench/README.md: a larger fixed step did worse at 24 h
GAMMA0 = 0.1  # the first outcome's step; decays as 1 / sqrt(outcomes) down to ``gamma``


def step_size(gamma: float, seen: np.ndarray | float) -> np.ndarray:
    """ACI's step after ``seen`` outcomes (>= 1) at a horizon step: ``max(gamma, GAMMA0 /
    sqrt(seen))``; ``gamma`` 0 is plain split conformal (never moves)."""
    seen = np.maximum(np.asarray(seen, dtype=float), 1.0)
    if gamma <= 0:
        return np.zeros_like(seen)
    return np.maximum(gamma, GAMMA0 / np.sqrt(seen))


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
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Walk the origins in time order with ACI; return (half-widths per level, final alpha).

    ``scores`` (n, horizon) are the outcomes at ``origins`` (NaN = not observed); the
    miss of origin ``t`` at step ``h`` updates alpha only from origin ``t + h`` on.
    ``seen``: outcomes per step before the walk (None: none, a fresh calibration), for
    the step size. Half-widths are in units of the scale (``ConformalState.scale``).
    """
    origins = np.asarray(origins, dtype=np.int64)
    n, horizon = scores.shape
    sorted_pool(pool)  # sort once for the whole walk
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
            g = step_size(gamma, count[h])
            for level in LEVELS:
                miss = (s > widths[level][r, h]).astype(float)
                current[level][h] = aci_step(current[level][h], miss, level, g)
        for level in LEVELS:
            widths[level][i] = step_quantiles(pool, current[level], level)
    return widths, current
