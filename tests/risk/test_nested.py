"""The first-half check: model choice and alarm rule chosen on the other blocks' out-of-fold
scores, judged on the left-out block (training rows only)."""

from __future__ import annotations

import numpy as np

from foresight.risk.model import LabelledFile, RiskModel, choose_members
from foresight.risk.nested import first_half_check
from tests.risk.test_within import STEP_S, incident_machine


def test_choose_members_takes_the_better_score_or_a_better_vote() -> None:
    rng = np.random.default_rng(0)
    target = np.zeros(4000, dtype=bool)
    target[::40] = True
    rows = np.ones(len(target), dtype=bool)
    good = target + rng.normal(0, 0.3, len(target))
    noise = rng.normal(0, 1, len(target))
    chosen, best = choose_members(("noise", "good"), {"noise": noise, "good": good}, target, rows)
    assert chosen == ["good"] and best > 0.5
    # two halves of the signal: each alone is weaker than their mean
    half_a = target * rng.integers(0, 2, len(target)) + rng.normal(0, 0.3, len(target))
    half_b = target * (1 - (half_a > 0.5)) + rng.normal(0, 0.3, len(target))
    scores = {"a": half_a, "b": half_b}
    chosen, best = choose_members(("a", "b"), scores, target, rows)
    assert sorted(chosen) == ["a", "b"]


def test_first_half_check_scores_each_left_out_block() -> None:
    f = incident_machine(12, 3)
    lf = LabelledFile("m", f.values, f.incident, STEP_S)
    model = RiskModel(
        1800,
        ("lr",),
        validation="blocked",
        max_false_alarms_per_day=1.0,
        max_alarm_ratio=0.05,
        rule_preference="sensitive",
        rule_selection="budget",
    ).fit([lf], list(f.metrics))
    check = first_half_check(model)
    assert check is not None
    assert check["choices"] == ["lr"] * len(check["choices"]) and len(check["choices"]) >= 2
    assert check["candidates_pr_auc"]["lr"] == check["choice_pr_auc"]
    # the incidents are clear: the held-out blocks' rules catch most at a low rate
    assert check["events"] >= 6 and (check["event_recall"] or 0) >= 0.6
    # pooled within the tolerance; one left-out block may run hotter (it is reported)
    assert check["false_alarms_per_day"] <= 1.5
    assert check["max_false_alarms_per_day"] >= check["false_alarms_per_day"]
    assert check["alarm_time_ratio"] <= 0.08
    base = float(model.oof_.target[model.oof_.scored].mean())
    assert (check["choice_pr_auc"] or 0) > 3 * base
    # forward validation keeps no out-of-fold scores to check
    forward = RiskModel(1800, ("lr",)).fit([lf], list(f.metrics))
    assert first_half_check(forward) is None
