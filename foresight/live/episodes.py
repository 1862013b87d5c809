"""Episodes, not dots: group anomalous points across metrics into incidents.

A metric's *run* of consecutive anomalous points starts with an alert (its score at the
threshold) or with its slow-scale likelihood (``AnomalyDetector.confirm_``) reaching the
threshold, and lasts while its un-suppressed likelihood (``surprise_``) or the slow one
stays there. The slow scale may start a run alone: on a noisy metric (0.1-s CPU readings
on a shared host hit 100 % every few samples) the first points of a CPU stress test are
not rare one by one, so the fast scale never alerts, but a minute's worth of them is.
An episode opens once a run is *confirmed* (the slow scale reached the threshold too,
so one odd sample or a sub-second burst opens nothing), dated from that run's start;
every metric with a run going while it is open joins it, and each tick with a run going
moves its end forward, so a CPU stress test that also moves the load average is one
episode naming both. A metric that is merely elevated without a run does not join (on a
busy host something always is, and the episode would never end). It closes once no run
has gone on for ``close_after_s``. Each change is written to the store at once (an open
episode is rewritten in place), so a restart loses nothing; episodes a stopped process
left open are closed when the tracker starts. Time is passed in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from foresight.store.episodes import (
    Episode,
    EpisodeMetric,
    close_open_episodes,
    load_episodes,
    save_episode,
)
from foresight.store.metric_store import MetricStore

logger = logging.getLogger(__name__)


# The JSON shape of ``Episode.to_dict()``, for the API document.
@dataclass(frozen=True, slots=True)
class PointScore:
    """One metric's value at one tick, what the detector expected, and its scores."""

    value: float
    expected: float
    score: float  # the alert score (repeats suppressed)
    surprise: float  # the likelihood score before suppression
    confirm: float = math.nan  # the slow-scale likelihood score (NaN: no slow scale)

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "expected": None if math.isnan(self.expected) else self.expected,
            "score": self.score,
            "surprise": self.surprise,
            "confirm": None if math.isnan(self.confirm) else self.confirm,
        }


class EpisodeTracker:
    """Open, extend and close episodes from per-tick scores; persist them in ``store``."""

    def __init__(
        self, store: MetricStore, *, threshold: float, close_after_s: float = 60.0
    ) -> None:
        if not close_after_s > 0:
            raise ValueError(f"close_after_s must be > 0 (got {close_after_s})")
        self.store = store
        self.threshold = threshold
        self.close_after_s = close_after_s
        self.open_: Episode | None = None
        self._running: dict[str, float] = {}  # metric -> first alert of its current run
        closed = close_open_episodes(store)
        if closed:
            logger.info("closed %d episode(s) left open by the previous run", closed)

    def observe(self, timestamp: float, points: Mapping[str, PointScore]) -> Episode | None:
        """Take one tick's scores; return the open episode (None when there is none)."""
        threshold = self.threshold
        current = self.open_
        if current is not None and timestamp - current.end_ts > self.close_after_s:
            save_episode(self.store, replace(current, closed=True))
            logger.info(
                "episode %s closed: %s, %.0f s",
                current.id,
                ", ".join(m.metric for m in current.metrics),
                current.duration_s,
            )
            current = self.open_ = None
            self._running.clear()  # a run left over from a closed episode opens nothing
        running = self._running
        for name in [m for m in running if m not in points]:
            del running[name]  # no value this tick: the run is over
        for name, point in points.items():
            if point.score >= threshold or point.confirm >= threshold:
                running.setdefault(name, timestamp)
            elif point.surprise < threshold and not point.confirm >= threshold:
                running.pop(name, None)
        active = {m: points[m] for m in running}
        if current is None:
            confirmed = [
                m for m, p in active.items() if p.confirm >= threshold or math.isnan(p.confirm)
            ]
            if not confirmed:
                return None
            start = min(running[m] for m in confirmed)
            # Runs that were not confirmed by then were noise: they do not join.
            active = {m: active[m] for m in confirmed}
            current = Episode(None, start, timestamp, 0.0, False, ())
        elif not active:
            return current
        merged = {m.metric: m for m in current.metrics}
        for name, point in active.items():
            peak = max(point.score, point.surprise)
            known = merged.get(name)
            if known is None or peak > known.peak_score:
                first = running[name] if known is None else known.first_ts
                merged[name] = EpisodeMetric(
                    name, first, timestamp, peak, point.value, point.expected
                )
        metrics = tuple(sorted(merged.values(), key=lambda m: (m.first_ts, -m.peak_score)))
        self.open_ = save_episode(
            self.store,
            replace(
                current,
                end_ts=timestamp,
                peak_score=max(m.peak_score for m in metrics),
                metrics=metrics,
            ),
        )
        return self.open_

    def running_since(self, metric: str) -> float | None:
        """When ``metric``'s current run of anomalous points began (None: no run)."""
        return self._running.get(metric)

    def recent(
        self, since: float | None = None, metric: str | None = None, limit: int = 100
    ) -> list[dict]:
        """Stored episodes ending at or after ``since`` (naming ``metric``), newest first."""
        return [
            e.to_dict() for e in load_episodes(self.store, since=since, metric=metric, limit=limit)
        ]
