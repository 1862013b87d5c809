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
