"""The live monitor's per-metric anomaly detectors, warmed on the store's recent history.

A detector needs a few hundred points before it scores (its warm-up) and a few thousand
for a settled likelihood. Built fresh at every start, it would stay silent for minutes
after each restart; instead it first reads the metric's last ``history_s`` of raw values
from the store (what a previous run recorded) and learns from them without alerting.
Each detector gets its metric's minimum meaningful change from the catalog, and a slow
time scale of ``CONFIRM_SAMPLES`` raw scores (a minute at the default 1-s interval): an
episode opens only once that scale agrees (``foresight.live.episodes``), so a single
odd sample (a 5-ms probe, one disk flush) is not an incident.
"""

from __future__ import annotations

import logging

import numpy as np

from foresight.core.catalog import metric_info
from foresight.models.anomaly import AnomalyDetector
from foresight.store.metric_store import MetricStore

logger = logging.getLogger(__name__)

MAX_WARM_POINTS = 4000
CONFIRM_SAMPLES = 60


def warmed_detector(
    store: MetricStore, metric: str, before_ts: float, history_s: float
) -> AnomalyDetector:
    """A detector for ``metric`` that has seen its raw values in ``[before - history, before)``."""
    detector = AnomalyDetector(
        min_change=metric_info(metric).min_change, confirm_window=CONFIRM_SAMPLES
    )
    if history_s <= 0:
        return detector
    points = store.query([metric], before_ts - history_s, before_ts, limit=MAX_WARM_POINTS)
    values = np.array([v for t, v in points.get(metric, []) if t < before_ts], dtype=float)
    if len(values):
        detector.score_many(values)
        logger.debug("anomaly detector for %s warmed on %d stored values", metric, len(values))
    return detector
