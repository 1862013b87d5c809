"""Live feedback for the adaptive bands: score each forecast step once its actual arrives.

Every forecast the monitor draws is remembered with its bands. When the job later reads
the metric's history and the bucket a step aimed at has completed, that step is scored
once: inside or outside its 80 % and 95 % bands. ``ConformalState.observe`` turns those
outcomes into adaptive conformal inference steps (Gibbs & Candès 2021), so the next
forecast's band is wider after misses and narrower after hits, per horizon step, and
(while the score pool is short: the first hour after a start) adds each step's
absolute error to the pool, so a band can outgrow the largest error seen at the start.
A gap (no data in the target bucket) gives no outcome. Pure bookkeeping: no clock, no I/O.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from foresight.models.bands import Forecast
from foresight.models.conformal import LEVELS

Key = tuple[str, str]  # (metric, tier name)


@dataclass(slots=True)
class _Pending:
    """One key's remembered forecasts, oldest first, one row each (one horizon per key):
    the job scores all of them in one pass each run (a loop over 30 to 170 forecasts per
    metric and tier was the largest part of re-forecasting)."""

    origin_ts: np.ndarray  # (P,) start of the bucket each forecast was made from
    mean: np.ndarray  # (P, H) the point forecasts
    lower: dict[int, np.ndarray]  # level -> (P, H)
    upper: dict[int, np.ndarray]
    scored: np.ndarray  # (P, H) bool


def _rows(p: _Pending, keep: np.ndarray) -> _Pending:
    return _Pending(
        p.origin_ts[keep],
        p.mean[keep],
        {lv: a[keep] for lv, a in p.lower.items()},
        {lv: a[keep] for lv, a in p.upper.items()},
        p.scored[keep],
    )


class OnlineBands:
    """The live forecasts still waiting for actuals, per (metric, tier); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Key, _Pending] = {}

    def remember(self, key: Key, origin_ts: float, forecast: Forecast) -> None:
        """Keep ``forecast`` (made from the bucket starting at ``origin_ts``) to score later.

        A forecast of another horizon than the key's remembered ones (a tier reshaped)
        replaces them."""
        lower = {lv: np.asarray(getattr(forecast, f"lower_{lv}"), dtype=float) for lv in LEVELS}
        upper = {lv: np.asarray(getattr(forecast, f"upper_{lv}"), dtype=float) for lv in LEVELS}
        mean = np.asarray(forecast.mean, dtype=float)
        horizon = len(mean)
        with self._lock:
            p = self._pending.get(key)
            if p is not None and p.scored.shape[1] != horizon:
                p = None
            if p is not None and len(p.origin_ts) and p.origin_ts[-1] >= float(origin_ts):
                p = _rows(p, np.arange(len(p.origin_ts) - 1))  # same bucket: the newer wins
            if p is None or not len(p.origin_ts):
                self._pending[key] = _Pending(
                    np.array([float(origin_ts)]),
                    mean[None, :].copy(),
                    {lv: a[None, :].copy() for lv, a in lower.items()},
                    {lv: a[None, :].copy() for lv, a in upper.items()},
                    np.zeros((1, horizon), dtype=bool),
                )
                return
            self._pending[key] = _Pending(
                np.append(p.origin_ts, float(origin_ts)),
                np.vstack([p.mean, mean]),
                {lv: np.vstack([a, lower[lv]]) for lv, a in p.lower.items()},
                {lv: np.vstack([a, upper[lv]]) for lv, a in p.upper.items()},
                np.vstack([p.scored, np.zeros(horizon, dtype=bool)]),
            )

    def outcomes(
        self, key: Key, timestamps: np.ndarray, values: np.ndarray, step_s: float
    ) -> tuple[np.ndarray, dict[int, np.ndarray], np.ndarray]:
        """Score every remembered step whose bucket is in ``timestamps`` (bucket starts).

        Returns the 0-based steps scored, oldest forecast first, per level a 0/1 miss
        for each, and each one's absolute error |actual - point forecast| (the served
        model's live out-of-sample residual, in the series' unit). Forecasts with every
        step scored (or out of reach) are dropped.
        """
        ts = np.asarray(timestamps, dtype=float)
        vals = np.asarray(values, dtype=float)
        none = np.empty(0, dtype=np.int64), {lv: np.empty(0) for lv in LEVELS}, np.empty(0)
        if not len(ts):
            return none
        first, last = float(ts[0]), float(ts[-1])
        with self._lock:
            p = self._pending.get(key)
            if p is None or not len(p.origin_ts):
                return none
            horizon = p.scored.shape[1]
            targets = p.origin_ts[:, None] + step_s * np.arange(1, horizon + 1)[None, :]
            idx = np.rint((targets - first) / step_s).astype(np.int64)
            arrived = ~p.scored & (targets <= last + 1e-6) & (idx >= 0)
            rows, pos = np.nonzero(arrived)  # row by row: oldest forecast first
            out: tuple[np.ndarray, dict[int, np.ndarray], np.ndarray] = none
            if len(rows):
                actual = vals[idx[rows, pos]]
                seen = ~np.isnan(actual)
                p.scored[rows, pos] = True  # a gap is consumed too: it gives no outcome
                rows, pos, actual = rows[seen], pos[seen], actual[seen]
                out = (
                    pos,
                    {
                        lv: (
                            (actual < p.lower[lv][rows, pos]) | (actual > p.upper[lv][rows, pos])
                        ).astype(float)
                        for lv in LEVELS
                    },
                    np.abs(actual - p.mean[rows, pos]),
                )
            out_of_reach = targets[:, -1] < first
            keep = ~(p.scored.all(axis=1) | out_of_reach)
            if not keep.all():
                self._pending[key] = _rows(p, keep)
        return out

    def forget(self, key: Key) -> None:
        """Drop a model's remembered forecasts (its bands were recalibrated)."""
        with self._lock:
            self._pending.pop(key, None)
