"""Pure feature helpers for the forecaster: lags, rolling statistics, seasonal and
calendar terms, gap filling and season detection. No I/O, no clock.

Conventions: a series is a 1-D float array on a regular grid, NaN marks a gap. An
*origin* ``t`` is the index of the last value known when a forecast is made; every
feature of origin ``t`` uses only indices ``<= t``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0


def lag_matrix(values: np.ndarray, n_lags: int, origins: np.ndarray | None = None) -> np.ndarray:
    """Return rows ``[v[t], v[t-1], ..., v[t-n_lags+1]]``, one per origin ``t``.

    Default origins are every ``t >= n_lags - 1``. Indices before 0 give NaN.
    """
    v = np.asarray(values, dtype=float)
    if n_lags < 1:
        raise ValueError(f"n_lags must be >= 1 (got {n_lags})")
    if origins is None:
        origins = np.arange(n_lags - 1, len(v))
    idx = np.asarray(origins, dtype=np.int64)[:, None] - np.arange(n_lags)[None, :]
    return take_or_nan(v, idx)


def take_or_nan(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Gather ``values[idx]``, with NaN where ``idx`` falls outside the array."""
    inside = (idx >= 0) & (idx < len(values))
    # take(mode="clip") is values[np.clip(idx, 0, len - 1)], the same gather, without
    # np.clip's per-call integer-limits checks (most of a live re-forecast's prediction).
    out = np.asarray(values).take(idx, mode="clip") if len(values) else np.full(idx.shape, np.nan)
    return np.where(inside, out, np.nan)


def forward_fill(values: np.ndarray, initial: float) -> np.ndarray:
    """Replace each NaN with the last observed value before it (``initial`` if none).

    Causal by construction: a filled value never comes from the future. Used only
    for *features* at prediction time; training rows with gaps are dropped instead.
    """
    v = np.asarray(values, dtype=float)
    seen = ~np.isnan(v)
    last = np.maximum.accumulate(np.where(seen, np.arange(len(v)), -1))
    return np.where(last >= 0, v[np.maximum(last, 0)], initial)


