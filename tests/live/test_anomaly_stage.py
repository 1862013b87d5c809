"""The anomaly stage's per-metric shortcut: a metric with no anomaly in the window
answers at once, and never hides one that is there (the alert rules ask every tick)."""

from __future__ import annotations

import numpy as np

from foresight.live.anomaly_stage import AnomalyStage

T0 = 1_800_000_000.0


def test_a_metrics_window_lists_exactly_its_anomalies(store):
    stage = AnomalyStage(store)
    rng = np.random.default_rng(3)
    rows = []
    for i in range(1500):
        values = {"a": 10.0 + rng.normal(0, 0.2), "b": 50.0 + rng.normal(0, 0.2)}
        if i in (700, 1100):
            values["a"] += 40.0
        if i == 1300:
            values["b"] -= 45.0
        rows.append((T0 + i, values))
    stage.score_pushed(rows)
    # a late push of an older point of a new series is listed too
    stage.score_pushed([(T0 + i, {"c": 1.0 if i != 900 else 90.0}) for i in range(1000)])
    everything = stage.anomalies(limit=10_000)
    assert {a["metric"] for a in everything} == {"a", "b", "c"}
    for metric in ("a", "b", "c", "absent"):
        for since in (T0, T0 + 650, T0 + 750, T0 + 899, T0 + 950, T0 + 1250, T0 + 1400):
            expected = [a for a in everything if a["metric"] == metric and a["timestamp"] >= since]
            assert stage.anomalies(since=since, metric=metric, limit=10_000) == expected


def test_per_metric_windows_equal_a_pass_over_the_ring_after_it_wraps(store):
    # More anomalies than the ring holds: the oldest leave it, and each metric's own list
    # with them; every (metric, since) answer equals a filter of the ring.
    stage = AnomalyStage(store, max_anomalies=12)
    rng = np.random.default_rng(8)
    metrics = ["a", "b", "c"]
    rows = []
    for i in range(3000):
        values = {m: 10.0 + rng.normal(0, 0.2) for m in metrics}
        if i > 700 and i % 150 == 0:  # a larger jump each time: each one alerts
            values[metrics[(i // 150) % 3]] += 40.0 * (i // 150)
        rows.append((T0 + i, values))
    stage.score_pushed(rows)
    ring = list(stage._anomalies)
    assert len(ring) == 12 and ring[0].timestamp > T0 + 1000  # it wrapped
    for metric in metrics:
        for since in (None, T0, ring[0].timestamp, ring[6].timestamp, T0 + 2990):
            want = sorted(
                (a for a in ring if a.metric == metric and (since is None or a.timestamp >= since)),
                key=lambda a: a.timestamp,
                reverse=True,
            )
            got = stage.anomalies(since=since, metric=metric, limit=10_000)
            assert got == [a.to_dict() for a in want]
    assert sum(len(v) for v in stage._by_metric.values()) == 12


def _reopened(store):
    from foresight.store.metric_store import MetricStore

    return MetricStore(store.path)


def test_listed_anomalies_survive_a_restart(store):
    # Pushed points and the cycle's confirmed ones alike: a new stage on the same store
    # (a restart) lists what the old one listed, chart marks and the rules' window.
    from types import SimpleNamespace

    stage = AnomalyStage(store)
    rng = np.random.default_rng(5)
    for i in range(1500):
        values = {"a": 10.0 + rng.normal(0, 0.2), "b": 50.0 + rng.normal(0, 0.2)}
        if 1200 <= i < 1230:
            values["a"] += 40.0
        stage.stage(T0 + i, SimpleNamespace(timestamp=T0 + i, values=values))
    cycle = stage.anomalies(limit=10_000)
    assert cycle and {a["metric"] for a in cycle} == {"a"}
    stage.score_pushed([(T0 + 2000 + i, {"c": 1.0 if i != 900 else 90.0}) for i in range(1000)])
    before = stage.anomalies(limit=10_000)
    assert len(before) > len(cycle)
    again = AnomalyStage(_reopened(store))
    assert again.anomalies(limit=10_000) == before
    for metric in ("a", "c"):
        assert again.anomalies(since=T0, metric=metric) == stage.anomalies(since=T0, metric=metric)


def test_a_restart_reloads_the_newest_ring_full(store):
    stage = AnomalyStage(store, max_anomalies=12)
    rng = np.random.default_rng(8)
    rows = []
    for i in range(3000):
        values = {m: 10.0 + rng.normal(0, 0.2) for m in "abc"}
        if i > 700 and i % 150 == 0:
            values["abc"[(i // 150) % 3]] += 40.0 * (i // 150)
        rows.append((T0 + i, values))
    stage.score_pushed(rows)
    assert len(stage._anomalies) == 12
    again = AnomalyStage(_reopened(store), max_anomalies=12)
    assert list(again._anomalies) == list(stage._anomalies)
    assert again._newest == stage._newest
    assert {m: list(v) for m, v in again._by_metric.items()} == {
        m: list(v) for m, v in stage._by_metric.items()
    }
