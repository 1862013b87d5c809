"""The anomaly stage of the live monitor: every new sample scored, anomalies and episodes kept.

One streaming ``AnomalyDetector`` per metric, warmed on the stored history when it is first
needed; the recent anomalies (those at or above the detector's threshold) are kept in a
bounded ring, and the ``EpisodeTracker`` groups them across metrics. It has its own lock,
so the per-tick scoring never waits for the model job.

Listed anomalies are also written to the store (``RecordLog`` kind ``anomaly``, the
newest ``ANOMALIES_KEPT``), one transaction per tick that lists any, after the lock is
let go; a new stage fills its ring from them, so a restart keeps the chart marks and the
``anomaly`` alert rule's window.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping

from foresight.live.detectors import warmed_detector
from foresight.live.episodes import EpisodeTracker, PointScore
from foresight.live.records import Anomaly
from foresight.models.anomaly import AnomalyDetector
from foresight.models.anomaly_batch import score_each
from foresight.store.records import RecordLog

MAX_ANOMALIES = 1000
ANOMALIES_KEPT = 10_000  # stored anomaly records (the ring reloads the newest MAX_ANOMALIES)


class AnomalyStage:
    """Per-metric streaming detectors over the live samples; thread-safe."""

    def __init__(
        self,
        store,
        warm_s: float = 0.0,
        episode_gap_s: float = 60.0,
        max_anomalies: int = MAX_ANOMALIES,
    ) -> None:
        self.store = store
        self.warm_s = warm_s  # stored history each new anomaly detector learns from first
        self._anomaly_lock = threading.Lock()
        self._detectors: dict[str, AnomalyDetector] = {}
        self._scores: dict[str, tuple[float, float]] = {}
        self._anomalies: deque[Anomaly] = deque(maxlen=max_anomalies)
        self._pending: dict[str, Anomaly] = {}  # each metric's latest unconfirmed alert
        self._confirming: set[str] = set()  # metrics whose slow scale is at the threshold
        # Each metric's newest listed anomaly: the alert rules ask every metric each tick,
        # and most have none in their window (no pass over the ring for them).
        self._newest: dict[str, float] = {}
        # The ring's anomalies per metric, in ring order: a metric's window is read from
        # its own (the alert rules ask every metric every tick; a pass over the whole
        # ring per metric was the stage's largest cost on a busy host).
        self._by_metric: dict[str, deque[Anomaly]] = {}
        self.episodes = EpisodeTracker(
            store, threshold=AnomalyDetector().threshold, close_after_s=episode_gap_s
        )
        self._anomaly_log = RecordLog(store, "anomaly", keep=ANOMALIES_KEPT)
        self._anomalies_unsaved: list[Anomaly] = []  # listed under the lock, written after it
        for body in self._anomaly_log.page(limit=max_anomalies):
            self._list(_stored_anomaly(body))
        self._anomalies_unsaved.clear()  # (those came from the store)

    def stage(self, now: float, sample) -> None:
        """Score each value of a new sample; alerts wait until their metric joins an episode."""
        ts = sample.timestamp
        with self._anomaly_lock:
            metrics = list(sample.values)
            values = [float(v) for v in sample.values.values()]
            # All metrics' neighbour searches in one batched pass (score_each), then each
            # metric's bookkeeping as _score does it for one value.
            detectors = [self._detector(m, ts) for m in metrics]
            scores = score_each(detectors, values)
            points = {
                metric: self._after_score(metric, ts, value, score, detector, wait=True)
                for metric, value, score, detector in zip(
                    metrics, values, scores, detectors, strict=True
                )
            }
            episode = self.episodes.observe(sample.timestamp, points)
            # An alert is listed (a chart mark, the `anomaly` alert rule) once its metric is
            # part of an episode, i.e. confirmed: an odd sample alone is not shown.
            if episode is not None:
                for member in episode.metrics:
                    alert = self._pending.pop(member.metric, None)
                    if alert is not None and alert.timestamp >= member.first_ts:
                        self._list(alert)  # (an older one began no episode)
        self._save_listed()

    def score_pushed(self, rows: Iterable[tuple[float, Mapping[str, float]]]) -> int:
        """Score pushed points (``POST /api/samples``) in timestamp order, each once.

        A series' points at or before the last one its detector scored are skipped (a
        repeated push, or a point older than the cycle's), so no detector sees a value
        twice or out of order. They join the anomalies, not the episodes (the episode
        tracker follows this host's one timeline). Returns how many points were scored.
        """
        scored = 0
        with self._anomaly_lock:
            for ts, values in sorted(rows, key=lambda row: row[0]):
                for metric, value in values.items():
                    last = self._scores.get(metric)
                    if last is not None and ts <= last[0]:
                        continue
                    self._score(metric, ts, float(value), wait=False)
                    scored += 1
        self._save_listed()
        return scored

    def _save_listed(self) -> None:
        """Write the anomalies listed since the last call, in one transaction."""
        with self._anomaly_lock:
            listed, self._anomalies_unsaved = self._anomalies_unsaved, []
        self._anomaly_log.add_many(
            [
                (
                    a.timestamp,
                    {
                        "timestamp": a.timestamp,
                        "metric": a.metric,
                        "value": a.value,
                        "score": a.score,
                    },
                )
                for a in listed
            ]
        )

    def _score(self, metric: str, ts: float, value: float, *, wait: bool) -> PointScore:
        """Score one value of one series (the caller holds the lock).

        ``wait``: an alert waits in ``_pending`` until its metric joins an episode (the
        cycle's own timeline); pushed points have no episodes, so theirs are listed at once.
        """
        detector = self._detector(metric, ts)
        return self._after_score(metric, ts, value, detector.score_one(value), detector, wait=wait)

    def _detector(self, metric: str, ts: float) -> AnomalyDetector:
        """The metric's detector, warmed on its stored history when first needed."""
        detector = self._detectors.get(metric)
        if detector is None:
            detector = self._detectors[metric] = warmed_detector(
                self.store, metric, ts, self.warm_s
            )
        return detector

    def _after_score(
        self,
        metric: str,
        ts: float,
        value: float,
        score: float,
        detector: AnomalyDetector,
        *,
        wait: bool,
    ) -> PointScore:
        """Keep a value's score, hold or list its alert (the caller holds the lock)."""
        self._scores[metric] = (ts, score)
        if detector.is_anomaly(score):
            alert = Anomaly(ts, metric, value, score)
            if wait:
                self._pending[metric] = alert
            else:
                self._list(alert)
        if wait:
            # The slow scale reaching the threshold starts a run too (see episodes), so
            # its crossing is an alert when the fast scale has none waiting.
            confirming = detector.is_anomaly(detector.confirm_)
            if confirming and metric not in self._confirming:
                if self.episodes.running_since(metric) is None:  # a run starts here
                    self._pending[metric] = Anomaly(ts, metric, value, detector.confirm_)
            if confirming:
                self._confirming.add(metric)
            else:
                self._confirming.discard(metric)
        return PointScore(value, detector.expected_, score, detector.surprise_, detector.confirm_)

    def _list(self, alert: Anomaly) -> None:
        """List a confirmed (or pushed) anomaly (the caller holds the lock)."""
        ring = self._anomalies
        if len(ring) == ring.maxlen:  # the oldest leaves the ring: and its metric's list
            oldest = ring[0]
            own = self._by_metric[oldest.metric]
            own.popleft()  # ring order: it is its metric's oldest too
            if not own:
                del self._by_metric[oldest.metric]
        ring.append(alert)
        self._anomalies_unsaved.append(alert)
        self._by_metric.setdefault(alert.metric, deque()).append(alert)
        newest = self._newest.get(alert.metric, -math.inf)
        self._newest[alert.metric] = max(newest, alert.timestamp)

    def anomalies(
        self, since: float | None = None, metric: str | None = None, limit: int = 100
    ) -> list[dict]:
        """Recent anomalies, newest first (pushed points may arrive late: sorted by time)."""
        with self._anomaly_lock:
            if metric is not None and since is not None:
                if self._newest.get(metric, -math.inf) < since:
                    return []  # none of this metric in the window: no pass over the ring
            ring = self._anomalies if metric is None else self._by_metric.get(metric, ())
            found = [a for a in reversed(ring) if since is None or a.timestamp >= since]
        found.sort(key=lambda a: a.timestamp, reverse=True)
        return [a.to_dict() for a in found[:limit]]

    def scores(self) -> dict[str, dict]:
        """The latest score of every metric: {metric: {timestamp, score}}."""
        with self._anomaly_lock:
            return {
                m: {"timestamp": t, "score": round(s, 4)}
                for m, (t, s) in sorted(self._scores.items())
            }


def _stored_anomaly(body: dict) -> Anomaly:
    """An anomaly record as ``_save_listed`` wrote it (a non-finite value was stored as null)."""
    value = body.get("value")
    return Anomaly(
        float(body["timestamp"]),
        str(body["metric"]),
        math.nan if value is None else float(value),
        float(body["score"]),
    )