def seasonal_index(origins: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """Index of the value whole periods before each target step, never after the origin.

    For origin ``t`` and step ``h`` (1..horizon) that is ``t + h - period*ceil(h/period)``:
    "the same time yesterday" for a daily period, two days back when ``h > period``.
    """
    h = np.arange(1, horizon + 1)
    back = period * np.ceil(h / period).astype(np.int64)
    return np.asarray(origins, dtype=np.int64)[:, None] + (h - back)[None, :]


def rolling_mean_std(filled: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing mean and standard deviation over ``window`` values ending at each index.

    The first ``window - 1`` entries use the values available so far.
    """
    c1 = np.concatenate(([0.0], np.cumsum(filled)))
    c2 = np.concatenate(([0.0], np.cumsum(filled * filled)))
    end = np.arange(1, len(filled) + 1)
    start = np.maximum(end - window, 0)
    count = end - start
    mean = (c1[end] - c1[start]) / count
    var = np.maximum((c2[end] - c2[start]) / count - mean * mean, 0.0)
    return mean, np.sqrt(var)


def calendar_terms(origin_ts: np.ndarray, hour: bool, weekday: bool) -> np.ndarray:
    """Return sin/cos of time of day (1st and 2nd harmonic) and day of week at each origin.

    ``origin_ts`` is epoch seconds (UTC). A linear model turns these origin terms into
    any step's time of day, since sin(a + b) is linear in sin a and cos a.
    """
    ts = np.asarray(origin_ts, dtype=float)
    cols = []
    if hour:
        day_angle = 2 * np.pi * (ts % SECONDS_PER_DAY) / SECONDS_PER_DAY
        cols += [np.sin(day_angle), np.cos(day_angle), np.sin(2 * day_angle), np.cos(2 * day_angle)]
    if weekday:
        # Epoch day 0 was a Thursday; +3 makes Monday 0.
        week_angle = 2 * np.pi * (((ts / SECONDS_PER_DAY) + 3.0) % 7.0) / 7.0
        cols += [np.sin(week_angle), np.cos(week_angle)]
    if not cols:
        return np.empty((len(ts), 0))
    return np.column_stack(cols)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which features the forecaster uses; periods and windows are in steps."""

    n_lags: int
    horizon: int
    season: int | None = None  # e.g. one day of steps: value one season back per step
    week: int | None = None  # one week of steps, when the history spans it
    roll_windows: tuple[int, ...] = (6, 24)
    hour: bool = False
    weekday: bool = False

    @property
    def history(self) -> int:
        """Values needed before (and including) the origin for complete features."""
        return max(self.n_lags, self.season or 0, self.week or 0, max(self.roll_windows, default=1))

    def names(self) -> list[str]:
        """Column names, in the order ``build_features`` writes them."""
        names = [f"lag{k}" for k in range(self.n_lags)]
        for w in self.roll_windows:
            names += [f"mean{w}", f"std{w}"]
        for label, period in (("season", self.season), ("week", self.week)):
            if period:
                names += [f"{label}_h{h}" for h in range(1, self.horizon + 1)]
        if self.hour:
            names += ["hour_sin", "hour_cos", "hour2_sin", "hour2_cos"]
        if self.weekday:
            names += ["dow_sin", "dow_cos"]
        return names


def build_features(
    filled: np.ndarray, origins: np.ndarray, spec: FeatureSpec, origin_ts: np.ndarray | None = None
) -> np.ndarray:
    """Return the feature matrix (len(origins), len(spec.names())) for gap-filled values."""
    origins = np.asarray(origins, dtype=np.int64)
    blocks = [lag_matrix(filled, spec.n_lags, origins)]
    for w in spec.roll_windows:
        mean, std = rolling_mean_std(filled, w)
        blocks += [mean[origins, None], std[origins, None]]
    for period in (spec.season, spec.week):
        if period:
            blocks.append(take_or_nan(filled, seasonal_index(origins, spec.horizon, period)))
    if spec.hour or spec.weekday:
        if origin_ts is None:
            raise ValueError("calendar features need the origin timestamps")
        blocks.append(calendar_terms(origin_ts, spec.hour, spec.weekday))
    return np.concatenate(blocks, axis=1)


def complete_rows(raw: np.ndarray, origins: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """True for origins whose features and targets touch no gap (usable for training)."""
    origins = np.asarray(origins, dtype=np.int64)
    gap = np.isnan(raw)
    gaps_before = np.concatenate(([0], np.cumsum(gap)))
    window = max(spec.n_lags, max(spec.roll_windows, default=1))
    lo = np.maximum(origins - window + 1, 0)
    ok = (gaps_before[origins + 1] - gaps_before[lo]) == 0
    ok &= origins - window + 1 >= 0
    targets = origins[:, None] + np.arange(1, spec.horizon + 1)[None, :]
    ok &= ~np.isnan(take_or_nan(raw, targets)).any(axis=1)
    for period in (spec.season, spec.week):
        if period:
            ok &= ~np.isnan(take_or_nan(raw, seasonal_index(origins, spec.horizon, period))).any(
                axis=1
            )
    return ok


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation at lags 0..max_lag, ignoring gaps (NaN pairs are left out)."""
    v = np.asarray(values, dtype=float)
    seen = ~np.isnan(v)
    if seen.sum() < 3:
        return np.zeros(max_lag + 1)
    centred = np.where(seen, v - np.nanmean(v), 0.0)
    mask = seen.astype(float)
    size = 1 << int(np.ceil(np.log2(2 * len(v))))
    fx, fm = np.fft.rfft(centred, size), np.fft.rfft(mask, size)
    num = np.fft.irfft(fx * np.conj(fx), size)[: max_lag + 1]
    pairs = np.fft.irfft(fm * np.conj(fm), size)[: max_lag + 1]
    var = num[0] / max(pairs[0], 1.0)
    if var <= 0:
        return np.zeros(max_lag + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acf = np.where(pairs > 0.5, num / np.maximum(pairs, 1.0) / var, 0.0)
    return acf


def snap_season(season: int | None, step_s: float | None, tolerance: float = 0.05) -> int | None:
    """Round a detected season to exactly one day or one week of steps when within 5 %.

    Autocorrelation peaks of noisy daily data wander a few steps (285 for 288); the
    calendar period is the better guess when the step is known.
    """
    if season is None or not step_s:
        return season
    for period_s in (SECONDS_PER_DAY, 7 * SECONDS_PER_DAY):
        steps = period_s / step_s
        if steps >= 2 and steps == int(steps) and abs(season - steps) <= tolerance * steps:
            return int(steps)
    return season


def detect_season(
    values: np.ndarray, *, min_lag: int = 4, min_acf: float = 0.3, min_prominence: float = 0.1
) -> int | None:
    """Return the first clear autocorrelation peak (the season length in steps), or None.

    A peak must reach ``min_acf`` and rise ``min_prominence`` above the dip before it,
    and the series must hold at least two seasons, so noise and trends give None. The
    *first* such peak is taken: a daily cycle wins over its weekly multiple.
    """
    v = np.asarray(values, dtype=float)
    max_lag = int(np.sum(~np.isnan(v)) // 2)
    if max_lag <= min_lag + 1:
        return None
    acf = autocorrelation(v, max_lag)
    smooth = np.convolve(acf, np.ones(3) / 3, mode="same")
    running_min = np.minimum.accumulate(smooth)
    for k in range(min_lag, max_lag):
        # A peak must top its neighbourhood (+-10 %), not just a wiggle on a slope.
        reach = max(2, k // 10)
        if (
            smooth[k] >= min_acf
            and smooth[k] - running_min[k] >= min_prominence
            and smooth[k] >= smooth[max(k - reach, 0) : k + reach + 1].max()
        ):
            # Refine on the raw ACF around the smoothed peak.
            lo, hi = max(k - 2, min_lag), min(k + 3, max_lag + 1)
            return int(lo + np.argmax(acf[lo:hi]))
    return None
