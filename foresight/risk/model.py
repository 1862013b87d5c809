"""Train a failure-risk classifier: "an incident is in progress or starts within S s".

Selection is honest in time: each training file is cut into ``n_blocks`` consecutive
blocks, never shuffled. Two ways to validate (``validation``):

- ``forward`` (the default): fold k trains on the blocks before k (less the last horizon
  of rows, the gap, so no training target sees into the validation block) and scores
  block k. Needs incidents early and late in the files (many files: cross-machine).
- ``blocked``: the blocks hold equal shares of the incidents (cut between two of them);
  fold k trains on every block but k, with a gap on both sides of k (the horizon before
  it, so no training target sees into k; the longest feature window after it, so no
  training feature is built from k's rows), and scores block k. Every block past the
  reference period gets out-of-fold scores, so a short history with a handful of
  incidents (one machine's own first half) still has them to choose on; forward folds
  there often have no incident to train on or none to validate on.

The model with the best pooled out-of-fold PR-AUC wins, or the soft-voting mean of the
best few when that is better. The alarm threshold is chosen on the same out-of-fold
scores, then every chosen model is refit on all the rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from foresight.risk import alarm_rule, alarms
from foresight.risk.features import (
    FeatureConfig,
    Features,
    build_features,
    fill_gaps,
    reference_rows,
    reference_stats,
    rows_for,
    steady_state_features,
)
from foresight.risk.zoo import COMPOSITES, DEFAULT_MODELS, SoftVote, flat_vote, make_model

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
VALIDATIONS = ("forward", "blocked")


@dataclass(frozen=True, slots=True)
class LabelledFile:
    """One file's rows in time order: values (rows × metrics), incident flags, its step."""

    name: str
    values: np.ndarray
    incident: np.ndarray
    step_s: float


def _quiet(message: str) -> None:
    logger.debug(message)


