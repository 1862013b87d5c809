"""The anomaly stage of the live monitor: every new sample scored, anomalies and episodes kept.

One streaming ``AnomalyDetector`` per metric, warmed on the stored history when it is first
needed; the recent anomalies (those at or above the detector's threshold) are kept in a
bounded ring, and the ``EpisodeTracker`` groups them across metrics. It has its own lock,
so the per-tick scoring never waits for the model job.
"""

from __future__ import annotations

import threading
from collections import deque

from foresight.live.detectors import warmed_detector
from foresight.live.episodes import EpisodeTracker, PointScore
from foresight.live.records import Anomaly
from foresight.models.anomaly import AnomalyDetector

MAX_ANOMALIES = 1000


class AnomalyStage:
    """Per-metric streaming detectors over the live samples; thread-safe."""

    def __init__(self, store, warm_s: float = 0.0, episode_gap_s: float = 60.0) -> None:
        self.store = store
        self.warm_s = warm_s  # stored history each new anomaly detector learns from first
        self._anomaly_lock = threading.Lock()
        self._detectors: dict[str, AnomalyDetector] = {}
        self._scores: dict[str, tuple[float, float]] = {}
        self._anomalies: deque[Anomaly] = deque(maxlen=MAX_ANOMALIES)
        self._pending: dict[str, Anomaly] = {}  # each metric's latest unconfirmed alert
        self.episodes = EpisodeTracker(
            store, threshold=AnomalyDetector().threshold, close_after_s=episode_gap_s
        )

    def stage(self, now: float, sample) -> None:
        """Score each value of a new sample; alerts wait until their metric joins an episode."""
        with self._anomaly_lock:
            points: dict[str, PointScore] = {}
            for metric, value in sample.values.items():
                detector = self._detectors.get(metric)
                if detector is None:
                    detector = self._detectors[metric] = warmed_detector(
                        self.store, metric, sample.timestamp, self.warm_s
                    )
                score = detector.score_one(float(value))
                self._scores[metric] = (sample.timestamp, score)
                if detector.is_anomaly(score):
                    self._pending[metric] = Anomaly(sample.timestamp, metric, float(value), score)
                points[metric] = PointScore(
                    float(value), detector.expected_, score, detector.surprise_, detector.confirm_
                )
            episode = self.episodes.observe(sample.timestamp, points)
            # An alert is listed (a chart mark, the `anomaly` alert rule) once its metric is
            # part of an episode, i.e. confirmed: an odd sample alone is not shown.
            if episode is not None:
                for member in episode.metrics:
                    alert = self._pending.pop(member.metric, None)
                    if alert is not None:
                        self._anomalies.append(alert)

    def anomalies(
        self, since: float | None = None, metric: str | None = None, limit: int = 100
    ) -> list[dict]:
        """Recent anomalies, newest first."""
        with self._anomaly_lock:
            found = [
                a
                for a in reversed(self._anomalies)
                if (since is None or a.timestamp >= since)
                and (metric is None or a.metric == metric)
            ]
        return [a.to_dict() for a in found[:limit]]

    def scores(self) -> dict[str, dict]:
        """The latest score of every metric: {metric: {timestamp, score}}."""
        with self._anomaly_lock:
            return {
                m: {"timestamp": t, "score": round(s, 4)}
                for m, (t, s) in sorted(self._scores.items())
            }
