"""Streaming anomaly scores for one metric: causal, O(1) per point, no I/O, no clock.

Each new value is compared with what the recent past predicts:
  * a level baseline (EWMA), or, once a season (e.g. a daily cycle) shows up in the
    autocorrelation of the first ``season_after`` values, the value one season back;
  * the residual is divided by a slowly adapting mean absolute deviation (a robust
    spread; a zero spread never divides: no change scores 0, any change scores high);
  * a short EWMA of the residual catches sustained shifts that single points hide.
The larger of the point and the sustained z-score is squashed into [0, 1), and the
*score* is how far that exceeds the largest recent surprise (decaying memory), so a
level shift scores once at its start rather than on every following point — NAB and
on-call humans both want the first alert, not a wall of them. The yes/no decision is
``score >= threshold``, kept separate from the score.

Anomalous values are kept out of the baseline: updates use the residual clipped to
``clip_z`` spreads, and the seasonal memory stores the clipped value.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from foresight.models.features import detect_season

logger = logging.getLogger(__name__)


class AnomalyDetector:
    """Score a stream of values in [0, 1]; ``score >= threshold`` is an anomaly.

    Parameters (stored unchanged):
      threshold: decision threshold on the score (NAB's optimiser picked 0.21-0.22
        for the standard profile on the shared subset; 0.25 is a little quieter).
      warmup: observed values scored 0 while the baseline settles.
      level_alpha: EWMA weight of the level baseline (per point).
      spread_alpha: EWMA weight of the spread (small: the spread has a long memory).
      sustained_alpha: EWMA weight of the smoothed residual (sustained shifts).
      clip_z: residuals beyond this many spreads are clipped before updating state.
      z_scale: z-score at which the squashed surprise reaches 1 - 1/e.
      memory_decay: per-point decay of the largest recent surprise.
      season_length: steps per season, "auto" (detect once after ``season_after``
        values), or None for the level baseline only.
      season_after: values collected before the season is detected.
    """

    def __init__(
        self,
        threshold: float = 0.25,
        *,
        warmup: int = 50,
        level_alpha: float = 0.05,
        spread_alpha: float = 0.005,
        sustained_alpha: float = 0.3,
        clip_z: float = 6.0,
        z_scale: float = 8.0,
        memory_decay: float = 0.995,
        season_length: int | str | None = "auto",
        season_after: int = 600,
        season_min_acf: float = 0.3,
    ) -> None:
        self.threshold = threshold
        self.warmup = warmup
        self.level_alpha = level_alpha
        self.spread_alpha = spread_alpha
        self.sustained_alpha = sustained_alpha
        self.clip_z = clip_z
        self.z_scale = z_scale
        self.memory_decay = memory_decay
        self.season_length = season_length
        self.season_after = season_after
        self.season_min_acf = season_min_acf
        self.reset()

    def reset(self) -> AnomalyDetector:
        """Forget everything learned (the next value starts a new warm-up)."""
        s = self.season_length
        if not (s is None or s == "auto" or (isinstance(s, (int, np.integer)) and s >= 2)):
            raise ValueError(f"season_length must be 'auto', None or an integer >= 2 (got {s!r})")
        if self.warmup < 1 or self.season_after < 4:
            raise ValueError(
                f"warmup must be >= 1 and season_after >= 4 "
                f"(got {self.warmup}, {self.season_after})"
            )
        self.n_seen_ = 0
        self.level_ = 0.0
        self.spread_ = 0.0
        self.season_spread_ = 0.0
        self.sustained_ = 0.0
        self.memory_ = 0.0
        fixed = s if isinstance(s, (int, np.integer)) else None
        self.season_length_: int | None = int(fixed) if fixed else None
        # Ring buffer of past values (anomalies clipped), long enough for a season.
        self._capacity = max(int(fixed or 0), self.season_after) + 1
        self._ring = [math.nan] * self._capacity
        return self

    def is_anomaly(self, score: float) -> bool:
        """The decision: is this score at or above the threshold?"""
        return score >= self.threshold

    def _start_season(self) -> None:
        n, cap = self.n_seen_, self._capacity
        history = np.array([self._ring[(n - k) % cap] for k in range(min(n, cap), 0, -1)])
        season = detect_season(history, min_acf=self.season_min_acf)
        if season is None or season >= cap:
            return
        diffs = history[season:] - history[:-season]
        diffs = diffs[~np.isnan(diffs)]
        if len(diffs) == 0:
            return
        self.season_length_ = season
        self.season_spread_ = float(np.mean(np.abs(diffs - np.median(diffs))))
        logger.debug("season of %d steps detected after %d values", season, n)

    def score_one(self, value: float) -> float:
        """Score one value (NaN: a gap, scores 0 and changes nothing) and learn from it."""
        if value != value:
            return 0.0
        n = self.n_seen_
        cap = self._capacity
        if n == 0:
            self.level_ = value
            self._ring[0] = value
            self.n_seen_ = 1
            return 0.0
        if self.season_length == "auto" and n == self.season_after and self.season_length_ is None:
            self._start_season()
        level = self.level_
        floor = 1e-12 + 1e-9 * abs(level)
        season = self.season_length_
        previous = self._ring[(n - season) % cap] if season and n >= season else math.nan
        seasonal = previous == previous
        if seasonal:
            residual, spread = value - previous, self.season_spread_
        else:
            residual, spread = value - level, self.spread_
        if spread > floor:
            z = abs(residual) / spread
        else:  # no spread yet: no change is no news, any change is big news
            z = 0.0 if abs(residual) <= floor else 1e3
        a = self.sustained_alpha
        self.sustained_ += a * (residual - self.sustained_)
        if spread > floor:
            z = max(z, abs(self.sustained_) / (spread * math.sqrt(a / (2.0 - a))))
        surprise = 1.0 - math.exp(-z / self.z_scale)
        score = surprise - self.memory_ if surprise > self.memory_ else 0.0
        self.memory_ = max(self.memory_ * self.memory_decay, surprise)

        # Learn, keeping anomalies out: clip the residual to clip_z spreads.
        n += 1
        self.n_seen_ = n
        warm = n > self.warmup
        limit = self.clip_z * max(spread, floor)
        kept = min(max(residual, -limit), limit) if warm else residual
        if seasonal:
            self.season_spread_ += self.spread_alpha * (abs(kept) - self.season_spread_)
            self._ring[(n - 1) % cap] = previous + kept
        else:
            self._ring[(n - 1) % cap] = value
        # Bias-corrected EWMAs: a plain running mean until 1/n drops below alpha.
        level_residual = value - level
        level_limit = self.clip_z * max(self.spread_, floor)
        level_kept = min(max(level_residual, -level_limit), level_limit) if warm else level_residual
        self.level_ = level + max(self.level_alpha, 1.0 / n) * level_kept
        self.spread_ += max(self.spread_alpha, 1.0 / n) * (abs(level_kept) - self.spread_)
        return score if warm else 0.0

    def score_many(self, values: np.ndarray) -> np.ndarray:
        """Score values in order (same as calling ``score_one`` on each); floats in [0, 1]."""
        score_one = self.score_one
        return np.fromiter(
            (score_one(float(v)) for v in np.asarray(values, dtype=float).ravel()), dtype=float
        )
