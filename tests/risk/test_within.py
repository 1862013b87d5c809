"""Within-machine evaluation: the operating point comes from the first half only and
still catches the second half's incidents at a low false-alarm rate."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.risk import alarm_rule, alarms
from foresight.risk.data import MetricFile
from foresight.risk.evaluate import evaluate
from foresight.risk.model import LabelledFile, RiskModel

STEP_S = 60.0
DAY_ROWS = 1440


def incident_machine(days: int, seed: int, last_start: int | None = None) -> MetricFile:
    """Eight metrics with daily cycles and AR(1) noise; every ~20 h an incident of 10 to
    60 minutes lifts 2 to 4 metrics by 4 to 8 of their noise widths over a few minutes
    (none starts after ``last_start``)."""
    rng = np.random.default_rng(seed)
    n, m = days * DAY_ROWS, 8
    t = np.arange(n)
    level = rng.uniform(10, 50, m)
    cycle = np.sin(2 * np.pi * t[:, None] / DAY_ROWS + rng.uniform(0, 2 * np.pi, m))
    noise = np.zeros((n, m))
    shocks = rng.normal(0, 1, (n, m))
    for i in range(1, n):
        noise[i] = 0.8 * noise[i - 1] + shocks[i]
    values = level + 3 * cycle + noise
    incident = np.zeros(n, dtype=bool)
    start = DAY_ROWS + int(rng.integers(60, 600))  # none in the reference day
    while start < min(n - 120, last_start or n):
        length = int(rng.integers(10, 61))
        cols = rng.choice(m, size=int(rng.integers(2, 5)), replace=False)
        ramp = np.minimum(1.0, (np.arange(length) + 1) / 4.0)
        lift = rng.uniform(4, 8, len(cols)) * 1.7  # the AR noise's width is ~1.7
        values[start : start + length, cols] += ramp[:, None] * lift
        incident[start : start + length] = True
        start += length + int(rng.integers(900, 1500))
    times = t * STEP_S + 1_800_000_000.0
    metrics = tuple(f"m{i}" for i in range(m))
    return MetricFile(f"machine-{seed}", times, metrics, values, incident, STEP_S)


@pytest.mark.parametrize("seed", [3, 4])
def test_within_mode_catches_most_incidents_at_a_low_false_alarm_rate(seed: int) -> None:
    f = incident_machine(16, seed)
    result = evaluate([f], [f], 1800, ("lr", "rf"), within=True)
    assert result["mode"] == "within" and result["events"] >= 6
    # chosen on the first half only, reported on the second: most incidents caught ...
    assert result["event_recall"] >= 0.6, result["per_file"]
    # ... within the within-machine tolerances, and far above chance
    assert result["false_alarms_per_day"] <= 1.5
    assert result["alarm_time_ratio"] <= 0.08
    assert result["event_recall"] >= 3 * (result["event_recall_chance"] or 0.0) + 0.3
    assert result["pr_auc"] > 3 * result["base_rate"]


def test_blocked_validation_scores_a_history_whose_incidents_come_early() -> None:
    """Incidents only in the first 4 of 12 days: forward folds have no incident to validate
    on; blocked folds still score those incidents out of fold and choose on them."""
    f = incident_machine(12, 5, last_start=4 * DAY_ROWS - 200)
    assert len(alarms.runs(f.incident[DAY_ROWS:])) >= 2
    assert not f.incident[4 * DAY_ROWS :].any()  # forward validates on days 4 to 12
    lf = LabelledFile("early", f.values, f.incident, STEP_S)
    blocked = RiskModel(1800, ("lr",), validation="blocked").fit([lf], list(f.metrics))
    assert (blocked.alarm_training_["event_recall"] or 0) > 0.5
    assert (blocked.validation_pr_auc_ or 0) > 3 * blocked.validation_base_rate_
    with pytest.raises(ValueError, match="no incident in the validation blocks"):
        RiskModel(1800, ("lr",)).fit([lf], list(f.metrics))


def test_blocked_folds_split_the_incidents_and_keep_a_gap_on_both_sides() -> None:
    incident = np.zeros(3000, dtype=bool)
    for start in (300, 900, 1100, 2500):  # the first one is in the reference period
        incident[start : start + 10] = True
    model = RiskModel(1800, ("lr",), n_blocks=3, validation="blocked")
    block, before, after, reference = model._layout(incident, STEP_S)
    assert model.warmup_rows(3000, STEP_S) == 750 and reference[:750].all()
    # one scored incident per block, cut in the middle of the quiet gaps between them
    assert [int(block[s]) for s in (900, 1100, 2500)] == [0, 1, 2]
    first_1, first_2 = int(np.searchsorted(block, 1)), int(np.searchsorted(block, 2))
    assert first_1 == (910 + 1100) // 2 and first_2 == (1110 + 2500) // 2
    assert (np.diff(block) >= 0).all()  # consecutive blocks, never shuffled
    # forward folds: equal lengths
    forward = RiskModel(1800, ("lr",), n_blocks=3)._layout(incident, STEP_S)[0]
    assert int(np.searchsorted(forward, 1)) == 1000
    block, before, after, _ = RiskModel(1800, ("lr",), n_blocks=3)._layout(incident, STEP_S)
    # the horizon (30 rows) before each block, the longest window (60 rows) after it
    assert before[970:1000].all() and not before[969] and not before[1000]
    assert after[1000:1060].all() and not after[1060] and not after[999]
    assert reference[: model.warmup_rows(3000, STEP_S)].all() and not reference[-1]


def test_the_sensitive_preference_takes_the_lowest_tied_threshold() -> None:
    rng = np.random.default_rng(0)
    score = 1 / (1 + np.exp(-rng.normal(-3, 0.3, 6 * DAY_ROWS)))
    incident = np.zeros(len(score), dtype=bool)
    for start in (2000, 5000, 8000):
        incident[start : start + 20] = True
        score[start : start + 20] = 0.99  # every threshold catches them
    budget = alarm_rule.Budget(1.0, 0.05)
    args = ([score], [incident], 1800, [STEP_S], budget)
    middle, _ = alarm_rule.choose_rule(*args)
    sensitive, counts = alarm_rule.choose_rule(*args, prefer="sensitive")
    assert counts.event_recall == 1.0 and counts.false_alarms_per_day <= 1.0
    assert sensitive.threshold_z < middle.threshold_z
    with pytest.raises(ValueError, match="prefer"):
        alarm_rule.choose_rule(*args, prefer="loose")


def test_other_files_train_within_mode_only_up_to_the_test_half() -> None:
    """Machines on one clock share incidents: another file's rows of the test minutes
    would teach the model the incidents it is scored on (h-risk4 found 10 such pairs on
    the shared SMD machines). With a time column they stop where the second half starts;
    without one (row numbers, not a clock) the other file is used whole."""
    from dataclasses import replace

    from foresight.risk.evaluate import _splits

    f, other = incident_machine(4, 3), incident_machine(6, 4)
    half = len(f.values) // 2
    (split,) = _splits([f, other], [f], 1800, within=True)
    own, kept = split.train
    assert len(own.incident) == half
    assert len(kept.incident) == half  # the same start, so the same number of rows
    np.testing.assert_array_equal(kept.values, other.values[:half])
    later = replace(other, timestamps=other.timestamps + 10 * DAY_ROWS * STEP_S)
    assert [len(t.incident) for t in _splits([later], [f], 1800, True)[0].train] == [half]
    untimed = [replace(g, timed=False) for g in (f, other)]
    (split,) = _splits(untimed, untimed[:1], 1800, within=True)
    assert len(split.train[1].incident) == len(other.values)
