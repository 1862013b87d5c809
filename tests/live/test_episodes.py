"""Episodes: grouping anomalous points across metrics, persistence, restart, the API."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from foresight.live.episodes import EpisodeTracker, PointScore
from foresight.live.models import EXTRAS_KEY
from foresight.store.episodes import load_episodes
from foresight.store.metric_store import SCHEMA_VERSION, MetricStore
from metrics_collector import Sample

QUIET = PointScore(value=10.0, expected=10.0, score=0.0, surprise=0.0)


def hot(score: float, value: float = 99.0, surprise: float = 0.0) -> PointScore:
    return PointScore(value=value, expected=10.0, score=score, surprise=surprise)


def test_points_across_metrics_become_one_episode(store):
    tracker = EpisodeTracker(store, threshold=0.5, close_after_s=30.0)
    assert tracker.observe(100.0, {"cpu_percent": QUIET, "load1": QUIET}) is None
    # A likelihood above the threshold alone does not open an episode (no alert yet) ...
    assert tracker.observe(101.0, {"cpu_percent": hot(0.0, surprise=0.9)}) is None
    tracker.observe(102.0, {"cpu_percent": hot(0.8), "load1": QUIET})
    # ... an elevated metric that never alerts does not join one, an alerting one does,
    # and a run goes on while its likelihood stays at the threshold.
    tracker.observe(104.0, {"cpu_percent": hot(0.0, surprise=0.9), "disk_percent": hot(0, 1, 0.9)})
    tracker.observe(106.0, {"cpu_percent": hot(0.0, surprise=0.9), "load1": hot(0.6, 3.0)})
    tracker.observe(110.0, {"cpu_percent": hot(0.0, surprise=0.95), "load1": hot(0.0, 3.0, 0.7)})
    tracker.observe(115.0, {"cpu_percent": QUIET, "load1": QUIET})
    # Once a run has ended, its likelihood alone does not extend the episode.
    tracker.observe(125.0, {"cpu_percent": hot(0.0, surprise=0.9), "load1": QUIET})
    episode = tracker.observe(141.0, {"cpu_percent": QUIET})  # 31 s quiet: closed
    assert episode is None
    (only,) = load_episodes(store)
    assert only.closed and (only.start_ts, only.end_ts) == (102.0, 110.0)
    assert [m.metric for m in only.metrics] == ["cpu_percent", "load1"]
    cpu = only.metrics[0]
    assert (cpu.peak_score, cpu.peak_ts, cpu.value, cpu.expected) == (0.95, 110.0, 99.0, 10.0)
    assert only.peak_score == 0.95
    body = only.to_dict()
    assert body["metrics"] == ["cpu_percent", "load1"] and body["duration_s"] == 8.0
    # A later alert is a new episode, listed first.
    tracker.observe(200.0, {"disk_percent": hot(0.6)})
    newest, older = load_episodes(store)
    assert newest.metrics[0].metric == "disk_percent" and not newest.closed
    assert older.id == only.id
    assert [e.id for e in load_episodes(store, metric="load1")] == [only.id]
    assert load_episodes(store, since=150.0)[0].id == newest.id


def test_episodes_survive_a_restart_and_open_ones_are_closed(tmp_path: Path):
    path = tmp_path / "history.db"
    with MetricStore(path) as first:
        EpisodeTracker(first, threshold=0.5).observe(100.0, {"cpu_percent": hot(0.9)})
        assert not load_episodes(first)[0].closed
    with MetricStore(path) as second:
        tracker = EpisodeTracker(second, threshold=0.5)  # the process that left it died
        (episode,) = tracker.recent()
        assert episode["closed"] and episode["metrics"] == ["cpu_percent"]
        assert episode["details"][0]["value"] == 99.0


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE metric (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
        "INSERT INTO metric (name) VALUES ('cpu_percent'); PRAGMA user_version = 1;"
    )
    conn.close()
    with MetricStore(path) as store:
        assert store.metric_names() == ["cpu_percent"]  # old rows kept
        assert load_episodes(store) == []
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    conn.close()


def test_bad_close_after_is_a_clear_error(store):
    with pytest.raises(ValueError, match="close_after_s"):
        EpisodeTracker(store, threshold=0.5, close_after_s=0)


def test_live_stage_records_an_episode_served_by_the_api(services, client):
    live = services.extras[EXTRAS_KEY]
    rng = np.random.default_rng(3)
    for i in range(800):  # the slow scale scores from 2 x 300 samples on
        cpu = 20.0 + rng.normal() if not 700 <= i < 740 else 100.0  # a 40-s stress burst
        live.stage(1000.0 + i, Sample(1000.0 + i, {"cpu_percent": cpu, "disk_percent": 55.0}))
    body = client.get("/api/anomalies").get_json()
    assert {"threshold", "anomalies", "scores", "episodes"} <= set(body)
    (episode,) = body["episodes"]
    assert episode["metrics"] == ["cpu_percent"]
    assert 1700.0 <= episode["start"] <= 1710.0 and episode["end"] >= episode["start"]
    assert episode["details"][0]["value"] > episode["details"][0]["expected"]
    assert client.get("/api/anomalies?metric=disk_percent").get_json()["episodes"] == []


def test_detectors_warm_on_stored_history_so_a_restart_is_not_blind(store):
    from foresight.live.detectors import warmed_detector
    from foresight.live.models import LiveModels

    rng = np.random.default_rng(4)
    store.append_many((1000.0 + i, {"cpu_percent": 20.0 + rng.normal()}) for i in range(1500))
    detector = warmed_detector(store, "cpu_percent", 2500.0, history_s=2000.0)
    assert detector.n_seen_ == 1500 and detector.min_change == 1.0  # from the catalog
    assert warmed_detector(store, "cpu_percent", 2500.0, history_s=0).n_seen_ == 0
    # A monitor started on that store flags a burst within seconds, not after a warm-up.
    live = LiveModels(store, lambda: ["cpu_percent"], warm_s=2000.0)
    for i in range(10):
        live.stage(2500.0 + i, Sample(2500.0 + i, {"cpu_percent": 100.0}))
    assert live.anomalies() and live.episodes.recent()[0]["start"] <= 2505.0


def confirming(score: float, surprise: float, confirm: float) -> PointScore:
    return PointScore(99.0, 10.0, score, surprise, confirm)


def test_an_episode_opens_only_once_the_slow_scale_confirms_the_run(store):
    tracker = EpisodeTracker(store, threshold=0.5, close_after_s=30.0)
    # One odd sample: the fast scale alerts, the slow one never gets there.
    assert tracker.observe(100.0, {"api_response_ms": confirming(0.9, 0.9, 0.2)}) is None
    assert tracker.observe(101.0, {"api_response_ms": confirming(0.0, 0.6, 0.3)}) is None
    assert tracker.observe(102.0, {"api_response_ms": confirming(0.0, 0.1, 0.3)}) is None
    assert load_episodes(store) == []
    # A change that lasts: the run started by the alert at 110 is confirmed at 113, and
    # the episode is dated from the alert; the unconfirmed run beside it does not join.
    tracker.observe(110.0, {"cpu_percent": confirming(0.9, 0.9, 0.1)})
    odd = confirming(0.8, 0.8, 0.1)
    tracker.observe(111.0, {"cpu_percent": confirming(0.0, 0.9, 0.3), "db_query_ms": odd})
    assert (
        tracker.observe(112.0, {"cpu_percent": confirming(0.0, 0.9, 0.45), "db_query_ms": odd})
        is None
    )
    episode = tracker.observe(113.0, {"cpu_percent": confirming(0.0, 0.8, 0.7), "db_query_ms": odd})
    assert episode is not None and (episode.start_ts, episode.end_ts) == (110.0, 113.0)
    assert [m.metric for m in episode.metrics] == ["cpu_percent"]
    # The slow scale alone keeps the run (and the episode) going ...
    assert tracker.observe(120.0, {"cpu_percent": confirming(0.0, 0.1, 0.6)}).end_ts == 120.0
    # ... until both scales are back under the threshold; then the fast likelihood
    # alone (no alert) does not extend it, the slow scale reaching it again does.
    tracker.observe(121.0, {"cpu_percent": confirming(0.0, 0.1, 0.2)})
    assert tracker.observe(125.0, {"cpu_percent": confirming(0.0, 0.9, 0.2)}).end_ts == 120.0
    assert tracker.observe(130.0, {"cpu_percent": confirming(0.0, 0.1, 0.6)}).end_ts == 130.0


def test_the_slow_scale_alone_opens_an_episode_when_the_fast_one_never_alerts(store):
    # A noisy metric: its first stressed points are not rare one by one (no alert), a
    # run of them is (the slow scale reaches the threshold): the episode starts there.
    tracker = EpisodeTracker(store, threshold=0.5, close_after_s=30.0)
    for ts, confirm in [(100.0, 0.1), (101.0, 0.3), (102.0, 0.45)]:
        assert tracker.observe(ts, {"cpu_percent": confirming(0.0, 0.3, confirm)}) is None
    episode = tracker.observe(103.0, {"cpu_percent": confirming(0.0, 0.3, 0.6)})
    assert episode is not None and episode.start_ts == 103.0
    assert tracker.running_since("cpu_percent") == 103.0
    tracker.observe(104.0, {"cpu_percent": confirming(0.0, 0.2, 0.55)})
    tracker.observe(105.0, {"cpu_percent": confirming(0.0, 0.2, 0.3)})
    assert tracker.running_since("cpu_percent") is None
    (only,) = load_episodes(store)
    assert (only.start_ts, only.end_ts) == (103.0, 104.0)
    assert [m.metric for m in only.metrics] == ["cpu_percent"]


def shared_host_cpu(rng: np.random.Generator, count: int) -> np.ndarray:
    """0.1-s CPU readings of a host other jobs share: idle 0-10 %, bursts of 30-80 %."""
    out, busy = np.empty(count), False
    for i in range(count):
        busy = not busy if rng.random() < (0.2 if busy else 0.05) else busy
        out[i] = rng.uniform(30.0, 80.0) if busy else 5.0 * rng.integers(0, 3)
    return out


def test_a_stress_test_on_a_noisy_cpu_is_an_episode_though_no_point_alerts(store):
    # The shape of the live test's failure (0.1-s samples on a shared host): every
    # stressed reading is within the idle bursts' range, so the fast scale never alerts;
    # the slow scale's crossing starts the run and the episode.
    from foresight.live.anomaly_stage import AnomalyStage

    rng = np.random.default_rng(0)
    cpu = shared_host_cpu(rng, 1500)
    cpu[1200:] = np.where(rng.random(300) < 0.1, 95.0, 100.0)  # 30 s of 2 cores burnt
    stage = AnomalyStage(store, episode_gap_s=6.0)
    for i, value in enumerate(cpu):
        ts = 1000.0 + 0.1 * i
        stage.stage(ts, Sample(ts, {"cpu_percent": float(value)}))
    stress_s = 1120.0
    found = [e for e in stage.episodes.recent() if "cpu_percent" in e["metrics"]]
    assert found and stress_s <= found[-1]["start"] <= stress_s + 5.0, found  # 50 samples
    assert all(a["score"] < 0.5 or a["timestamp"] >= stress_s for a in stage.anomalies())
    # The crossing is the alert listed for it (a chart mark), at the episode's start.
    assert [a["timestamp"] for a in stage.anomalies()] == [found[-1]["start"]]


def test_a_stress_test_on_a_noisy_1s_cpu_is_an_episode_within_30_s(store):
    # The default interval: a 1-s reading is the mean of ten 0.1-s ones. On six shared
    # hosts (seeds) a 60-s 2-core stress test is an episode naming cpu within 30 s of its
    # start, and their 12 scored idle minutes before it open none.
    from foresight.live.anomaly_stage import AnomalyStage

    starts = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        cpu = shared_host_cpu(rng, 14_600).reshape(-1, 10).mean(axis=1)
        cpu[1400:] = np.minimum(100.0, 99.0 + rng.random(60))
        stage = AnomalyStage(MetricStore(store.path.with_name(f"seed{seed}.db")))
        for i, value in enumerate(cpu):
            stage.stage(1000.0 + i, Sample(1000.0 + i, {"cpu_percent": float(value)}))
        episodes = stage.episodes.recent()
        assert [e for e in episodes if e["start"] < 2400.0] == []
        (stress,) = episodes
        assert "cpu_percent" in stress["metrics"]
        starts.append(stress["start"] - 2400.0)
    assert max(starts) <= 30.0, starts
