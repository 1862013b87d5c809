"""One evaluation's anomaly reads answer every metric as its own read of the detectors
does, in fewer passes over the recent anomalies."""

from __future__ import annotations

import numpy as np

from foresight.live.alerting import ANOMALY_LIMIT, AnomalyReads
from foresight.live.anomaly_stage import AnomalyStage

T0 = 1_800_000_000.0


class CountingStage(AnomalyStage):
    """The real anomaly stage, counting the reads that pass over its anomalies."""

    passes = 0

    def anomalies(self, since=None, metric=None, limit=100):
        found = super().anomalies(since=since, metric=metric, limit=limit)
        if found or metric is None:
            self.passes += 1
        return found


def test_anomaly_reads_equal_each_metrics_own_read(store):
    stage = CountingStage(store)
    rng = np.random.default_rng(4)
    rows = []
    for i in range(1500):
        values = {m: 10.0 + rng.normal(0, 0.2) for m in ("a", "b", "c", "d")}
        for metric, at in (("a", 700), ("a", 1100), ("b", 1300), ("c", 1301), ("c", 1450)):
            if i in range(at, at + 80, 3):  # runs of anomalies: more than one per metric
                values[metric] += 40.0 + i % 7
        rows.append((T0 + i, values))
    stage.score_pushed(rows)
    assert len({a["metric"] for a in stage.anomalies(limit=10_000)}) >= 3
    metrics = ("a", "b", "c", "d", "absent")
    for since in (T0, T0 + 650, T0 + 1250, T0 + 1400, T0 + 1600):
        reads = AnomalyReads(stage)
        stage.passes = 0
        for metric in metrics * 2:  # a rule asks each metric; another rule asks again
            own = AnomalyStage.anomalies(stage, since=since, metric=metric, limit=ANOMALY_LIMIT)
            assert reads(metric, since) == own
        assert stage.passes <= 2  # the first metric that has some, then the whole window
    assert AnomalyReads(None)("a", T0) == []
