"""Forecast records: a point forecast with its 80 % and 95 % bands, as frozen dataclasses.

Pure numpy (no scikit-learn), so the monitor can hold and serve forecasts without the
fitting libraries loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_FIELDS: tuple[str, ...] = ("mean", "lower_80", "upper_80", "lower_95", "upper_95")


def _as_list(array: np.ndarray | None) -> list | None:
    return None if array is None else np.asarray(array, dtype=float).tolist()


@dataclass(frozen=True, slots=True)
class _Bands:
    """A point forecast and its 80 % and 95 % intervals, in the series' own unit."""

    step_s: float | None
    mean: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray
    lower_95: np.ndarray
    upper_95: np.ndarray

    def _bands_dict(self) -> dict:
        return {"step_s": self.step_s, **{k: _as_list(getattr(self, k)) for k in BAND_FIELDS}}


@dataclass(frozen=True, slots=True)
class Forecast(_Bands):
    """A forecast of the next ``len(mean)`` steps with 80 % and 95 % intervals.

    ``timestamps`` are the epoch seconds of each step (None when the series had no
    times); all arrays have shape (horizon,) and the series' own unit.
    """

    timestamps: np.ndarray | None

    def to_dict(self) -> dict:
        return {"timestamps": _as_list(self.timestamps), **self._bands_dict()}


@dataclass(frozen=True, slots=True)
class BatchForecast(_Bands):
    """Forecasts from many origins of one series: arrays of shape (len(origins), horizon).

    ``origins`` are indices into the series passed to ``predict_batch``; row ``i``
    forecasts indices ``origins[i] + 1 .. origins[i] + horizon``.
    """

    origins: np.ndarray

    def to_dict(self) -> dict:
        return {"origins": [int(o) for o in self.origins], **self._bands_dict()}
