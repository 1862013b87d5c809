"""A first-half-only check of the model choice and the alarm rule, before they are used.

With blocked validation every block of the training rows has out-of-fold scores. Leave
one block out: choose the model (``choose_members``) and the alarm rule (the same
selection and budget as the fit) on the other blocks' out-of-fold scores, then score the
left-out block with them. Pooled over the blocks, this says how the choice and the
operating point hold up on rows they were not chosen on, using the training rows only
(``risk-eval --within``: a machine's first half; the second half plays no part). It is
a report, not a second choice: with 2-5 incidents a machine, picking between rules on it
would be as noisy as the choice it checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from foresight.risk import alarm_rule, alarms
from foresight.risk.model import RiskModel, choose_members, pr_auc


def first_half_check(model: RiskModel) -> dict[str, Any] | None:
    """Leave-one-block-out figures of a model fitted with blocked validation (else None):
    ``choice_pr_auc`` (the model chosen on the other blocks, scored on the left-out one),
    ``candidates_pr_auc`` (each candidate on the same rows), ``choices`` (what each left-out
    block's choice was), and the alarm rule chosen on the other blocks, applied to the
    left-out one: ``events``, ``events_caught``, ``event_recall``,
    ``false_alarms_per_day``, ``alarm_time_ratio``, ``max_false_alarms_per_day`` (the
    worst block)."""
    oof = getattr(model, "oof_", None)
    if oof is None:
        return None
    budget = alarm_rule.Budget(model.max_false_alarms_per_day, model.max_alarm_ratio)
    seg_block = [int(oof.block[r[0]]) for r in oof.segments]
    held_target, held_score, choices = [], [], []
    held_candidates: dict[str, list[np.ndarray]] = {n: [] for n in model.models}
    counts = alarms.AlarmCounts()
    worst = 0.0
    for k in sorted(set(seg_block)):
        other = oof.scored & (oof.block != k)
        held = oof.scored & (oof.block == k)
        if not oof.target[other].any():
            continue
        chosen, _ = choose_members(model.models, oof.scores, oof.target, other)
        choices.append("+".join(chosen))
        score = np.mean([oof.scores[n] for n in chosen], axis=0)
        held_target.append(oof.target[held])
        held_score.append(score[held])
        for n in model.models:
            held_candidates[n].append(oof.scores[n][held])
        train_segs = [i for i, b in enumerate(seg_block) if b != k]
        rule, _ = alarm_rule.select_rule(
            model.rule_selection,
            [score[oof.segments[i]] for i in train_segs],
            [oof.segment_incidents[i] for i in train_segs],
            model.horizon_s,
            [oof.segment_steps[i] for i in train_segs],
            budget,
            prefer=model.rule_preference,
        )
        block_counts = alarms.AlarmCounts()
        for i in (i for i, b in enumerate(seg_block) if b == k):
            step = oof.segment_steps[i]
            flags = rule.apply(score[oof.segments[i]], step)
            horizon = max(1, round(model.horizon_s / step))
            block_counts = block_counts + alarms.count_alarms(
                flags, oof.segment_incidents[i], horizon, step
            )
        worst = max(worst, block_counts.false_alarms_per_day)
        counts = counts + block_counts
    if not choices:
        return None
    y = np.concatenate(held_target)
    return {
        "choice_pr_auc": pr_auc(y, np.concatenate(held_score)),
        "candidates_pr_auc": {
            n: pr_auc(y, np.concatenate(parts)) for n, parts in held_candidates.items()
        },
        "choices": choices,
        "events": counts.events,
        "events_caught": counts.caught,
        "event_recall": counts.event_recall,
        "false_alarms_per_day": counts.false_alarms_per_day,
        "alarm_time_ratio": counts.alarm_time_ratio,
        "max_false_alarms_per_day": worst,
    }
