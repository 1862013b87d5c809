"""Live feedback for the adaptive bands: score each forecast step once its actual arrives.

Every forecast the monitor draws is remembered with its bands. When the job later reads
the metric's history and the bucket a step aimed at has completed, that step is scored
once: inside or outside its 80 % and 95 % bands. ``ConformalState.observe`` turns those
outcomes into adaptive conformal inference steps (Gibbs & Candès 2021), so the next
forecast's band is wider after misses and narrower after hits, per horizon step.
A gap (no data in the target bucket) gives no outcome. Pure bookkeeping: no clock, no I/O.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from foresight.models.bands import Forecast
from foresight.models.conformal import LEVELS

Key = tuple[str, str]  # (metric, tier name)


@dataclass(slots=True)
class _Pending:
    origin_ts: float  # start of the bucket the forecast was made from
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]
    scored: np.ndarray  # bool per step


class OnlineBands:
    """The live forecasts still waiting for actuals, per (metric, tier); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Key, deque[_Pending]] = {}

    def remember(self, key: Key, origin_ts: float, forecast: Forecast) -> None:
        """Keep ``forecast`` (made from the bucket starting at ``origin_ts``) to score later."""
        bands = {
            level: (
                np.asarray(getattr(forecast, f"lower_{level}"), dtype=float),
                np.asarray(getattr(forecast, f"upper_{level}"), dtype=float),
            )
            for level in LEVELS
        }
        horizon = len(forecast.mean)
        pending = _Pending(
            float(origin_ts),
            {lv: lo for lv, (lo, _) in bands.items()},
            {lv: hi for lv, (_, hi) in bands.items()},
            np.zeros(horizon, dtype=bool),
        )
        with self._lock:
            queue = self._pending.setdefault(key, deque())
            if queue and queue[-1].origin_ts >= pending.origin_ts:
                queue.pop()  # a newer forecast from the same bucket replaces the older
            queue.append(pending)

    def outcomes(
        self, key: Key, timestamps: np.ndarray, values: np.ndarray, step_s: float
    ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Score every remembered step whose bucket is in ``timestamps`` (bucket starts).

        Returns the 0-based steps scored, oldest forecast first, and per level a 0/1
        miss for each. Forecasts with every step scored (or out of reach) are dropped.
        """
        ts = np.asarray(timestamps, dtype=float)
        vals = np.asarray(values, dtype=float)
        steps: list[np.ndarray] = []
        misses: dict[int, list[np.ndarray]] = {level: [] for level in LEVELS}
        if not len(ts):
            return np.empty(0, dtype=np.int64), {lv: np.empty(0) for lv in LEVELS}
        first, last = float(ts[0]), float(ts[-1])
        with self._lock:
            queue = self._pending.get(key)
            if not queue:
                return np.empty(0, dtype=np.int64), {lv: np.empty(0) for lv in LEVELS}
            keep: deque[_Pending] = deque()
            for p in queue:
                horizon = len(p.scored)
                targets = p.origin_ts + step_s * np.arange(1, horizon + 1)
                idx = np.rint((targets - first) / step_s).astype(np.int64)
                arrived = ~p.scored & (targets <= last + 1e-6) & (idx >= 0)
                if arrived.any():
                    pos = np.flatnonzero(arrived)
                    actual = vals[idx[pos]]
                    seen = ~np.isnan(actual)
                    p.scored[pos] = True  # a gap is consumed too: it gives no outcome
                    pos, actual = pos[seen], actual[seen]
                    steps.append(pos)
                    for level in LEVELS:
                        outside = (actual < p.lower[level][pos]) | (actual > p.upper[level][pos])
                        misses[level].append(outside.astype(float))
                out_of_reach = targets[-1] < first
                if not (p.scored.all() or out_of_reach):
                    keep.append(p)
            self._pending[key] = keep
        if not steps:
            return np.empty(0, dtype=np.int64), {lv: np.empty(0) for lv in LEVELS}
        return np.concatenate(steps), {lv: np.concatenate(m) for lv, m in misses.items()}

    def forget(self, key: Key) -> None:
        """Drop a model's remembered forecasts (its bands were recalibrated)."""
        with self._lock:
            self._pending.pop(key, None)
