"""The alarm rule: per-file normalisation, debouncing, and a threshold within a budget."""

from __future__ import annotations

import numpy as np
import pytest

from foresight.risk import alarm_rule, alarms
from foresight.risk.alarm_rule import AlarmRule, Budget

STEP_S = 60.0


def _scores(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 / (1.0 + np.exp(-rng.normal(-2.0, 0.5, size=n)))


def test_debounce_waits_min_rows_and_holds_with_hysteresis() -> None:
    z = np.array([0, 5, 0, 5, 5, 5, 4, 5, 3, 5, 5, np.nan, 5], dtype=float)
    assert alarm_rule.debounce(z, 5, 2, 0).astype(int).tolist() == [
        0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0
    ]  # fmt: skip
    # the hysteresis keeps the 4 (>= 5 - 1.5) in alarm; the 3 and the gap end it
    assert alarm_rule.debounce(z, 5, 2, 1.5).astype(int).tolist() == [
        0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0
    ]  # fmt: skip
    assert alarm_rule.debounce(z, 5, 1, 0).astype(int).tolist() == [
        0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1
    ]  # fmt: skip


def test_normalised_score_is_causal_and_silent_in_the_warmup() -> None:
    score = _scores(3000)
    z = alarm_rule.normalised_score(score, 120)
    assert np.isnan(z[:120]).all() and np.isfinite(z[120:]).all()
    changed = score.copy()
    changed[2000:] = 0.99
    assert np.array_equal(alarm_rule.normalised_score(changed, 120)[:2000], z[:2000], True)


def test_a_machine_that_scores_higher_overall_gets_the_same_alarms() -> None:
    """Per-file normalisation: a constant offset in logit (a machine the model reads as
    riskier everywhere) changes no alarm, so a threshold learned elsewhere transfers."""
    score = _scores(4000, seed=3)
    score[2500:2510] = 0.9  # a burst
    logit = np.log(score / (1 - score))
    shifted = 1 / (1 + np.exp(-(logit + 1.5)))
    rule = AlarmRule(4.0, 2, 1.0)
    a, b = rule.apply(score, STEP_S), rule.apply(shifted, STEP_S)
    assert a[2501:2510].all() and np.array_equal(a, b)  # on from the 2nd row (min_rows)


def test_an_early_incident_does_not_lift_the_bar_for_a_later_one() -> None:
    """The old share rule (a tail quantile of earlier scores) misses the second burst
    once the first has filled the tail; the median-based rule still catches it."""
    score = _scores(6000, seed=4)
    score[1000:1120] = 0.95  # a long early incident
    score[5000:5010] = 0.9  # lower than the first, far above the quiet rows
    rule = AlarmRule(4.0, 1, 0.0)
    assert rule.apply(score, STEP_S)[5000:5010].all()
    assert not alarms.relative_alarms(score, 0.01, 120)[5000:5010].any()


def test_choose_rule_keeps_within_the_budget_and_prefers_recall() -> None:
    rng = np.random.default_rng(5)
    n = 3 * 1440
    incident = np.zeros(n, dtype=bool)
    score = _scores(n, seed=5)
    for start in (600, 1700, 2900, 3800):
        incident[start : start + 20] = True
        score[start : start + 20] = 0.8 + 0.1 * rng.random(20)
    noise = rng.choice(n, 30, replace=False)
    score[noise] = 0.7  # single-minute blips: false alarms unless debounced
    budget = Budget(false_alarms_per_day=1.0, alarm_time_ratio=0.05)
    rule, seen = alarm_rule.choose_rule([score], [incident], 1800, [STEP_S], budget)
    assert seen.event_recall == 1.0
    assert seen.false_alarms_per_day <= 1.0 and seen.alarm_time_ratio <= 0.05
    again = alarms.count_alarms(rule.apply(score, STEP_S), incident, 30, STEP_S)
    assert again == seen


def test_a_zero_budget_spends_no_alarm_time_on_the_training_scores() -> None:
    score = _scores(2000, seed=6)
    incident = np.zeros(2000, dtype=bool)
    incident[1500:1510] = True
    rule, seen = alarm_rule.choose_rule([score], [incident], 1800, [STEP_S], Budget(0.0, 0.0))
    assert seen.alarm_rows == 0 and seen.false_alarms == 0
    assert not rule.apply(score, STEP_S).any()


def test_rule_round_trips_and_rejects_unknown_transforms() -> None:
    rule = AlarmRule(3.5, 2, 1.0, transform="log1p")
    assert AlarmRule.from_dict(rule.to_dict()) == rule
    with pytest.raises(ValueError, match="unknown score transform"):
        AlarmRule(3.0, transform="sqrt").apply(np.ones(10), STEP_S)


def _ar1_logit_stream(n: int, seed: int) -> np.ndarray:
    """Probabilities whose logit is AR(1) noise around -3 (no incident anywhere)."""
    rng = np.random.default_rng(seed)
    logit = np.zeros(n)
    shocks = rng.normal(0.0, 0.6, n)
    for i in range(1, n):
        logit[i] = 0.9 * logit[i - 1] + shocks[i]
    return 1.0 / (1.0 + np.exp(-(logit - 3.0)))


def test_budget_rule_meets_the_false_alarm_budget_on_incident_free_time() -> None:
    """On a stream with known incident-free noise, the chosen threshold spends at most the
    budget, the next lower one on the grid would overspend it, and the incidents (only
    there to mark which alarms are false) do not move the threshold."""
    n = 6 * 1440
    score = _ar1_logit_stream(n, seed=11)
    incident = np.zeros(n, dtype=bool)
    budget = Budget(false_alarms_per_day=1.0, alarm_time_ratio=0.05)
    rule, seen = alarm_rule.budget_rule([score], [incident], 1800, [STEP_S], budget)
    assert seen.false_alarms_per_day <= 1.0 and seen.alarm_time_ratio <= 0.05
    assert rule.min_rows == alarm_rule.BUDGET_MIN_ROWS
    assert rule.refractory_s == alarm_rule.BUDGET_REFRACTORY_S
    # the noise does raise alarms: the threshold is the budget's, not the grid's floor
    grid = alarm_rule.BUDGET_THRESHOLDS_Z
    assert rule.threshold_z > grid[0]
    lower = AlarmRule(
        grid[grid.index(rule.threshold_z) - 1],
        rule.min_rows,
        rule.hysteresis_z,
        refractory_s=rule.refractory_s,
        max_alarm_s=rule.max_alarm_s,
    )
    over = alarms.count_alarms(lower.apply(score, STEP_S), incident, 30, STEP_S)
    assert over.false_alarms_per_day > 1.0 or over.alarm_time_ratio > 0.05
    # the chosen rule's alarms on the stream are what it reported
    assert alarms.count_alarms(rule.apply(score, STEP_S), incident, 30, STEP_S) == seen
    # a tighter budget gives a stricter threshold
    strict, _ = alarm_rule.budget_rule([score], [incident], 1800, [STEP_S], Budget(0.3, 0.05))
    assert strict.threshold_z > rule.threshold_z


def test_budget_rule_counts_only_incident_free_alarms_as_false() -> None:
    """Incidents whose scores stand out do not make a threshold over budget: their
    alarms are true, and the threshold stays where the quiet noise alone puts it."""
    n = 6 * 1440
    score = _ar1_logit_stream(n, seed=12)
    quiet = np.zeros(n, dtype=bool)
    budget = Budget(1.0, 0.05)
    alone, _ = alarm_rule.budget_rule([score], [quiet], 1800, [STEP_S], budget)
    incident = quiet.copy()
    bursts = score.copy()
    for start in (2000, 4500, 7000):
        incident[start : start + 30] = True
        bursts[start : start + 30] = 0.95
    with_incidents, seen = alarm_rule.budget_rule([bursts], [incident], 1800, [STEP_S], budget)
    assert abs(with_incidents.threshold_z - alone.threshold_z) <= 0.5
    assert seen.caught == 3 and seen.false_alarms_per_day <= 1.0


def test_one_excursion_is_one_alarm() -> None:
    """An excursion that dips out of alarm and back within the refractory period is one
    episode, and an episode stays in alarm for at most max_alarm_s."""
    z = np.zeros(600)
    z[100:110] = 6.0
    z[125:135] = 6.0  # back 15 minutes later: the same excursion
    z[200:400] = 6.0  # a long one: in alarm for an hour, then resolved
    plain = AlarmRule(5.0, 2, 1.0)
    shaped = AlarmRule(5.0, 2, 1.0, refractory_s=1800.0, max_alarm_s=3600.0)
    assert len(alarms.runs(plain.flags(z, STEP_S))) == 3
    flags = shaped.flags(z, STEP_S)
    episodes = alarms.runs(flags)
    assert episodes == [(101, 135), (201, 261)]
    incident = np.zeros(600, dtype=bool)
    assert alarms.count_alarms(flags, incident, 30, STEP_S).false_alarms == 2
    assert AlarmRule.from_dict(shaped.to_dict()) == shaped


def test_select_rule_rejects_an_unknown_selection() -> None:
    with pytest.raises(ValueError, match="selection must be one of"):
        alarm_rule.select_rule("f1", [np.ones(10)], [np.zeros(10, bool)], 1800, [STEP_S], Budget())
