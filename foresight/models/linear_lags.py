"""Linear regression on the last 12 values, fed its own forecasts: the seeds' forecaster.

``LinearLagsBaseline`` is the baseline every ``backtest`` scores beside the served model
("linear on 12 lags"); ``LinearLags`` is the same fit as a selection candidate
(``lags``), with the candidates' interface (``fit(values, timestamps)``,
``predict_mean(values, origins)``) and a ``horizon``. Ordinary least squares with an
intercept (scikit-learn's ``LinearRegression``, solved with numpy), recursive: each step
ahead feeds the forecast back as the newest lag. Pure numpy, so the monitor serves it
from its arrays (``coef_``, ``intercept_``, ``fill_``) without scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from foresight.models.features import forward_fill, lag_matrix

N_LAGS = 12


class LinearLagsBaseline:
    """The seeds' forecaster: LinearRegression on the last ``n_lags`` values, recursive."""

    def __init__(self, n_lags: int = N_LAGS) -> None:
        self.n_lags = n_lags

    def fit(self, values: np.ndarray, timestamps: np.ndarray | None = None) -> LinearLagsBaseline:
        raw = np.asarray(values, dtype=float)
        rows = lag_matrix(raw, self.n_lags + 1)  # [y_t, y_t-1, ...]: target then lags
        rows = rows[~np.isnan(rows).any(axis=1)]
        if len(rows) < 2 * self.n_lags:
            raise ValueError(f"too few complete rows for {self.n_lags} lags ({len(rows)})")
        # Ordinary least squares with an intercept (scikit-learn's LinearRegression).
        design = np.column_stack([rows[:, 1:], np.ones(len(rows))])
        solution = np.linalg.lstsq(design, rows[:, 0], rcond=None)[0]
        self.coef_, self.intercept_ = solution[:-1], float(solution[-1])
        self.fill_ = float(np.nanmean(raw))
        return self

    def predict_batch(self, values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        """Forecast ``horizon`` steps from each origin by feeding forecasts back as lags."""
        lags = lag_matrix(forward_fill(values, self.fill_), self.n_lags, origins)
        np.nan_to_num(lags, copy=False, nan=self.fill_)
        out = np.empty((len(origins), horizon))
        for h in range(horizon):
            step = lags @ self.coef_ + self.intercept_
            out[:, h] = step
            lags = np.concatenate([step[:, None], lags[:, :-1]], axis=1)
        return out


class LinearLags(LinearLagsBaseline):
    """The baseline as a candidate: the same fit and forecasts, ``horizon`` steps ahead.

    ``lookback`` (the lags) is the history a forecast reads; the monitor keeps a little
    more. Bit-identical to ``LinearLagsBaseline`` fitted on the same data.
    """

    def __init__(self, horizon: int, n_lags: int = N_LAGS) -> None:
        super().__init__(n_lags)
        self.horizon = horizon

    @property
    def lookback(self) -> int:
        return int(self.n_lags)

    def predict_mean(
        self, values: np.ndarray, origins: np.ndarray, timestamps: np.ndarray | None = None
    ) -> np.ndarray:
        """Point forecasts (len(origins), horizon); gaps before an origin forward-filled."""
        if not hasattr(self, "coef_"):
            raise ValueError("this LinearLags is not fitted yet; call fit() first")
        origins = np.asarray(origins, dtype=np.int64).ravel()
        return self.predict_batch(np.asarray(values, dtype=float), origins, int(self.horizon))

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as plain arrays (``from_arrays`` rebuilds it; no pickle)."""
        return {
            "lags_coef": np.asarray(self.coef_, dtype=float),
            "lags_intercept": np.array([self.intercept_, self.fill_], dtype=float),
        }

    @classmethod
    def from_arrays(cls, horizon: int, n_lags: int, arrays: Mapping[str, Any]) -> LinearLags:
        """Rebuild a fitted model from ``arrays()`` (any name -> array mapping)."""
        model = cls(int(horizon), int(n_lags))
        coef = np.asarray(arrays["lags_coef"], dtype=float)
        scalars = np.asarray(arrays["lags_intercept"], dtype=float)
        if coef.shape != (model.n_lags,) or scalars.shape != (2,):
            raise ValueError(
                f"linear-lags arrays of shapes {coef.shape}, {scalars.shape} do not fit "
                f"{model.n_lags} lags"
            )
        if not (np.isfinite(coef).all() and np.isfinite(scalars).all()):
            raise ValueError("linear-lags arrays hold NaN or infinity")
        model.coef_, model.intercept_, model.fill_ = coef, float(scalars[0]), float(scalars[1])
        return model
