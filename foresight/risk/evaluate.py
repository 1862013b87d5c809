"""Train on some files, report on others: the figures of ``risk-eval --json``.

Cross mode: one model trained on every train file, scored on every test file. Within
mode: for each test file, a model trained on its first half (plus the train files that
are not that file, up to the time its second half begins when both files have a time
column), scored on its second half after a gap of one horizon. Thresholds and
model choice come from the training rows only. No point adjustment: every row counts.
The baselines are scored on the same rows: ``base_rate`` (a constant, which never
alarms) and ``max_z`` (the 5-min max of the largest robust z), its threshold chosen on
the training files with the same rule as the models'.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from foresight.risk import alarm_rule, alarms
from foresight.risk.data import MetricFile
from foresight.risk.features import max_z_score, rows_for
from foresight.risk.model import LabelledFile, Progress, RiskModel, _quiet, pr_auc
from foresight.risk.nested import first_half_check

logger = logging.getLogger(__name__)

IMPORTANCE_ROWS = 8000  # permutation importance on at most this many test rows
# The alarm budgets spent on the training scores: below the tolerances (cross
# <= 1 false alarm/day, <= 3 % in alarm; within <= 1.5/day, <= 8 %), as a margin for the
# test rows running hotter than the training ones.
CROSS_BUDGET = alarm_rule.Budget(false_alarms_per_day=0.7, alarm_time_ratio=0.02)
WITHIN_BUDGET = alarm_rule.Budget(false_alarms_per_day=1.0, alarm_time_ratio=0.05)


@dataclass(slots=True)
class _Scored:
    """One method's scores and alarms on the test rows, per test file."""

    scores: list[np.ndarray] = field(default_factory=list)
    alarms: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Split:
    train: list[LabelledFile]
    test_rows: slice


def _labelled(f: MetricFile, rows: slice = slice(None)) -> LabelledFile:
    if f.incident is None:
        raise ValueError(f"{f.path} has no labels")
    return LabelledFile(f.path, f.values[rows], f.incident[rows], f.step_s)


def _splits(
    train: Sequence[MetricFile], test: Sequence[MetricFile], horizon_s: float, within: bool
) -> list[_Split]:
    if not within:
        common = [_labelled(f) for f in train]
        return [_Split(common, slice(None)) for _ in test]
    splits = []
    for f in test:
        half = len(f.values) // 2
        gap = rows_for(horizon_s, f.step_s)
        others = [_before(t, f, half) for t in train if t.path != f.path]
        others = [o for o in others if len(o.incident)]  # a file that starts later: none
        splits.append(_Split([_labelled(f, slice(0, half)), *others], slice(half + gap, None)))
    return splits


def _before(other: MetricFile, f: MetricFile, half: int) -> LabelledFile:
    """``other``'s rows that come before ``f``'s second half. Machines that share a clock
    share incidents: the other files' rows of the test minutes would teach the model the
    very incidents it is scored on. Without a time column on either file their times are
    row numbers, not a clock, and the other file is used whole."""
    if not (other.timed and f.timed) or half >= len(f.timestamps):
        return _labelled(other)
    end = int(np.searchsorted(other.timestamps, f.timestamps[half], side="left"))
    return _labelled(other, slice(0, end))


def _after_reference(series: np.ndarray, model: RiskModel, f: LabelledFile) -> np.ndarray:
    """The rows of a training file after its reference period (where max_z means something)."""
    return np.asarray(series)[model.warmup_rows(len(f.incident), f.step_s) :]


def figures(
    target: list[np.ndarray],
    incident: list[np.ndarray],
    scored: _Scored,
    horizon_s: float,
    steps: list[float],
) -> dict[str, Any]:
    """Pooled figures of one method over the test files."""
    y = np.concatenate(target)
    s = np.concatenate(scored.scores)
    a = np.concatenate(scored.alarms)
    counts, chance = alarms.AlarmCounts(), alarms.AlarmCounts()
    for alarm, inc, step in zip(scored.alarms, incident, steps, strict=True):
        h = rows_for(horizon_s, step)
        counts = counts + alarms.count_alarms(alarm, inc, h, step)
        chance = chance + alarms.chance_counts(alarm, inc, h, step)
    both = bool(y.any() and not y.all())
    return {
        "pr_auc": pr_auc(y, s),
        "roc_auc": float(roc_auc_score(y, s)) if both else None,
        "precision": float(precision_score(y, a, zero_division=0)),
        "recall": float(recall_score(y, a, zero_division=0)),
        "f1": float(f1_score(y, a, zero_division=0)),
        "event_recall": counts.event_recall,
        "event_recall_chance": chance.event_recall,
        "false_alarms_per_day": counts.false_alarms_per_day,
        "alarm_time_ratio": counts.alarm_time_ratio,
        "median_lead_s": counts.median_lead_s,
        "events": counts.events,
        "events_caught": counts.caught,
    }


