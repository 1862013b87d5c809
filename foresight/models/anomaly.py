"""Streaming anomaly scores for one metric: causal, O(window) per point, no I/O, no clock.

Three stages, each with a published record and few parameters:

1. **Raw score** in [0, 1): how badly the recent past explains the new value, on two
   time scales, both scale-free (divided by a slowly adapting mean absolute deviation):
     * *pattern*: the distance from the last ``lag_dims`` values to their nearest
       neighbour among the lag vectors of the last ``reference_size`` points (the
       k-NN nonconformity of KNN-CAD, Burnaev & Ishimtsev 2016, with k = 1), in units
       of the typical step-to-step change;
     * *level*: the distance of the value from a slow EWMA baseline, in units of three
       typical deviations from it (a value 3 deviations out counts as much as a
       pattern one typical step from anything seen).
   A change smaller than ``min_change`` (the metric's minimum meaningful change, from
   the catalog: 1 point for a percentage, 1 ms for a latency) counts as no change, so a
   0.1-point move of a near-constant percentage is never news.
2. **Anomaly likelihood** (``foresight.models.likelihood``): the tail probability of
   the mean of the last 10 raw scores under a Gaussian of the means over the last
   ``long_window`` points, on a log scale. This calibrates every metric against its
   own history: one threshold means the same rarity on a noisy and a quiet metric.
3. **One alert per episode**: a score is reported only when it beats the largest recent
   score, which halves every ``repeat_half_life`` points; so an incident scores at its
   start and not on every following point (NAB, and on-call humans, want the first).

The yes/no decision is ``score >= threshold``, kept separate from the score.

Optionally (``confirm_window`` > 0, what the live monitor uses) a second likelihood on a
slower time scale, the mean of the last ``confirm_window`` raw scores, is kept beside
the first as ``confirm_``. NAB's points are 5-minute aggregates, where one odd point is
already minutes of odd behaviour; a live 1-s sample is one second, which no one acts
on, so the monitor asks both scales (``foresight.live.episodes``). One odd sample moves
a mean of 60 raw scores by little, a change that lasts moves it a lot. The slow scale:
  * counts a pattern only once it has outlasted the ``lag_dims`` points one odd value
    stays in the lag vector (the least of the last ``lag_dims + 1`` pattern scores);
  * learns only from raw scores after the warm-up (as HTM's likelihood skips its
    learning period), so it scores from ``2 * warmup`` values on;
  * has the likelihood's empirical floor (bursty host metrics burst this much every
    so often).
All three are off the NAB path: the floor on the fast scale cost 0.8 points on the aws
report fold (bench/README.md).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from threadpoolctl import threadpool_limits

from foresight.models.likelihood import AnomalyLikelihood

logger = logging.getLogger(__name__)


class AnomalyDetector:
    """Score a stream of values in [0, 1]; ``score >= threshold`` is an anomaly.

    Parameters (stored unchanged; defaults chosen by the protocol in bench/README.md):
      threshold: decision threshold on the score; 0.5 is a tail probability of 1e-5.
      min_change: smallest change of the value that means anything, in its unit (0:
        any change counts).
      warmup: observed values scored 0 while the baselines and the likelihood settle.
      lag_dims: values in one lag vector (the pattern's length).
      reference_size: past lag vectors searched for the nearest neighbour.
      spread_points: memory, in points, of the baseline and the spreads (EWMA span).
      short_window, long_window: the likelihood's recent-mean and history windows.
      repeat_half_life: points over which the score needed to alert again halves.
      confirm_window: raw scores in the slow likelihood's mean (0: no slow scale;
        ``confirm_`` is then the fast likelihood's score).
    """

    def __init__(
        self,
        threshold: float = 0.5,
        *,
        min_change: float = 0.0,
        warmup: int = 300,
        lag_dims: int = 5,
        reference_size: int = 600,
        spread_points: int = 500,
        short_window: int = 10,
        long_window: int = 2000,
        repeat_half_life: float = 140.0,
        confirm_window: int = 0,
    ) -> None:
        self.threshold = threshold
        self.min_change = min_change
        self.warmup = warmup
        self.lag_dims = lag_dims
        self.reference_size = reference_size
        self.spread_points = spread_points
        self.short_window = short_window
        self.long_window = long_window
        self.repeat_half_life = repeat_half_life
        self.confirm_window = confirm_window
        self.reset()

    def reset(self) -> AnomalyDetector:
        """Forget everything learned (the next value starts a new warm-up)."""
        if self.lag_dims < 1 or self.reference_size < 1 or self.spread_points < 1:
            raise ValueError(
                f"lag_dims, reference_size and spread_points must be >= 1 (got "
                f"{self.lag_dims}, {self.reference_size}, {self.spread_points})"
            )
        if not (self.min_change >= 0 and self.repeat_half_life > 0 and self.warmup >= 2):
            raise ValueError(
                f"need min_change >= 0, repeat_half_life > 0 and warmup >= 2 (got "
                f"{self.min_change}, {self.repeat_half_life}, {self.warmup})"
            )
        if not 0 <= self.confirm_window <= self.long_window:
            raise ValueError(
                f"confirm_window must be in [0, long_window {self.long_window}] "
                f"(got {self.confirm_window})"
            )
        self.likelihood_ = AnomalyLikelihood(
            self.short_window, self.long_window, min_history=self.warmup
        )
        self.slow_likelihood_ = (
            AnomalyLikelihood(
                self.confirm_window,
                self.long_window,
                min_history=self.warmup,
                empirical_floor=True,
            )
            if self.confirm_window
            else None
        )
        d = self.lag_dims
        self.n_seen_ = 0
        self.level_ = 0.0  # slow EWMA baseline: the expected value
        self.level_spread_ = 0.0  # EWMA of |value - baseline|
        self.step_spread_ = 0.0  # EWMA of |value - previous value|
        self.memory_ = 0.0
        self.raw_ = 0.0  # the last raw score
        self.surprise_ = 0.0  # the last likelihood score, before repeats are suppressed
        self.confirm_ = 0.0  # the last slow-scale likelihood score
        self._patterns = [0.0] * (self.lag_dims + 1)  # the last pattern scores (slow scale)
        self.expected_ = math.nan  # the baseline the last value was compared with
        self.previous_ = 0.0
        # The newest run of observed values within min_change of each other (its length,
        # lowest, highest): over 2 * lag_dims points the lag vector ending lag_dims back
        # is within min_change of the new one, so no pattern counts and score_one skips
        # the neighbour search (most host series sit still most seconds).
        self._run = (0, math.inf, -math.inf)
        self.quiet_skips_ = 0  # score_one calls that needed no neighbour search
        self.surprises_ = np.zeros(0)  # score_many's likelihood scores, one per value
        self._alpha = 2.0 / (self.spread_points + 1.0)
        self._decay = 0.5 ** (1.0 / self.repeat_half_life)
        # The last reference_size + 2 * lag_dims observed values (what the nearest
        # neighbour search needs), each written twice (at i and i + size) so that the
        # latest of them are always one contiguous slice.
        self._history_size = self.reference_size + 2 * d
        self._history = np.zeros(2 * self._history_size)
        return self

    def is_anomaly(self, score: float) -> bool:
        """The decision: is this score at or above the threshold?"""
        return score >= self.threshold

    def _recent(self, count: int) -> np.ndarray:
        """The last ``count`` observed values, oldest first (a view)."""
        size = self._history_size
        end = (self.n_seen_ - 1) % size + size + 1
        return self._history[end - count : end]

    def score_one(self, value: float) -> float:
        """Score one value (NaN: a gap, scores 0 and changes nothing) and learn from it."""
        if value != value:
            return 0.0
        window = self._record(value)
        distance = (
            0.0
            if window is None
            else float(
                nearest_distances(window, len(window) - 1, self.lag_dims, self.reference_size)[0]
            )
        )
        return self._step(value, distance)

    def _record(self, value: float) -> np.ndarray | None:
        """Write a (non-NaN) value into the history; return the window whose newest lag
        vector needs a neighbour search (a view, newest value last), or None when the
        pattern distance is 0 without one. ``_step(value, distance)`` must follow
        (``score_one``, or ``anomaly_batch.score_each`` for many detectors at once)."""
        n = self.n_seen_
        size = self._history_size
        slot = n % size
        self._history[slot] = self._history[slot + size] = value
        first = 2 * self.lag_dims - 1  # the first point with a past lag vector to compare
        length, lo, hi = self._run
        if length + 1 >= 2 * self.lag_dims and max(hi, value) - min(lo, value) < self.min_change:
            # The last 2 * lag_dims values span less than min_change, so the vector ending
            # lag_dims back is nearer than min_change: the pattern counts 0 whatever the
            # nearest distance is (see _step), and the search would not change the score.
            self.quiet_skips_ += 1
            return None
        if n >= first:
            return self._history[slot + size + 1 - min(n + 1, size) : slot + size + 1]
        return None

    def score_many(self, values: np.ndarray) -> np.ndarray:
        """Score values in order (same as calling ``score_one`` on each); floats in [0, 1].

        Vectorised: the nearest-neighbour distances of all values are found in blocks
        (numpy), then the O(1) recursions run per point.
        """
        values = np.asarray(values, dtype=float).ravel()
        observed = ~np.isnan(values)
        new = values[observed]
        out = np.zeros(len(values))
        self.surprises_ = np.zeros(len(values))
        if len(new) == 0:
            return out
        n, size, d = self.n_seen_, self._history_size, self.lag_dims
        kept = min(n, size - 1)
        past = self._recent(kept) if kept else np.zeros(0)
        series = np.concatenate([past, new])
        # Global index of series[0] is n - kept; points before 2d - 1 have no reference.
        first_local = max(kept, 2 * d - 1 - (n - kept))
        distances = np.zeros(len(new))
        if first_local < len(series):
            # Small matrix products: BLAS threads only fight over the cores.
            with threadpool_limits(limits=1, user_api="blas"):
                distances[first_local - kept :] = nearest_distances(
                    series, first_local, d, self.reference_size
                )
        scores = np.empty(len(new))
        surprises = np.empty(len(new))
        step = self._step
        history = self._history
        for j, (value, distance) in enumerate(zip(new.tolist(), distances.tolist(), strict=True)):
            slot = self.n_seen_ % size
            history[slot] = history[slot + size] = value
            scores[j] = step(value, distance)
            surprises[j] = self.surprise_
        out[observed] = scores
        self.surprises_ = np.zeros(len(values))
        self.surprises_[observed] = surprises
        return out

    def _step(self, value: float, distance: float) -> float:
        """Score the newest value given its pattern distance, then update the state."""
        n = self.n_seen_
        length, lo, hi = self._run
        lo, hi = min(lo, value), max(hi, value)
        self._run = (length + 1, lo, hi) if hi - lo < self.min_change else (1, value, value)
        if n == 0:
            self.level_ = value
            self.previous_ = value
            self.n_seen_ = 1
            self.likelihood_.update(0.0)
            return 0.0
        self.expected_ = level = self.level_
        floor = max(self.min_change, 1e-12 + 1e-9 * abs(level))
        deviation = abs(value - level)
        level_z = max(deviation - self.min_change, 0.0) / max(3.0 * self.level_spread_, floor)
        pattern_z = max(distance - self.min_change, 0.0) / max(self.step_spread_, floor)
        ratio = 0.5 * (level_z + pattern_z)
        self.raw_ = raw = ratio / (ratio + 1.0)

        # Learn: bias-corrected EWMAs (a plain running mean until 1/n drops below alpha).
        n += 1
        self.n_seen_ = n
        a = max(self._alpha, 1.0 / n)
        self.level_ = level + a * (value - level)
        self.level_spread_ += a * (deviation - self.level_spread_)
        self.step_spread_ += a * (abs(value - self.previous_) - self.step_spread_)
        self.previous_ = value

        surprise = self.likelihood_.update(raw)  # 0 until it holds `warmup` scores
        self.surprise_ = surprise
        slow = self.slow_likelihood_
        if slow is None:
            self.confirm_ = surprise
        else:
            # One odd value sits in lag_dims lag vectors, so its pattern distance stays
            # high for lag_dims points; the slow scale counts a pattern only once it has
            # outlasted that (the least of the last lag_dims + 1 distances).
            recent = self._patterns
            recent[n % len(recent)] = pattern_z
            ratio = 0.5 * (level_z + min(recent))
            if n > self.warmup:  # HTM's learning period: settling raw scores are not history
                self.confirm_ = slow.update(ratio / (ratio + 1.0))
        score = surprise if surprise > self.memory_ else 0.0
        self.memory_ = max(self.memory_ * self._decay, surprise)
        return score


def nearest_distances(
    series: np.ndarray, first: int, lag_dims: int, reference_size: int, *, block: int = 256
) -> np.ndarray:
    """RMS distance from each lag vector ending at ``first``.. to its nearest past one.

    The lag vector ending at index ``t`` is ``series[t - lag_dims + 1 : t + 1]``; it is
    compared with the ``reference_size`` latest vectors that end ``lag_dims`` or more
    points earlier (so they do not overlap it) and start at index 0 or later. Needs
    ``first >= 2 * lag_dims - 1``. The neighbour is found with one matrix product per
    block (``|a|^2 + |b|^2 - 2ab`` on values centred on the block's mean, so a large
    offset costs no precision), then its distance is recomputed exactly.
    """
    d, w = lag_dims, reference_size
    if first < 2 * d - 1:
        raise ValueError(f"first must be >= 2 * lag_dims - 1 (got {first}, lag_dims {d})")
    out = np.empty(len(series) - first)
    penalties: dict[tuple[int, int, int], np.ndarray] = {}  # block shape -> inf outside
    for q0 in range(first, len(series), block):
        q1 = min(q0 + block, len(series))
        lo = max(d - 1, q0 - d - w + 1)  # earliest ending any query in the block may use
        span = series[lo - d + 1 : q1]
        centred = span - span.mean()
        windows = _lag_windows(centred, d)  # row r ends at lo + r
        queries = windows[q0 - lo :]
        refs = windows[: q1 - 1 - d - lo + 1]
        # argmin over refs of |q - r|^2 = |q|^2 + |r|^2 - 2 q.r; |q|^2 is the same per row.
        gram = queries @ (-2.0 * refs.T)
        gram += np.einsum("ij,ij->i", refs, refs)[None, :]
        if q1 - q0 > 1:
            key = (q1 - q0, len(refs), q0 - lo)
            penalty = penalties.get(key)
            if penalty is None:
                ends = np.arange(q0, q1)[:, None] - d  # latest usable ending per query
                ref_ends = np.arange(lo, q1 - d)[None, :]
                outside = (ref_ends > ends) | (ref_ends <= ends - w)
                penalty = penalties[key] = np.where(outside, np.inf, 0.0)
            gram += penalty
        nearest = refs[np.argmin(gram, axis=1)]
        exact = np.einsum("ij,ij->i", queries - nearest, queries - nearest)
        out[q0 - first : q1 - first] = np.sqrt(exact / d)
    return out


def _lag_windows(values: np.ndarray, d: int) -> np.ndarray:
    """``sliding_window_view(values, d)`` of a contiguous 1-D array: the same view (same
    buffer, shape and strides), built without its argument checks, which cost a third of
    a one-point ``nearest_distances`` (the live monitor scores every metric every tick)."""
    step = values.strides[0]
    return np.ndarray((len(values) - d + 1, d), values.dtype, values, 0, (step, step))
