"""Error measures shared by the backtest and model selection (MASE on one scale)."""

from __future__ import annotations

import numpy as np


def naive_scale(values: np.ndarray, season: int | None) -> float:
    """In-sample MAE of the one-season-back naive forecast (MASE denominator)."""
    lag = season or 1
    diffs = np.abs(values[lag:] - values[:-lag])
    diffs = diffs[~np.isnan(diffs)]
    scale = float(diffs.mean()) if len(diffs) else float("nan")
    return scale if scale > 0 else float("nan")


# Where a backtest's MASE scale came from, in the order they are tried (``mase_scale``).
SCALE_SOURCES = ("train", "train-lag1", "whole", "unit")


def mase_scale(train: np.ndarray, season: int | None, whole: np.ndarray) -> tuple[float, str]:
    """The MASE denominator and where it came from, trying in this order:

    - ``train``: the in-sample MAE of the one-season-back naive forecast on ``train``
      (Hyndman & Koehler's scale; one step back when ``season`` is None);
    - ``train-lag1``: the one-step naive MAE on ``train`` (a training span that repeats
      exactly every season but moves within it);
    - ``whole``: the one-step naive MAE on ``whole``, the whole series (a metric that is
      constant for all its training span and moves only later, e.g. a counter idle for
      weeks);
    - ``unit``: 1.0 in the series' own unit (a series that never changes at all).

    Every MASE of one backtest shares the scale, so the ratios between them (what the
    "never worse than a baseline" rule compares) do not depend on which was used.
    """
    scale = naive_scale(train, season)
    if scale == scale:
        return scale, "train"
    if season and season != 1:
        scale = naive_scale(train, None)
        if scale == scale:
            return scale, "train-lag1"
    scale = naive_scale(whole, None)
    if scale == scale:
        return scale, "whole"
    return 1.0, "unit"


def mase_on(errors: np.ndarray, mask: np.ndarray, scale: float) -> float:
    """Mean absolute error over the ``mask``ed pairs, divided by ``scale``."""
    abs_err = np.where(mask, np.abs(errors), 0.0)
    return float(abs_err.sum() / max(mask.sum(), 1) / scale)


def mase_with_steps(
    errors: np.ndarray, mask: np.ndarray, scale: float
) -> tuple[float, list[float]]:
    """MASE overall and per horizon step (rounded to 6 places)."""
    abs_err = np.where(mask, np.abs(errors), 0.0)
    per_step = abs_err.sum(axis=0) / np.maximum(mask.sum(axis=0), 1) / scale
    return mase_on(errors, mask, scale), [round(float(x), 6) for x in per_step]