def pr_auc(target: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision; None when the rows hold only one class."""
    target = np.asarray(target, dtype=bool)
    if target.all() or not target.any():
        return None
    return float(average_precision_score(target, score))


@dataclass(frozen=True, slots=True)
class OutOfFold:
    """The out-of-fold scores of blocked validation: per candidate, every training row's
    score (NaN where no fold scored it), the targets, the scored rows, each row's block,
    and the alarm rule's segments (row indices, incident flags, step)."""

    scores: dict[str, np.ndarray]
    target: np.ndarray
    scored: np.ndarray
    block: np.ndarray
    segments: list[np.ndarray]
    segment_incidents: list[np.ndarray]
    segment_steps: list[float]


def choose_members(
    names: Sequence[str], scores: dict[str, np.ndarray], target: np.ndarray, rows: np.ndarray
) -> tuple[list[str], float]:
    """The candidate with the best PR-AUC on ``rows``, or the soft vote of the best few
    when that is better; returns the members and their PR-AUC."""
    value = {n: pr_auc(target[rows], scores[n][rows]) or 0.0 for n in names}
    ranked = sorted(names, key=lambda n: -value[n])
    chosen, best = [ranked[0]], value[ranked[0]]
    for k in range(2, len(ranked) + 1):
        vote = np.mean([scores[n][rows] for n in ranked[:k]], axis=0)
        score = pr_auc(target[rows], vote) or 0.0
        if score > best + 1e-4:
            chosen, best = list(ranked[:k]), score
    return chosen, best


class RiskModel:
    """Failure-risk classifier over causal features of multivariate metric files."""

    def __init__(
        self,
        horizon_s: float,
        models: Sequence[str] = DEFAULT_MODELS,
        feature_config: FeatureConfig | None = None,
        n_blocks: int = 3,
        max_false_alarms_per_day: float = 0.7,
        max_alarm_ratio: float = 0.02,
        refit_all: bool = False,
        seed: int = 0,
        validation: str = "forward",
        rule_preference: str = "middle",
        rule_selection: str = "recall",
    ) -> None:
        if validation not in VALIDATIONS:
            raise ValueError(f"validation must be one of {VALIDATIONS} (got {validation!r})")
        if rule_selection not in alarm_rule.SELECTIONS:
            raise ValueError(
                f"rule_selection must be one of {alarm_rule.SELECTIONS} (got {rule_selection!r})"
            )
        self.horizon_s = horizon_s
        self.models = tuple(models)
        self.feature_config = feature_config
        self.n_blocks = n_blocks
        self.max_false_alarms_per_day = max_false_alarms_per_day
        self.max_alarm_ratio = max_alarm_ratio
        self.refit_all = refit_all  # keep every candidate fitted (for evaluation)
        self.seed = seed
        self.validation = validation
        self.rule_preference = rule_preference  # see alarm_rule.choose_rule
        self.rule_selection = rule_selection  # recall (choose_rule) or budget (budget_rule)

    # ---- features -------------------------------------------------------------------
    def _config(self) -> FeatureConfig:
        return self.feature_config or FeatureConfig()

    def features(self, values: np.ndarray, step_s: float) -> Features:
        """The feature matrix of one file (metrics in the trained order)."""
        metrics = list(getattr(self, "metrics_", [f"m{i}" for i in range(values.shape[1])]))
        return build_features(values, metrics, step_s, self._config())

    def warmup_rows(self, n_rows: int, step_s: float) -> int:
        """Rows before a file's first alarm: its reference period."""
        return reference_rows(n_rows, step_s, self._config())

    def alarms(
        self, score: np.ndarray, step_s: float, rule: alarm_rule.AlarmRule | None = None
    ) -> np.ndarray:
        """The alarm flags of one file's consecutive scores (the chosen rule by default).

        A model loaded from an old card without a rule keeps that card's share rule."""
        self._check()
        chosen = rule or getattr(self, "alarm_rule_", None)
        if chosen is None:
            return alarms.relative_alarms(
                score, self.alarm_share_, self.warmup_rows(len(score), step_s)
            )
        return chosen.apply(score, step_s)

    # ---- fitting --------------------------------------------------------------------
    def fit(
        self, files: Sequence[LabelledFile], metrics: Sequence[str], progress: Progress = _quiet
    ) -> RiskModel:
        """Select, threshold and fit on ``files`` (each holds columns in ``metrics`` order)."""
        self.metrics_ = list(metrics)
        started = time.perf_counter()
        matrices, targets, medians, scales, layouts = [], [], [], [], []
        for f in files:
            med, sc = reference_stats(
                fill_gaps(f.values), self.warmup_rows(len(f.values), f.step_s)
            )
            medians.append(med)
            scales.append(sc)
            feats = self.features(f.values, f.step_s)
            matrices.append(feats.matrix)
            targets.append(alarms.window_labels(f.incident, rows_for(self.horizon_s, f.step_s)))
            layouts.append(self._layout(np.asarray(f.incident, dtype=bool), f.step_s))
        # the reference of rows that come without history (API requests): the median
        # over the training files of each file's own reference
        self.reference_median_ = np.median(medians, axis=0)
        self.reference_scale_ = np.median(scales, axis=0)
        self.feature_names_ = list(feats.names)
        self.feature_groups_ = list(feats.groups)
        x = np.vstack(matrices)
        y = np.concatenate(targets)
        block, before, after, reference = (
            np.concatenate([layout[i] for layout in layouts]) for i in range(4)
        )
        progress(f"features: {x.shape[0]} rows × {x.shape[1]} columns")
        if y.all() or not y.any():
            raise ValueError("the training rows need both incident and quiet targets")

        blocked = self.validation == "blocked"
        oof = {name: np.full(len(y), np.nan) for name in self.models}
        self.fit_seconds_: dict[str, float] = dict.fromkeys(self.models, 0.0)
        # fold by fold: each fold's rows are copied once for every candidate; the members
        # of a composite candidate (etlr: etb, lr) are fitted and predicted once per fold
        # when they are candidates too (their fits and scores are shared)
        for k in range(0 if blocked else 1, self.n_blocks):
            if blocked:
                train = (block != k) & ~((block == k - 1) & before)
                train &= ~((block == k + 1) & after)
            else:
                train = (block < k) & ~((block == k - 1) & before)
            val = block == k
            if not val.any() or not y[train].any() or y[train].all():
                continue
            x_train, y_train, x_val = x[train], y[train], x[val]
            fold_fits: dict[str, Any] = {}
            fold_scores: dict[str, np.ndarray] = {}
            for name in self.models:
                t0 = time.perf_counter()
                model = self._fit_once(name, x_train, y_train, fold_fits)
                oof[name][val] = self._score_once(name, model, x_val, fold_scores)
                self.fit_seconds_[name] += time.perf_counter() - t0
            del x_train, y_train, x_val, fold_fits, fold_scores
        for name in self.models:
            progress(f"{name}: validated in {self.fit_seconds_[name]:.1f} s")
        if blocked:  # the rows a fold scored, past the reference period
            scored = ~np.isnan(oof[self.models[0]]) & ~reference
        else:  # a skipped fold (no positives to train on) scores 0
            scored = block >= 1
            oof = {name: np.nan_to_num(s, nan=0.0) for name, s in oof.items()}
        if not scored.any() or not (blocked or y[scored].any()):
            raise ValueError("no incident in the validation blocks (the later part of the files)")
        if not y[scored].any():  # blocked: every incident in one block, no fold saw one
            logger.warning(
                "no incident in the out-of-fold rows: the first candidate (%s) is kept and "
                "the alarm rule is set by the false-alarm budget alone",
                self.models[0],
            )
        self.validation_ = {n: pr_auc(y[scored], oof[n][scored]) for n in self.models}
        chosen, best = choose_members(self.models, oof, y, scored)
        self.chosen_ = list(chosen)
        self.validation_pr_auc_ = best
        self.validation_base_rate_ = float(y[scored].mean())
        self.model_name_ = chosen[0] if len(chosen) == 1 else "vote(" + "+".join(chosen) + ")"
        progress(f"chosen: {self.model_name_} (validation PR-AUC {best:.3f})")

        # the alarm rule on the out-of-fold scores: forward, one segment per file (its
        # blocks >= 1); blocked, one per validated block (each scored by its own fold)
        segment_rows: list[np.ndarray] = []
        offset = 0
        for f in files:
            rows = np.arange(offset, offset + len(f.incident))
            offset += len(f.incident)
            if not blocked:
                segment_rows.append(rows[scored[rows]])
                continue
            for k in range(self.n_blocks):
                part = rows[scored[rows] & (block[rows] == k)]
                if len(part):
                    segment_rows.append(part)
        incident = np.concatenate([np.asarray(f.incident, dtype=bool) for f in files])
        seg_incidents = [incident[r] for r in segment_rows]
        budget = alarm_rule.Budget(self.max_false_alarms_per_day, self.max_alarm_ratio)
        step_of = np.concatenate([np.full(len(f.incident), f.step_s) for f in files])
        steps = [float(step_of[r[0]]) for r in segment_rows]

        def rule_for(score: np.ndarray) -> tuple[alarm_rule.AlarmRule, alarms.AlarmCounts]:
            return alarm_rule.select_rule(
                self.rule_selection,
                [score[r] for r in segment_rows],
                seg_incidents,
                self.horizon_s,
                steps,
                budget,
                prefer=self.rule_preference,
            )

        self.alarm_rule_, counts = rule_for(np.mean([oof[n] for n in chosen], axis=0))
        if blocked:  # kept for nested.first_half_check (the estimator alone is saved)
            self.oof_ = OutOfFold(oof, y, scored, block, segment_rows, seg_incidents, steps)
        self.alarm_training_ = {
            "event_recall": counts.event_recall,
            "false_alarms_per_day": counts.false_alarms_per_day,
            "alarm_time_ratio": counts.alarm_time_ratio,
        }
        # the share of validation time the rule spent in alarm (the old key's meaning)
        self.alarm_share_ = counts.alarm_time_ratio
        refit = self.models if self.refit_all else chosen
        self.fitted_: dict[str, Any] = {}
        self.alarm_rules_: dict[str, alarm_rule.AlarmRule] = {}
        final_fits: dict[str, Any] = {}
        for name in refit:
            t0 = time.perf_counter()
            self.fitted_[name] = self._fit_once(name, x, y, final_fits)
            self.fit_seconds_[name] += time.perf_counter() - t0
            if self.refit_all:
                self.alarm_rules_[name] = rule_for(oof[name])[0]
        members = [self.fitted_[n] for n in chosen]
        # flattened: the vote of etb and etlr predicts etb once (3/4 etb + 1/4 lr)
        self.estimator_ = members[0] if len(members) == 1 else flat_vote(members)
        self.train_rows_ = len(y)
        self.train_base_rate_ = float(y.mean())
        self.fit_total_s_ = time.perf_counter() - started
        progress(f"fitted in {self.fit_total_s_:.1f} s, alarm rule {self.alarm_rule_.to_dict()}")
        return self

    def _layout(
        self, incident: np.ndarray, step_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One file's folds: each row's block; the rows within a horizon before the next
        block (their targets see into it); the rows within the gap after their block's
        start (their features see the block before); the reference period's rows.

        Forward: ``n_blocks`` blocks of equal length. Blocked: consecutive blocks with
        equal shares of the incidents that start after the reference period (at most
        ``n_blocks``, cut in the middle of the quiet gap between two incidents), so every
        fold has incidents to train on and to validate on; equal lengths with fewer than
        two such incidents."""
        n = len(incident)
        h = rows_for(self.horizon_s, step_s)
        after_rows = max(h, rows_for(self._config().long_s, step_s))
        warmup = self.warmup_rows(n, step_s)
        events = [(a, b) for a, b in alarms.runs(incident) if a >= warmup]
        if self.validation == "blocked" and len(events) >= 2:
            parts = min(self.n_blocks, len(events))
            cuts = []
            for k in range(1, parts):
                i = round(k * len(events) / parts)  # the first event of block k
                cuts.append((events[i - 1][1] + events[i][0]) // 2)
            block = np.searchsorted(np.asarray(cuts), np.arange(n), side="right")
        else:
            block = np.minimum((np.arange(n) * self.n_blocks) // max(n, 1), self.n_blocks - 1)
        before = np.zeros(n, dtype=bool)
        after = np.zeros(n, dtype=bool)
        for k in range(1, int(block[-1]) + 1):
            first = int(np.searchsorted(block, k))
            before[max(0, first - h) : first] = True
            after[first : first + after_rows] = True
        reference = np.arange(n) < warmup
        return block, before, after, reference

    def _fit_once(self, name: str, x: np.ndarray, y: np.ndarray, done: dict[str, Any]) -> Any:
        """``name`` fitted on ``x, y``; the members of a composite candidate come from (and
        go to) ``done``, the fits already made on these same rows. The same estimators
        as fitting the composite whole (``make_model`` builds its members the same way)."""
        if name in done:
            return done[name]
        if name in COMPOSITES:
            members = [self._fit_once(n, x, y, done) for n in COMPOSITES[name]]
            return SoftVote(members)
        model = self._fit(name, x, y)
        if any(name in parts for c, parts in COMPOSITES.items() if c in self.models):
            done[name] = model  # a member of a composite candidate: kept for it
        return model

    @staticmethod
    def _score_once(
        name: str, model: Any, x: np.ndarray, done: dict[str, np.ndarray]
    ) -> np.ndarray:
        """P(positive) of ``name`` (fitted by ``_fit_once``) on ``x``; the members of a
        composite candidate scored on these rows already (in ``done``) are not predicted
        again. The same figures as ``model.predict_proba(x)[:, 1]`` (SoftVote's mean)."""
        if name in done:
            return done[name]
        if name in COMPOSITES and isinstance(model, SoftVote):
            parts = [
                RiskModel._score_once(n, m, x, done)
                for n, m in zip(COMPOSITES[name], model.members, strict=True)
            ]
            return np.asarray(np.average(parts, axis=0, weights=getattr(model, "weights", None)))
        done[name] = model.predict_proba(x)[:, 1]
        return done[name]

    def _fit(self, name: str, x: np.ndarray, y: np.ndarray) -> Any:
        # One OpenMP thread: on a shared 2-core host, OpenMP's spinning threads slow
        # HistGradientBoosting and XGBoost down many times over (measured: 10x).
        with threadpool_limits(1, user_api="openmp"):
            return self._make(name, y).fit(x, y)

    def _make(self, name: str, y: np.ndarray) -> Any:
        positives = max(int(y.sum()), 1)
        return make_model(name, self.feature_names_, (len(y) - positives) / positives, self.seed)

    # ---- scoring --------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "estimator_"):
            raise NotFittedError("RiskModel is not fitted; call fit() first")

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """P(incident now or within the horizon) for rows of an already built matrix."""
        self._check()
        return np.asarray(self.estimator_.predict_proba(matrix)[:, 1], dtype=float)

    def predict_rows(self, values: np.ndarray) -> np.ndarray:
        """P(incident) for independent rows without history (see steady_state_features)."""
        self._check()
        feats = steady_state_features(
            values, self.metrics_, self.reference_median_, self.reference_scale_
        )
        return self.predict_matrix(feats.matrix)

    def predict_proba(self, values: np.ndarray, step_s: float) -> np.ndarray:
        """P(incident now or within the horizon) for each row of one file."""
        self._check()
        return self.predict_matrix(self.features(values, step_s).matrix)
