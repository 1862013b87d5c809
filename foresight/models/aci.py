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

import numpy as np

from foresight.models.conformal_pool import (
    borrowed_quantiles,
    conformal_rank,
    min_scores,
    pooled_from_sorted,
    sorted_pool,
    step_quantiles,
)
from foresight.models.window_ranks import WindowRanks

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

    ``scores`` (n, horizon) are the outcomes at ``origins`` (increasing; NaN = not
    observed); the miss of origin ``t`` at step ``h`` updates alpha only from origin
    ``t + h`` on. ``seen``: outcomes per step before the walk (None: none, a fresh
    calibration), for the step size. ``capacity``: the pool rolls, each outcome's score
    joining its step once known (after that origin's ACI step), the step's oldest leaving
    past ``capacity`` scores (None: the pool stays as given). Half-widths are in units of
    the scale (``ConformalState.scale``).

    One origin at a time (a step's level depends on its earlier misses), every step at
    once: which outcome arrives when, its step size and how each pool rolls do not depend
    on the levels, so they are worked out before the walk (``window_ranks``). Equal bit
    for bit to the walk that went one (origin, step) at a time
    (tests/models/test_aci_walk.py).
    """
    origins = np.asarray(origins, dtype=np.int64)
    scores = np.asarray(scores, dtype=float)
    n, horizon = scores.shape
    if n > 1 and np.any(np.diff(origins) <= 0):
        raise ValueError(f"origins must increase (got {origins[:8].tolist()}...)")
    # both levels at once: row j of each array is LEVELS[j]
    alphas = np.empty((len(LEVELS), horizon))
    for j, level in enumerate(LEVELS):
        alphas[j] = 1.0 - level / 100.0 if alpha is None else np.asarray(alpha[level], dtype=float)
    widths = np.empty((len(LEVELS), n, horizon))
    if n and horizon:
        walk = _Outcomes(scores, origins, gamma, seen)
        bands = _Bands(pool, walk, capacity)
        for i in range(n):
            bands.start(i)
            a, b = walk.bounds[i], walk.bounds[i + 1]
            if b > a:  # outcomes known at this origin: ACI steps, then they join the pool
                r, h, s = walk.row[a:b], walk.step[a:b], walk.score[a:b]
                g = walk.size[a:b].copy()
                for j, level in enumerate(LEVELS):
                    # a level at a time, on fresh 1-D arrays, as the walk always did: np.clip
                    # broadcast over both levels resolved a zero's sign the other way
                    miss = (s > widths[j, r, h]).astype(float)
                    alphas[j, h] = aci_step(alphas[j, h], miss, level, g)
                bands.roll(i, a, b)
            widths[:, i] = bands.widths(alphas)
    return (
        {level: widths[j] for j, level in enumerate(LEVELS)},
        {level: alphas[j].copy() for j, level in enumerate(LEVELS)},
    )


class _Outcomes:
    """The outcomes a walk feeds back, ordered by the origin they become known at (then
    by step): each one's row, 0-based step, score and ACI step size."""

    def __init__(
        self, scores: np.ndarray, origins: np.ndarray, gamma: float, seen: np.ndarray | None
    ) -> None:
        n, horizon = scores.shape
        steps = np.arange(1, horizon + 1)
        row_of = np.full(int(origins.max()) + 1, -1, dtype=np.int64)
        row_of[origins] = np.arange(n)
        back = origins[:, None] - steps[None, :]  # origins whose step-h outcome is known now
        rows = np.where(back >= 0, row_of[np.maximum(back, 0)], -1)
        at, step = np.nonzero(rows >= 0)
        row = rows[at, step]
        score = scores[row, step]
        known = ~np.isnan(score)
        self.at, self.step, self.row, self.score = at[known], step[known], row[known], score[known]
        self.bounds = np.searchsorted(self.at, np.arange(n + 1))
        # Outcomes per step so far, added one at a time as the walk did (a cumulative sum
        # runs in order: the same float additions, whatever ``seen`` holds).
        arrived = np.zeros((n + 1, horizon))
        arrived[0] = 0.0 if seen is None else np.asarray(seen, dtype=float)
        arrived[self.at + 1, self.step] = 1.0
        count = np.cumsum(arrived, axis=0)[self.at + 1, self.step]
        self.size = step_size(gamma, count, self.step + 1)
        # How many outcomes each step had before this one (its place in the step's stream).
        order = np.argsort(self.step, kind="stable")
        per_step = np.bincount(self.step, minlength=horizon)
        first = np.concatenate([[0], np.cumsum(per_step)[:-1]])
        self.before = np.empty(len(order), dtype=np.int64)
        self.before[order] = np.arange(len(order)) - first[self.step[order]]
        self.per_step = per_step


class _Bands:
    """Each step's pool through the walk (fixed, or rolling at ``capacity``) and the
    half-widths it gives at the walk's levels (``conformal_pool.quantiles_of_sorted``)."""

    def __init__(self, pool: np.ndarray, walk: _Outcomes, capacity: int | None) -> None:
        spool, counts, pooled = sorted_pool(pool)
        self.horizon = spool.shape[1]
        self.counts = counts.astype(np.int64).copy()
        self.pooled: np.ndarray | None = pooled
        self.spool = spool
        self._steps = np.arange(self.horizon)
        # the fewest scores a step's own quantile needs, per level (fewer: it borrows)
        self.floor = np.array([[max(min_scores(level), 1)] for level in LEVELS])
        self.enough: np.ndarray | None = None  # counts >= floor, until the pool rolls
        self.window: WindowRanks | None = None
        self.next_chunk = -1  # the origin the window's ranks are next rebuilt at
        if capacity is None:
            return
        raw = np.asarray(pool, dtype=float)
        initial = self.counts.copy()
        length = max(int((initial + walk.per_step).max()), 1)
        streams = np.full((self.horizon, length), np.nan)
        # each column's values in row order (the walk's first queue), then its outcomes
        compact = np.take_along_axis(raw, np.argsort(np.isnan(raw), axis=0, kind="stable"), 0)
        keep = min(len(compact), length)
        streams[:, :keep] = compact[:keep].T
        index = initial[walk.step] + walk.before  # each outcome's place in its stream
        streams[walk.step, index] = walk.score
        # A step's queue grows by one per outcome up to ``capacity`` (never below where
        # it started); past it each outcome pushes its oldest out.
        cap = int(capacity)
        size_before = np.maximum(initial[walk.step], np.minimum(index, cap))
        self.size_after = np.maximum(initial[walk.step], np.minimum(index + 1, cap))
        oldest = index - size_before  # the stream index that leaves, if one does
        leaves = index + 1 - self.size_after > oldest
        self.leave_step, self.leave_index = walk.step[leaves], oldest[leaves]
        self.leave_bounds = np.searchsorted(np.flatnonzero(leaves), walk.bounds)
        self.index, self.streams, self.initial, self.capacity = index, streams, initial, cap
        self.entering = np.empty(len(index), dtype=np.int64)  # ranks, set chunk by chunk
        self.leaving = np.empty(len(oldest[leaves]), dtype=np.int64)
        # The ranks span only the values a chunk of origins can see (its first windows and
        # what arrives during it): ranked over the whole stream, a long walk's every query
        # counted through all its outcomes.
        self.chunk = max(cap, 256)
        self.next_chunk = 0
        self.walk = walk

    def start(self, i: int) -> None:
        """Before origin ``i``: rank the next chunk's values when ``i`` begins one."""
        if i != self.next_chunk:
            return
        walk, steps = self.walk, self._steps
        end = min(i + self.chunk, len(walk.bounds) - 1)
        self.next_chunk = end
        before = np.bincount(walk.step[: walk.bounds[i]], minlength=self.horizon)
        after = np.bincount(walk.step[: walk.bounds[end]], minlength=self.horizon)
        top = self.initial + before  # each window's end and start now
        low = top - np.maximum(self.initial, np.minimum(top, self.capacity))
        last = self.initial + after  # and its end after the chunk
        span = max(int((last - low).max()), 1)
        where = low[:, None] + np.arange(span)[None, :]
        inside = where < last[:, None]
        clipped = np.minimum(where, self.streams.shape[1] - 1)
        values = np.where(inside, self.streams[steps[:, None], clipped], np.nan)
        self.window = WindowRanks(values, top - low)
        a, b = walk.bounds[i], walk.bounds[end]
        step = walk.step[a:b]
        self.entering[a:b] = self.window.ranks_of(step, self.index[a:b] - low[step])
        c, d = self.leave_bounds[i], self.leave_bounds[end]
        step = self.leave_step[c:d]
        self.leaving[c:d] = self.window.ranks_of(step, self.leave_index[c:d] - low[step])

    def roll(self, i: int, a: int, b: int) -> None:
        """The outcomes ``a:b`` (known at origin ``i``) join their steps' pools."""
        if self.window is None:
            return
        step = self.walk.step[a:b]
        self.window.insert(step, self.entering[a:b])
        c, d = self.leave_bounds[i], self.leave_bounds[i + 1]
        if d > c:
            self.window.remove(self.leave_step[c:d], self.leaving[c:d])
        self.counts[step] = self.size_after[a:b]
        self.pooled = None
        if self.enough is not None and not self.enough.all():
            self.enough = None  # a rolling pool never shrinks: enough stays enough

    def widths(self, alphas: np.ndarray) -> np.ndarray:
        """Half-widths (levels, horizon) at the levels ``alphas`` (a row per ``LEVELS``)."""
        counts = self.counts
        at = np.maximum(np.minimum(conformal_rank(counts, alphas), counts) - 1, 0)
        if self.window is None:
            own = self.spool[at, self._steps]
        else:
            own = self.window.smallest(at)
        if self.enough is None:
            self.enough = counts >= self.floor
        if self.enough.all():
            return own
        for j, enough in enumerate(self.enough):
            if enough.all():
                continue
            if self.pooled is None:  # rolled (or a live pool's view carried unpooled)
                if self.window is None:
                    self.pooled = pooled_from_sorted(self.spool)
                else:
                    self.pooled = self.window.pooled(np.sqrt(self._steps + 1.0))
            own[j] = np.where(enough, own[j], borrowed_quantiles(self.pooled, alphas[j]))
        return own