def _importance(
    model: RiskModel, matrix: np.ndarray, target: np.ndarray, seed: int = 0
) -> list[dict[str, Any]]:
    """Drop in PR-AUC when one metric's features (or the aggregates) are permuted."""
    if not target.any() or target.all():
        return []
    stride = max(1, len(target) // IMPORTANCE_ROWS)
    x, y = matrix[::stride].copy(), target[::stride]
    if not y.any():
        return []
    base = pr_auc(y, model.predict_matrix(x)) or 0.0
    rng = np.random.default_rng(seed)
    groups = np.array(model.feature_groups_)
    order = rng.permutation(len(y))
    out: list[dict[str, Any]] = []
    for group in dict.fromkeys(model.feature_groups_):
        cols = np.flatnonzero(groups == group)
        shuffled = x.copy()
        shuffled[:, cols] = x[order][:, cols]
        out.append(
            {
                "feature": group,
                "pr_auc_drop": base - (pr_auc(y, model.predict_matrix(shuffled)) or 0.0),
            }
        )
    out.sort(key=lambda r: -float(r["pr_auc_drop"]))
    return [r for r in out if r["pr_auc_drop"] > 0][:10]  # groups the model relies on


def evaluate(
    train: Sequence[MetricFile],
    test: Sequence[MetricFile],
    horizon_s: float,
    models: Sequence[str],
    within: bool = False,
    progress: Progress = _quiet,
    budget: alarm_rule.Budget | None = None,
    preference: str | None = None,
    selection: str | None = None,
) -> dict[str, Any]:
    """Train on ``train``, report on ``test``; every file must carry labels.

    ``budget``: the false alarms per day and time in alarm the alarm rule may spend on
    the training scores (default: CROSS_BUDGET, or WITHIN_BUDGET with ``within``).
    ``selection``: how the alarm threshold is chosen (``alarm_rule.SELECTIONS``; default
    ``recall`` cross-machine, ``budget`` within-machine, where 2-5 training incidents
    make the best-recall threshold a noisy choice)."""
    budget = budget or (WITHIN_BUDGET if within else CROSS_BUDGET)
    selection = selection or ("budget" if within else "recall")
    # within: the rule stays on the machine it was chosen on (see alarm_rule.choose_rule)
    preference = preference or ("sensitive" if within else "middle")
    splits = _splits(train, test, horizon_s, within)
    metrics = list(test[0].metrics)
    methods = [*models, "chosen", "max_z", "base_rate"]
    scored = {m: _Scored() for m in methods}
    target, incident, steps = [], [], []
    fit_s = dict.fromkeys(models, 0.0)
    predict_s = dict.fromkeys(models, 0.0)
    validation: dict[str, list[float]] = {m: [] for m in models}
    chosen_names: list[str] = []
    importance: list[dict[str, Any]] = []
    fitted: list[RiskModel] = []
    for f, split in zip(test, splits, strict=True):
        if not fitted or within:
            progress(f"training on {len(split.train)} file(s) for {f.path}")
            fitted.append(
                RiskModel(
                    horizon_s,
                    models,
                    max_false_alarms_per_day=budget.false_alarms_per_day,
                    max_alarm_ratio=budget.alarm_time_ratio,
                    refit_all=True,
                    validation="blocked" if within else "forward",
                    rule_preference=preference,
                    rule_selection=selection,
                ).fit(split.train, metrics, progress)
            )
        model = fitted[-1]
        chosen_names.append(model.model_name_)
        for name in models:
            fit_s[name] += model.fit_seconds_[name]
            validation[name].append(model.validation_[name] or 0.0)
        rows = split.test_rows
        h = rows_for(horizon_s, f.step_s)
        inc = np.asarray(f.incident, dtype=bool)
        incident.append(inc[rows])
        target.append(alarms.window_labels(inc, h)[rows])
        steps.append(f.step_s)
        matrix = model.features(f.values, f.step_s).matrix
        for name in models:
            t0 = time.perf_counter()
            score = model.fitted_[name].predict_proba(matrix[rows])[:, 1]
            predict_s[name] += time.perf_counter() - t0
            scored[name].scores.append(score)
            scored[name].alarms.append(model.alarms(score, f.step_s, model.alarm_rules_[name]))
        chosen = model.predict_matrix(matrix[rows])
        scored["chosen"].scores.append(chosen)
        scored["chosen"].alarms.append(model.alarms(chosen, f.step_s))
        # max_z: its alarm rule chosen on the same training rows, by the same budget
        train_z = [max_z_score(t.values, t.step_s) for t in split.train]
        z_rule, _ = alarm_rule.select_rule(
            selection,
            [_after_reference(z, model, t) for z, t in zip(train_z, split.train, strict=True)],
            [_after_reference(t.incident, model, t) for t in split.train],
            horizon_s,
            [t.step_s for t in split.train],
            alarm_rule.Budget(model.max_false_alarms_per_day, model.max_alarm_ratio),
            transform="log1p",
            prefer=preference,
        )
        z = max_z_score(f.values, f.step_s)[rows]
        scored["max_z"].scores.append(z)
        scored["max_z"].alarms.append(model.alarms(z, f.step_s, z_rule))
        constant = np.full(len(z), model.train_base_rate_)
        scored["base_rate"].scores.append(constant)
        scored["base_rate"].alarms.append(np.zeros(len(z), dtype=bool))
        if f is test[-1] or within:
            importance = _importance(model, matrix[rows], target[-1])
        progress(f"scored {f.path}")

    n_test = sum(len(t) for t in target)
    result = figures(target, incident, scored["chosen"], horizon_s, steps)
    result["base_rate"] = float(np.concatenate(target).mean())
    result["model"] = chosen_names[0] if len(set(chosen_names)) == 1 else ",".join(chosen_names)
    result["models"] = {
        name: {
            **figures(target, incident, scored[name], horizon_s, steps),
            "validation_pr_auc": float(np.mean(validation[name])),
            "fit_s": fit_s[name],
            "fit_s_per_1000_rows": 1000 * fit_s[name] / max(1, sum(m.train_rows_ for m in fitted)),
            "predict_s_per_1000_rows": 1000 * predict_s[name] / max(1, n_test),
        }
        for name in models
    }
    result["baselines"] = {
        name: figures(target, incident, scored[name], horizon_s, steps)
        for name in ("base_rate", "max_z")
    }
    result["feature_importance"] = importance
    result["per_file"] = {}
    for i, f in enumerate(test):
        one = _Scored([scored["chosen"].scores[i]], [scored["chosen"].alarms[i]])
        fig = figures([target[i]], [incident[i]], one, horizon_s, [steps[i]])
        zone = _Scored([scored["max_z"].scores[i]], [scored["max_z"].alarms[i]])
        zfig = figures([target[i]], [incident[i]], zone, horizon_s, [steps[i]])
        result["per_file"][f.path] = {
            "pr_auc": fig["pr_auc"],
            "event_recall": fig["event_recall"],
            "false_alarms_per_day": fig["false_alarms_per_day"],
            "max_z_pr_auc": zfig["pr_auc"],
        }
        if within:  # the choice and the alarm rule, checked on the first half alone
            result["per_file"][f.path]["first_half_check"] = first_half_check(fitted[i])
    result["alarm_budget"] = budget.to_dict()
    result["alarm_selection"] = selection
    result["alarm_rule"] = fitted[-1].alarm_rule_.to_dict()
    result["horizon_s"] = horizon_s
    result["mode"] = "within" if within else "cross"
    result["rows_test"] = n_test
    result["rows_train"] = sum(m.train_rows_ for m in fitted)
    result["note"] = (
        "alerts at onset: median_lead_s is the lead over the start of the incidents "
        "caught; no early warning is promised"
    )
    return result
