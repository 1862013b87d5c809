"""The trivial forecasters every model must beat: the last value and seasonal naive.

They share the candidates' interface (``fit`` returns self; ``predict_mean(values,
origins)`` gives (len(origins), horizon)); pure numpy. The gap at an origin is filled
with the last observed value before it.
"""

from __future__ import annotations

import numpy as np

from foresight.models.features import forward_fill, seasonal_index, take_or_nan


class LastValue:
    """Repeat the value at the origin for every step ahead (the random-walk forecast)."""

    def __init__(self, horizon: int) -> None:
        self.horizon = horizon

    def fit(self, values: np.ndarray, timestamps: np.ndarray | None = None) -> LastValue:
        if not np.any(~np.isnan(np.asarray(values, dtype=float))):
            raise ValueError("no observed value to repeat")
        self.fitted_ = True
        return self

    def predict_mean(
        self, values: np.ndarray, origins: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        filled = forward_fill(np.asarray(values, dtype=float), np.nan)
        at = take_or_nan(filled, np.asarray(origins, dtype=np.int64))
        return np.repeat(at[:, None], int(self.horizon), axis=1)


class SeasonalNaive:
    """Repeat the value one ``period`` before each target step (e.g. the same time yesterday)."""

    def __init__(self, horizon: int, period: int) -> None:
        self.horizon = horizon
        self.period = period

    def fit(self, values: np.ndarray, timestamps: np.ndarray | None = None) -> SeasonalNaive:
        n_observed = int(np.sum(~np.isnan(np.asarray(values, dtype=float))))
        if self.period < 2 or n_observed < self.period + 1:
            raise ValueError(
                f"seasonal naive needs more than one period of {self.period} steps "
                f"(got {n_observed} observed)"
            )
        self.fitted_ = True
        return self

    def predict_mean(
        self, values: np.ndarray, origins: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        filled = forward_fill(np.asarray(values, dtype=float), np.nan)
        idx = seasonal_index(np.asarray(origins, dtype=np.int64), int(self.horizon), self.period)
        return take_or_nan(filled, idx)
