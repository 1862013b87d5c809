"""Causal features and alarm figures: exact small cases and invariants."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.risk import alarms
from foresight.risk.features import FeatureConfig, build_features, max_z_score, robust_z


def test_window_labels_mark_in_progress_and_the_horizon_before() -> None:
    incident = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
    assert alarms.window_labels(incident, 2).astype(int).tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    assert alarms.window_labels(incident, 0).tolist() == incident.tolist()


def test_runs_merge_gaps_no_longer_than_merge_rows() -> None:
    flags = np.array([1, 1, 0, 1, 0, 0, 0, 1], dtype=bool)
    assert alarms.runs(flags) == [(0, 2), (3, 4), (7, 8)]
    assert alarms.runs(flags, merge_rows=1) == [(0, 4), (7, 8)]
    assert alarms.runs(np.zeros(3, dtype=bool)) == []


def test_count_alarms_event_recall_false_alarms_and_lead() -> None:
    step = 60.0
    n = 2 * 1440  # two days of minutes
    incident = np.zeros(n, dtype=bool)
    incident[1000:1030] = True  # caught 5 min before its start
    incident[2000:2030] = True  # missed
    alarm = np.zeros(n, dtype=bool)
    alarm[995:1000] = True
    alarm[500:505] = True  # far from any incident: one false alarm
    counts = alarms.count_alarms(alarm, incident, horizon_rows=30, step_s=step)
    assert (counts.events, counts.caught, counts.false_alarms) == (2, 1, 1)
    assert counts.event_recall == 0.5
    assert counts.false_alarms_per_day == pytest.approx(0.5)
    assert counts.median_lead_s == 300.0
    assert counts.alarm_time_ratio == pytest.approx(10 / n)


def test_an_alarm_after_the_first_ten_minutes_does_not_catch() -> None:
    incident = np.zeros(200, dtype=bool)
    incident[100:150] = True
    late = np.zeros(200, dtype=bool)
    late[115] = True
    assert alarms.count_alarms(late, incident, 30, 60.0).caught == 0
    early = np.zeros(200, dtype=bool)
    early[105] = True
    counts = alarms.count_alarms(early, incident, 30, 60.0)
    assert counts.caught == 1 and counts.median_lead_s == -300.0  # alerts at onset


def test_relative_alarms_are_causal_and_respect_warmup() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(3000)
    a = alarms.relative_alarms(score, 0.01, warmup_rows=500)
    assert not a[:500].any()
    assert 0.002 < a.mean() < 0.03
    # changing the future does not change the past alarms
    changed = score.copy()
    changed[2000:] = 0.0
    assert (alarms.relative_alarms(changed, 0.01, 500)[:2000] == a[:2000]).all()


def test_robust_z_uses_only_the_past_inside_the_reference() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(10, 2, size=(400, 3))
    z = robust_z(values, 100)
    changed = values.copy()
    changed[50:] += 100.0
    assert np.allclose(robust_z(changed, 100)[:50], z[:50])
    # after the reference: the frozen median and scale
    assert abs(np.median(z[100:])) < 0.3


def test_robust_z_never_divides_by_a_zero_spread() -> None:
    values = np.zeros((50, 1))
    values[40] = 1.0
    z = robust_z(values, 20)
    assert np.isfinite(z).all() and z[40, 0] > 100


def test_features_are_causal_and_named() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=(600, 4))
    config = FeatureConfig(short_s=300, long_s=1800, reference_s=6000)
    f = build_features(values, ["a", "b", "c", "d"], 60.0, config)
    assert f.matrix.shape == (600, len(f.names)) == (600, len(f.groups))
    assert "a:z" in f.names and "agg:max_abs_z" in f.names
    assert set(f.groups) == {"a", "b", "c", "d", "agg"}
    changed = values.copy()
    changed[300:] *= 50
    g = build_features(changed, ["a", "b", "c", "d"], 60.0, config)
    assert np.allclose(f.matrix[:300], g.matrix[:300])
    assert not np.allclose(f.matrix[300:], g.matrix[300:])


def test_gaps_are_carried_forward_not_zeroed() -> None:
    values = np.array([[5.0], [np.nan], [7.0]] * 20)
    f = build_features(values, ["x"], 60.0)
    assert np.isfinite(f.matrix).all()
    assert f.matrix[1, f.names.index("x:value")] == 5.0


def test_max_z_rule_rises_on_a_jump_and_holds_five_minutes() -> None:
    values = np.random.default_rng(3).normal(size=(2000, 2))
    values[1500, 1] = 40.0
    z = max_z_score(values, 60.0)
    assert z[1500] > 10 and z[1504] == z[1500] and z[1506] < z[1500]


def test_steady_state_features_line_up_with_the_history_features() -> None:
    from foresight.risk.features import reference_stats, steady_state_features

    rng = np.random.default_rng(4)
    constant = np.tile(rng.normal(size=(1, 3)), (400, 1))  # a series that never moves
    config = FeatureConfig()
    full = build_features(constant, ["a", "b", "c"], 60.0, config)
    median, scale = reference_stats(constant, 100)
    steady = steady_state_features(constant[-1:], ["a", "b", "c"], median, scale)
    assert steady.names == full.names
    assert np.allclose(steady.matrix[0], full.matrix[-1], atol=1e-5)
