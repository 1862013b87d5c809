"""Anomaly episodes in the SQLite store: one row per episode, rewritten while it is open.

An episode is a frozen ``Episode`` record (start, end, peak score, the metrics involved
with each one's value against its expected value at its peak). The ``episode`` table
lives in the MetricStore's database (schema version 2), so episodes survive a restart
and share its WAL durability; its columns hold what queries filter on and ``body`` the
rest as JSON.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from foresight.store.metric_store import MetricStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EpisodeMetric:
    """One metric's part in an episode, at the point where it scored highest."""

    metric: str
    first_ts: float
    peak_ts: float
    peak_score: float
    value: float  # the value at the peak, in the metric's unit
    expected: float  # the detector's baseline at the peak

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "first_ts": self.first_ts,
            "peak_ts": self.peak_ts,
            "peak_score": round(self.peak_score, 4),
            "value": self.value,
            "expected": None if self.expected != self.expected else self.expected,
        }


@dataclass(frozen=True, slots=True)
class Episode:
    """Consecutive anomalous points across one or more metrics."""

    id: int | None
    start_ts: float
    end_ts: float
    peak_score: float
    closed: bool
    metrics: tuple[EpisodeMetric, ...]

    @property
    def duration_s(self) -> float:
        return self.end_ts - self.start_ts

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "start": self.start_ts,
            "end": self.end_ts,
            "duration_s": self.duration_s,
            "peak_score": round(self.peak_score, 4),
            "closed": self.closed,
            "metrics": [m.metric for m in self.metrics],
            "details": [m.to_dict() for m in self.metrics],
        }


def save_episode(store: MetricStore, episode: Episode) -> Episode:
    """Insert (``id`` None) or overwrite an episode; return it with its id."""
    body = json.dumps([m.to_dict() for m in episode.metrics])
    row = (episode.start_ts, episode.end_ts, episode.peak_score, int(episode.closed), body)
    with store.transaction() as conn:
        if episode.id is None:
            cur = conn.execute(
                "INSERT INTO episode (start_ts, end_ts, peak_score, closed, body) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            )
            new_id = int(cur.lastrowid or 0)
        else:
            conn.execute(
                "UPDATE episode SET start_ts = ?, end_ts = ?, peak_score = ?, closed = ?, "
                "body = ? WHERE id = ?",
                (*row, episode.id),
            )
            new_id = episode.id
    return Episode(
        new_id,
        episode.start_ts,
        episode.end_ts,
        episode.peak_score,
        episode.closed,
        episode.metrics,
    )


def close_open_episodes(store: MetricStore) -> int:
    """Mark every episode left open (by a stopped process) closed; return how many."""
    with store.transaction() as conn:
        return conn.execute("UPDATE episode SET closed = 1 WHERE closed = 0").rowcount


def load_episodes(
    store: MetricStore, *, since: float | None = None, metric: str | None = None, limit: int = 100
) -> list[Episode]:
    """Episodes that end at or after ``since`` (and name ``metric``), newest first."""
    rows = store.read(
        "SELECT id, start_ts, end_ts, peak_score, closed, body FROM episode "
        "WHERE end_ts >= ? ORDER BY start_ts DESC",
        (float("-inf") if since is None else float(since),),
    )
    found: list[Episode] = []
    for id_, start, end, peak, closed, body in rows:
        metrics = tuple(
            EpisodeMetric(
                d["metric"],
                d["first_ts"],
                d["peak_ts"],
                d["peak_score"],
                d["value"],
                float("nan") if d["expected"] is None else d["expected"],
            )
            for d in json.loads(body)
        )
        if metric is not None and metric not in {m.metric for m in metrics}:
            continue
        found.append(Episode(id_, start, end, peak, bool(closed), metrics))
        if len(found) >= limit:
            break
    return found
