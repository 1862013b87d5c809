"""Adaptive conformal intervals (Gibbs & Candès, 2021) around any point forecast.

Pure numpy: the monitor serves bands without loading scikit-learn.

Split conformal per horizon step, moved online by adaptive conformal inference (ACI).
A *score* is an absolute out-of-sample forecast error of the served model (from its
validation origins) in units of a scale: with ``spread_window`` 0 (what is served, see
``BANDS``) the scale is one constant per fit, the series' typical step-to-step spread,
so scores are plain absolute residuals; with ``spread_window`` > 0 it is the local
spread at the origin (mean absolute change over that many values) plus the typical one.
For each horizon step the band half-width is the finite-sample conformal quantile of the
pool (the ``ceil((n + 1)(1 - alpha))``-th smallest of its ``n`` scores) times the scale;
a step with too few scores for that rank borrows the pooled scores of every step,
scaled by sqrt(step) (``conformal_pool``). The pool keeps at least ``MIN_POOL`` origins,
and rolls: each observed outcome's score joins its step, the oldest leaving past
``ConformalState.capacity()`` (a pool calibrated wider than the served model's errors
narrows; bench/README.md, cov2).
ACI moves the level online: after each outcome, ``alpha += gamma_t * (target_alpha -
miss)``, so a run of misses widens the band and a run of hits narrows it, and long-run
coverage holds under drift; ``gamma_t`` decays from 0.1 to ``gamma`` with the outcomes
seen since the calibration, capped at (1/e) / h at horizon step h by the feedback delay
(``aci``), so a fresh calibration reaches its target within minutes and the far steps'
delayed loop does not oscillate. Feedback is delayed honestly: the step-``h`` miss of
origin ``t`` is only known at origin ``t + h``.

``BANDS`` (gamma, the warm start, how much of the validation pool is kept, the scale)
was chosen by ``bench/bench_coverage.py`` on the shared traces' validation origins and
reported on their test origins (bench/README.md). One level per horizon step, as
Gibbs & Candès wrote it. The same update runs in the backtest (``run_aci``) and in the
live monitor (``ConformalState.observe``, as each forecast step's actual arrives), so
what is measured is what is served. ``alpha`` is kept in ``[-gamma_t, 1 + gamma_t]``:
Gibbs & Candès show ACI stays there when the band at ``alpha <= 0`` is unbounded; ours
is the largest score, so without the bound a long run of misses would leave the band
at that width long after the errors calm down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from foresight.models.aci import DEFAULT_GAMMA, LEVELS, aci_step, half_widths_at, run_aci, step_size
from foresight.models.conformal_pool import (
    _SORTED_POOLS,
    MAX_SORTED_POOLS,
    carry_sorted,
    min_scores,
)
from foresight.models.features import forward_fill

logger = logging.getLogger(__name__)

__all__ = [
    "BANDS",
    "DEFAULT_GAMMA",
    "LEVELS",
    "LIVE_POOL_ROWS",
    "MAX_SORTED_POOLS",
    "MIN_POOL",
    "SPREAD_WINDOW",
    "_SORTED_POOLS",
    "BandSettings",
    "ConformalState",
    "aci_step",
    "band_scale",
    "bands_from",
    "calibrate",
    "conformal_scores",
    "grown_pool",
    "min_scores",
    "run_aci",
    "spread_at",
    "step_size",
    "typical_spread",
]

SPREAD_WINDOW = 24
# The fewest validation origins a pool keeps, whatever ``pool_fraction`` says: a pool of
# the most recent half of 4 early origins was 2 rows of nearly the same error.
MIN_POOL = 40
# The pool rolls with the served model's outcomes (backtest and live alike): each observed
# score joins its step, and a step's oldest leaves once it holds ``capacity()`` scores,
# the calibrated pool's length but at least this (an hour of the 5-minute tier's 10-s
# steps: a short first pool grows to it).
LIVE_POOL_ROWS = 360


@dataclass(frozen=True, slots=True)
class BandSettings:
    """How the bands are calibrated: the parameters ``bench/bench_coverage.py`` chooses.

    ``gamma``: ACI's step (0: plain split conformal, the level never moves).
    ``warm``: start ACI's levels from a walk over the last 40 % of the validation scores
    (False: start at the nominal level). ``pool_fraction``: the most recent share of the
    validation origins whose scores make the pool (1.0: all). ``spread_window``: steps
    of the local spread that scores are divided by (0: no local scaling, every score in
    units of the series' typical spread).
    """

    gamma: float = DEFAULT_GAMMA
    warm: bool = True
    pool_fraction: float = 1.0
    spread_window: int = SPREAD_WINDOW

    def __post_init__(self) -> None:
        if not 0.0 <= self.gamma <= 0.5:
            raise ValueError(f"gamma must be in [0, 0.5] (got {self.gamma})")
        if not 0.0 < self.pool_fraction <= 1.0:
            raise ValueError(f"pool_fraction must be in (0, 1] (got {self.pool_fraction})")
        if self.spread_window < 0:
            raise ValueError(f"spread_window must be >= 0 (got {self.spread_window})")

    def label(self) -> str:
        return (
            f"g{self.gamma:g}/{'warm' if self.warm else 'cold'}/pool{self.pool_fraction:g}"
            f"/spread{self.spread_window}"
        )

    def to_dict(self) -> dict:
        return {
            "gamma": self.gamma,
            "warm": self.warm,
            "pool_fraction": self.pool_fraction,
            "spread_window": self.spread_window,
        }


# The served calibration (backtest and live alike), chosen by bench/bench_coverage.py on
# the shared traces' validation origins: ACI at gamma 0.01 from the nominal level, the
# most recent half of the validation residuals, no local spread scaling.
BANDS = BandSettings(gamma=0.01, warm=False, pool_fraction=0.5, spread_window=0)


def spread_at(values: np.ndarray, origins: np.ndarray, window: int = SPREAD_WINDOW) -> np.ndarray:
    """Mean absolute change over the ``window`` steps ending at each origin (gap-filled)."""
    v = forward_fill(np.asarray(values, dtype=float), np.nan)
    diffs = np.abs(np.diff(v, prepend=v[:1]))
    diffs = np.nan_to_num(diffs, nan=0.0)
    c = np.concatenate(([0.0], np.cumsum(diffs)))
    origins = np.asarray(origins, dtype=np.int64)
    lo = np.maximum(origins - window + 1, 0)
    return (c[origins + 1] - c[lo]) / np.maximum(origins + 1 - lo, 1)


@dataclass(frozen=True, slots=True)
class ConformalState:
    """A score pool per step and the ACI levels: everything needed to draw bands.

    ``pool`` (n, horizon) holds out-of-sample scores (NaN = none); ``alpha[level]`` is
    the current miss rate aimed for at each step; ``offset`` is the typical spread.
    """

    pool: np.ndarray
    alpha: dict[int, np.ndarray]
    offset: float
    gamma: float = DEFAULT_GAMMA
    coverage: dict[int, float] = field(default_factory=dict)  # of the ACI walk, 0-1
    # Live outcomes since this calibration: {level: (actuals scored, inside the band)}.
    online: dict[int, tuple[int, int]] = field(default_factory=dict)
    spread_window: int = SPREAD_WINDOW  # 0: scores in units of ``offset`` alone
    # Live outcomes per horizon step since this calibration: ACI's step size decays with
    # them (``aci.step_size``). None (a state saved without them): the live outcomes
    # spread evenly over the steps.
    seen: np.ndarray | None = None

    def seen_per_step(self) -> np.ndarray:
        """Outcomes per horizon step since this calibration (for ACI's step size)."""
        if self.seen is not None:
            return np.asarray(self.seen, dtype=float)
        horizon = self.pool.shape[1]
        return np.full(horizon, self.online.get(80, (0, 0))[0] / max(horizon, 1))

    def capacity(self) -> int | None:
        """Scores a step's pool holds as it rolls: ``max(len(pool), LIVE_POOL_ROWS)`` (a
        grown pool keeps its length, so this does not change once reached); None where
        scores are in units of the local spread (``spread_window`` > 0), which a live
        error alone cannot be put in: such a pool stays as calibrated."""
        return max(len(self.pool), LIVE_POOL_ROWS) if self.spread_window == 0 else None

    def observe(
        self,
        steps: np.ndarray,
        misses: dict[int, np.ndarray],
        errors: np.ndarray | None = None,
    ) -> ConformalState:
        """Feed back live outcomes: one ACI step per (forecast step, level), as ``run_aci``.

        ``steps`` are 0-based horizon steps whose actual has just arrived (a step may
        repeat when several forecasts reach it at once: applied in order); ``misses[level]``
        says, per entry, whether the actual fell outside that level's band (1.0) or not.
        ``errors`` (|actual - forecast| per entry, the series' unit): they join the pool at
        their steps after the ACI step, each step's oldest leaving past ``capacity()``
        scores (``grown_pool``), as ``run_aci`` rolls it in the backtest.
        """
        steps = np.asarray(steps, dtype=np.int64)
        if not len(steps):
            return self
        seen = self.seen_per_step().copy()
        sizes = np.empty(len(steps))
        for i, h in enumerate(steps.tolist()):  # the step each outcome is taken with
            seen[h] += 1
            sizes[i] = seen[h]
        sizes = step_size(self.gamma, sizes, steps + 1)
        alpha = {}
        online = dict(self.online)
        for level in LEVELS:
            miss = np.asarray(misses[level], dtype=float)
            # ``aci_step`` one outcome at a time in Python floats: the same IEEE operations
            # in the same order as numpy's (bit for bit, tests/models/test_conformal_
            # observe.py), without a numpy call per outcome (a re-forecast feeds back
            # dozens per metric: that was most of the live model job's own CPU).
            a = np.asarray(self.alpha[level], dtype=float).tolist()
            target = 1.0 - level / 100.0
            for h, m, g in zip(steps.tolist(), miss.tolist(), sizes.tolist(), strict=True):
                x = a[h] + g * (target - m)
                if x == x:  # np.clip keeps a NaN; else it is max then min, as here
                    x = min(max(x, -g), 1.0 + g)
                a[h] = x
            alpha[level] = np.array(a)
            n, inside = online.get(level, (0, 0))
            online[level] = (n + len(miss), inside + int(len(miss) - miss.sum()))
        pool = self.pool
        capacity = self.capacity()
        if errors is not None and capacity is not None:
            scores = np.asarray(errors, dtype=float) / self.offset
            pool = grown_pool(pool, steps, scores, capacity)
            carry_sorted(self.pool, pool, steps, scores)  # no re-sort of a long pool
        return replace(self, pool=pool, alpha=alpha, online=online, seen=seen)

    def online_coverage(self, level: int) -> float | None:
        """Share (0-1) of live actuals inside the ``level`` band, None before any."""
        n, inside = self.online.get(level, (0, 0))
        return inside / n if n else None

    def scale(self, values: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Band scale at each origin (the series' unit)."""
        return band_scale(values, origins, self.offset, self.spread_window)

    def scores(self, values: np.ndarray, origins: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """Scores of forecasts ``mean`` from ``origins`` on this state's scale."""
        return conformal_scores(values, origins, mean, self.offset, self.spread_window)

    def half_widths(self) -> dict[int, np.ndarray]:
        """Half-width per level and step, in units of ``scale``, at the current alpha."""
        return half_widths_at(self.pool, self.alpha)

    def to_dict(self) -> dict:
        return {
            "pool": [[None if x != x else float(x) for x in row] for row in self.pool.tolist()],
            "alpha": {str(k): v.tolist() for k, v in self.alpha.items()},
            "offset": self.offset,
            "gamma": self.gamma,
            "coverage": {str(k): v for k, v in self.coverage.items()},
            "online": {str(k): list(v) for k, v in self.online.items()},
            "spread_window": self.spread_window,
            "seen": None if self.seen is None else np.asarray(self.seen).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ConformalState:
        pool = np.array(data["pool"], dtype=float)
        if pool.ndim != 2:
            raise ValueError(f"conformal pool must be 2-D (got shape {pool.shape})")
        return cls(
            pool=pool,
            alpha={int(k): np.asarray(v, dtype=float) for k, v in data["alpha"].items()},
            offset=float(data["offset"]),
            gamma=float(data["gamma"]),
            coverage={int(k): float(v) for k, v in data.get("coverage", {}).items()},
            online={int(k): (int(v[0]), int(v[1])) for k, v in data.get("online", {}).items()},
            spread_window=int(data.get("spread_window", SPREAD_WINDOW)),
            seen=None if data.get("seen") is None else np.asarray(data["seen"], dtype=float),
        )


def grown_pool(
    pool: np.ndarray, steps: np.ndarray, scores: np.ndarray, capacity: int = LIVE_POOL_ROWS
) -> np.ndarray:
    """``pool`` with ``scores`` added at their 0-based ``steps`` (the newest at the bottom of
    each column, NaN above), at most ``capacity`` per step (the oldest leave); never
    fewer rows than ``pool`` had.

    Each step's band is a quantile of its own column, so columns need not line up by
    origin. Without this a pool made from the first minutes' few errors capped the band
    (ACI's widest is the pool's largest score) however large the errors grew.
    """
    pool = np.asarray(pool, dtype=float)
    horizon = pool.shape[1]
    steps = np.asarray(steps, dtype=np.int64)
    scores = np.asarray(scores, dtype=float)
    ok = np.isfinite(scores) & (steps >= 0) & (steps < horizon)
    steps, scores = steps[ok], scores[ok]
    gap = np.isnan(pool)
    if not np.any(~gap[:-1] & gap[1:]):  # each column's values already at its bottom
        return _grown_compact(pool, gap, steps, scores, capacity)
    # The new scores as a block under the pool, each column's in arrival order at its
    # bottom (row = its rank among its step's scores, offset so the last is the block's
    # last row), NaN above; then every column compacted at once, its values kept in
    # order and moved down past the NaNs (a stable sort on "is a value"): the old
    # per-column loop's concatenate-and-pad, in a few whole-array steps.
    order = np.argsort(steps, kind="stable")
    per_step = np.bincount(steps, minlength=horizon)
    first_of_step = np.concatenate([[0], np.cumsum(per_step)[:-1]])
    block_rows = int(per_step.max()) if len(steps) else 0
    block = np.full((block_rows, horizon), np.nan)
    sorted_steps = steps[order]
    rank = np.arange(len(steps)) - first_of_step[sorted_steps]
    block[block_rows - per_step[sorted_steps] + rank, sorted_steps] = scores[order]
    stacked = np.vstack([pool, block])
    compact = np.take_along_axis(
        stacked, np.argsort(~np.isnan(stacked), axis=0, kind="stable"), axis=0
    )
    counts = np.sum(~np.isnan(stacked), axis=0)
    rows = min(max(int(counts.max()) if horizon else 0, len(pool)), max(capacity, len(pool)))
    return compact[len(compact) - rows :].copy()


def _grown_compact(
    pool: np.ndarray, gap: np.ndarray, steps: np.ndarray, scores: np.ndarray, capacity: int
) -> np.ndarray:
    """``grown_pool`` of a pool whose columns are each NaN above, values below (every
    grown pool is): a column without new scores keeps its values at the bottom, one with
    ``k`` moves them up by ``k`` and its new scores fill its bottom. The stable sort that
    compacts a pool with gaps inside cost 1.6 ms at 360 x 288 steps."""
    length, horizon = pool.shape
    per_step = np.bincount(steps, minlength=horizon)
    counts = length - gap.sum(axis=0) + per_step
    rows = min(max(int(counts.max()) if horizon else 0, length), max(capacity, length))
    out = np.full((rows, horizon), np.nan)
    out[rows - length :] = pool
    moved = np.flatnonzero(per_step)
    if len(moved):
        for k in np.unique(per_step[moved]).tolist():  # columns that gained k, row slices
            cols = moved[per_step[moved] == k]
            where: slice | np.ndarray = slice(None) if len(cols) == horizon else cols
            first = max(k - (rows - length), 0)  # the oldest row that stays
            top = first + rows - length - k  # where it lands
            out[:top, where] = np.nan
            if first < length:
                out[top : rows - k, where] = pool[first:, where]
        order = np.argsort(steps, kind="stable")
        step = steps[order]
        first = np.concatenate([[0], np.cumsum(per_step)[:-1]])
        at = rows - per_step[step] + np.arange(len(step)) - first[step]  # newest at the bottom
        fits = at >= 0
        out[at[fits], step[fits]] = scores[order][fits]
    return out


def band_scale(
    values: np.ndarray, origins: np.ndarray, offset: float, window: int = SPREAD_WINDOW
) -> np.ndarray:
    """The scale scores are in at each origin: local spread + ``offset`` (window 0: offset)."""
    if window == 0:
        return np.full(len(np.asarray(origins)), float(offset))
    return spread_at(values, origins, window) + offset


def conformal_scores(
    values: np.ndarray,
    origins: np.ndarray,
    mean: np.ndarray,
    offset: float,
    window: int = SPREAD_WINDOW,
) -> np.ndarray:
    """|actual - forecast| / scale per (origin, step); NaN where the actual is missing."""
    raw = np.asarray(values, dtype=float)
    origins = np.asarray(origins, dtype=np.int64)
    horizon = mean.shape[1]
    idx = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    inside = idx < len(raw)
    actual = np.where(inside, raw[np.minimum(idx, len(raw) - 1)], np.nan)
    scale = band_scale(raw, origins, offset, window)
    return np.abs(actual - mean) / scale[:, None]


def typical_spread(values: np.ndarray) -> float:
    """The median spread of a series (the band's floor), never zero."""
    raw = np.asarray(values, dtype=float)
    spreads = spread_at(raw, np.arange(len(raw)))
    spreads = spreads[np.isfinite(spreads)]
    value = float(np.median(spreads)) if len(spreads) else 0.0
    if value > 0:
        return value
    observed = raw[~np.isnan(raw)]
    scale = float(np.std(observed)) if len(observed) else 0.0
    return max(scale * 0.1, 1e-9)


def calibrate(
    scores: np.ndarray,
    origins: np.ndarray,
    offset: float,
    gamma: float | None = None,
    *,
    settings: BandSettings = BANDS,
) -> ConformalState:
    """Build the serving state from validation scores: pool them, warm alpha with ACI.

    ``scores`` must be on ``settings.spread_window``'s scale (``conformal_scores``);
    ``gamma`` overrides ``settings.gamma``. The pool is the most recent
    ``settings.pool_fraction`` of the origins, and at least ``MIN_POOL`` of them. ACI
    walks the last 40 % of the origins against that pool; ``coverage`` is the 80 % and
    95 % bands' hit rate on that walk (empty when there are too few origins). With
    ``settings.warm`` the served levels start where the walk ended (correcting the pool
    towards the most recent errors); without, at the nominal level.
    """
    step = settings.gamma if gamma is None else float(gamma)
    n = len(scores)
    keep = min(n, max(MIN_POOL, round(n * settings.pool_fraction)))
    pool = scores[n - keep :]
    split = int(n * 0.6)
    alpha = None
    coverage: dict[int, float] = {}
    if split >= 10 and n - split >= 10:
        walk = scores[split:]
        widths, walked = run_aci(pool, walk, origins[split:], gamma=step)
        seen = ~np.isnan(walk)
        if seen.any():
            coverage = {lv: float(np.mean(walk[seen] <= widths[lv][seen])) for lv in LEVELS}
        if settings.warm:
            alpha = walked
    if alpha is None:
        alpha = {level: np.full(scores.shape[1], 1.0 - level / 100.0) for level in LEVELS}
    return ConformalState(
        pool=pool,
        alpha=alpha,
        offset=offset,
        gamma=step,
        coverage=coverage,
        spread_window=settings.spread_window,
    )


def bands_from(
    mean: np.ndarray,
    half_widths: dict[int, np.ndarray],
    scale: np.ndarray,
    lower: float | None = None,
    upper: float | None = None,
) -> dict[str, np.ndarray]:
    """Point forecast and symmetric bands (n, horizon), clipped to [lower, upper].

    ``half_widths[level]`` is (n, horizon) or (horizon,) in units of ``scale`` (n,).
    Clipping the point and both edges alike keeps the point inside its bands.
    """
    lo = -np.inf if lower is None else lower
    hi = np.inf if upper is None else upper
    out = {"mean": np.clip(mean, lo, hi)}
    for level, width in half_widths.items():
        half = np.asarray(width) * np.asarray(scale)[:, None]
        out[f"lower_{level}"] = np.clip(mean - half, lo, hi)
        out[f"upper_{level}"] = np.clip(mean + half, lo, hi)
    return out
