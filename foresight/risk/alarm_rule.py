"""The alarm rule: when a file's risk scores raise an alarm, and how its threshold is chosen.

- **Normalise per file.** A model's probabilities do not calibrate across machines (a
  machine the model never saw sits higher or lower as a whole), so the rule reads each
  score as a robust z against the file's own earlier scores: the logit of the score,
  less the median of the earlier logits, over their spread ((q75 - q25) / 1.349, with a
  floor). Median and quartiles move little when a few percent of the rows are incidents,
  so an early incident does not lift the bar for later ones (a tail quantile would).
  Causal: row t compares with rows before t; no alarm before ``warmup_rows``.
- **Debounce.** An alarm starts when ``min_rows`` consecutive rows reach ``threshold_z``
  and holds while the z stays above ``threshold_z - hysteresis_z``, so one noisy minute
  neither starts an alarm nor cuts one in two.
- **Budget, not recall.** The threshold is chosen on training scores (out-of-fold,
  never the test rows). ``choose_rule``: the best pooled event recall whose false alarms
  per day and time in alarm stay within the budget; of the tied rules, the middle one.
  ``budget_rule`` (within-machine, a handful of training incidents): the lowest threshold
  whose false alarms per day of incident-free time and time in alarm stay within the
  budget, with the debounce fixed beforehand; the incidents only mark which alarms are
  false, so the choice does not rest on which of 2-5 incidents a threshold happens to hit.
- **One excursion, one alarm.** Optionally (``refractory_s``, ``max_alarm_s``): alarm
  runs closer than the refractory period join into one episode, and an episode stays in
  alarm for at most ``max_alarm_s`` from its start (an alert that resolves itself; it
  re-arms after the score has dropped out of alarm for the refractory period).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from foresight.risk import alarms
from foresight.risk.alarms import AlarmCounts, count_alarms

logger = logging.getLogger(__name__)

# Probabilities are clipped to [1 %, 99 %] before the logit: below 1 % every score is
# "quiet", and an overconfident forest's 1e-6 vs 1e-4 would otherwise look like a jump.
LOGIT_CLIP = 0.01
# The spread has a floor of one logit unit: a score that barely moves (a constant, or a
# model sure of every quiet row) never turns its noise into alarms. Chosen on the shared
# SMD machines (within-machine, lr and rf); 0.05 left rf without any usable threshold.
SPREAD_FLOOR = 1.0
WARMUP_S = 7200.0  # two hours of scores before the first alarm
THRESHOLDS_Z = tuple(float(z) for z in np.arange(2.0, 12.01, 0.5))
MIN_ROWS = (1, 2, 3)
HYSTERESIS_Z = (0.0, 1.0)
PREFERENCES = ("middle", "sensitive")
SELECTIONS = ("recall", "budget")  # choose_rule, budget_rule
# budget_rule: a finer grid (the usable thresholds of a within-machine model lie in
# z 1.5-4), the debounce and episode shaping fixed a priori: two rows to start an alarm
# (one noisy minute does not), held down to z - 1, one alarm per excursion within 30 min
# (the horizon), an alarm resolving itself after an hour.
BUDGET_THRESHOLDS_Z = tuple(float(z) for z in np.arange(1.0, 12.01, 0.25))
BUDGET_MIN_ROWS = 2
BUDGET_HYSTERESIS_Z = 1.0
BUDGET_REFRACTORY_S = 1800.0
BUDGET_MAX_ALARM_S = 3600.0


def _transformed(score: np.ndarray, transform: str) -> np.ndarray:
    s = np.asarray(score, dtype=float)
    if transform == "logit":
        p = np.clip(s, LOGIT_CLIP, 1.0 - LOGIT_CLIP)
        return np.log(p / (1.0 - p))
    if transform == "log1p":
        return np.log1p(np.maximum(s, 0.0))
    raise ValueError(f"unknown score transform {transform!r} (logit or log1p)")


def normalised_score(score: np.ndarray, warmup_rows: int, transform: str = "logit") -> np.ndarray:
    """Robust z of each row's transformed score against the earlier rows (NaN in the
    warm-up). ``logit`` for probabilities, ``log1p`` for a non-negative score (max-z)."""
    logit = pd.Series(_transformed(score, transform))
    earlier = logit.expanding(min_periods=max(2, warmup_rows))
    median = earlier.median().shift(1).to_numpy(float)
    iqr = (earlier.quantile(0.75) - earlier.quantile(0.25)).shift(1).to_numpy(float)
    spread = np.maximum(iqr / 1.349, SPREAD_FLOOR)
    return (logit.to_numpy(float) - median) / spread


def debounce(z: np.ndarray, threshold_z: float, min_rows: int, hysteresis_z: float) -> np.ndarray:
    """Alarm rows: on after ``min_rows`` rows at or over the threshold, off below the
    threshold less the hysteresis. NaN (warm-up) is never in alarm."""
    z = np.nan_to_num(np.asarray(z, dtype=float), nan=-np.inf)
    above = z >= threshold_z
    hold = z >= threshold_z - hysteresis_z
    idx = np.arange(len(z))
    # the run length of "above" ending at each row, then the rows where it reaches min_rows
    streak = idx - np.maximum.accumulate(np.where(above, -1, idx))
    trigger = streak >= min_rows
    # on while held, from the latest trigger after the latest row that did not hold
    last_trigger = np.maximum.accumulate(np.where(trigger, idx, -1))
    last_break = np.maximum.accumulate(np.where(hold, -1, idx))
    return hold & (last_trigger > last_break)


def shape_episodes(flags: np.ndarray, refractory_rows: int, max_rows: int) -> np.ndarray:
    """Alarm runs with gaps of at most ``refractory_rows`` join into one episode (the gap
    in alarm too); each episode keeps its first ``max_rows`` rows (0: all of them)."""
    flags = np.asarray(flags, dtype=bool)
    out = np.zeros(len(flags), dtype=bool)
    for start, end in alarms.runs(flags, refractory_rows):
        out[start : min(end, start + max_rows) if max_rows > 0 else end] = True
    return out


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """A debounced threshold on the per-file normalised score (see the module doc)."""

    threshold_z: float
    min_rows: int = 1
    hysteresis_z: float = 0.0
    warmup_s: float = WARMUP_S
    transform: str = "logit"
    refractory_s: float = 0.0  # 0: runs are not joined (count_alarms still merges 10 min)
    max_alarm_s: float = 0.0  # 0: an episode lasts as long as the score stays up

    def warmup_rows(self, step_s: float) -> int:
        return max(2, round(self.warmup_s / step_s))

    def apply(self, score: np.ndarray, step_s: float) -> np.ndarray:
        """The alarm flags of one file's consecutive scores."""
        z = normalised_score(score, self.warmup_rows(step_s), self.transform)
        return self.flags(z, step_s)

    def flags(self, z: np.ndarray, step_s: float) -> np.ndarray:
        """The alarm flags of an already normalised score."""
        flags = debounce(z, self.threshold_z, self.min_rows, self.hysteresis_z)
        if self.refractory_s <= 0 and self.max_alarm_s <= 0:
            return flags
        refractory = round(self.refractory_s / step_s) if self.refractory_s > 0 else 0
        longest = max(1, round(self.max_alarm_s / step_s)) if self.max_alarm_s > 0 else 0
        return shape_episodes(flags, refractory, longest)

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "kind": "normalised",
            "threshold_z": self.threshold_z,
            "min_rows": self.min_rows,
            "hysteresis_z": self.hysteresis_z,
            "warmup_s": self.warmup_s,
            "transform": self.transform,
            "refractory_s": self.refractory_s,
            "max_alarm_s": self.max_alarm_s,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AlarmRule:
        return cls(
            float(data["threshold_z"]),
            int(data["min_rows"]),
            float(data["hysteresis_z"]),
            float(data.get("warmup_s", WARMUP_S)),
            str(data.get("transform", "logit")),
            float(data.get("refractory_s", 0.0)),
            float(data.get("max_alarm_s", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Budget:
    """The most false alarms per day and share of time in alarm a rule may spend."""

    false_alarms_per_day: float = 0.7
    alarm_time_ratio: float = 0.02

    def to_dict(self) -> dict[str, float]:
        return {
            "false_alarms_per_day": self.false_alarms_per_day,
            "alarm_time_ratio": self.alarm_time_ratio,
        }


def choose_rule(
    scores: Sequence[np.ndarray],
    incidents: Sequence[np.ndarray],
    horizon_s: float,
    step_s: Sequence[float],
    budget: Budget,
    transform: str = "logit",
    prefer: str = "middle",
) -> tuple[AlarmRule, AlarmCounts]:
    """The rule with the best pooled event recall within ``budget`` on training scores.

    Many thresholds often tie on the training incidents (a handful of them). ``middle``:
    the middle one of the tied rules, which leaves a margin on both sides when the rule
    moves to another machine (the strictest tied rule misses the next machine's
    incidents, the most sensitive spends the whole budget). ``sensitive``: the most
    sensitive tied rule (lowest threshold), for the machine the rule was chosen on, whose
    budget is already set below the tolerance; with no incident in the training scores it
    is the most sensitive rule the false-alarm budget allows. No rule within the budget:
    the strictest. Returns the rule and its counts."""
    if prefer not in PREFERENCES:
        raise ValueError(f"prefer must be one of {PREFERENCES} (got {prefer!r})")
    normalised: dict[tuple[int, int], np.ndarray] = {}
    within: list[tuple[AlarmRule, AlarmCounts]] = []
    for min_rows in MIN_ROWS:
        for hysteresis in HYSTERESIS_Z:
            for threshold in THRESHOLDS_Z:
                rule = AlarmRule(threshold, min_rows, hysteresis, transform=transform)
                total = AlarmCounts()
                for i, (s, inc, step) in enumerate(zip(scores, incidents, step_s, strict=True)):
                    key = (i, rule.warmup_rows(step))
                    if key not in normalised:
                        normalised[key] = normalised_score(s, key[1], transform)
                    flags = debounce(normalised[key], threshold, min_rows, hysteresis)
                    rows = max(1, round(horizon_s / step))
                    total = total + count_alarms(flags, inc, rows, step)
                if total.false_alarms_per_day > budget.false_alarms_per_day:
                    continue
                if total.alarm_time_ratio > budget.alarm_time_ratio:
                    continue
                within.append((rule, total))
    if not within:
        logger.info("no alarm rule within %s on the training scores; the strictest", budget)
        return AlarmRule(THRESHOLDS_Z[-1], MIN_ROWS[-1], 0.0, transform=transform), AlarmCounts()
    best = max(c.event_recall or 0.0 for _, c in within)
    tied = sorted(
        (r for r in within if (r[1].event_recall or 0.0) >= best - 1e-12),
        key=lambda r: (r[0].threshold_z, r[0].min_rows, r[0].hysteresis_z),
    )
    return tied[0] if prefer == "sensitive" else tied[len(tied) // 2]


def budget_rule(
    scores: Sequence[np.ndarray],
    incidents: Sequence[np.ndarray],
    horizon_s: float,
    step_s: Sequence[float],
    budget: Budget,
    transform: str = "logit",
) -> tuple[AlarmRule, AlarmCounts]:
    """The most sensitive rule within ``budget`` on training scores, by false alarms alone.

    The debounce and episode shaping are fixed (``BUDGET_*``); the threshold is the lowest
    on ``BUDGET_THRESHOLDS_Z`` whose pooled false alarms per day of incident-free time (no
    positive target) and share of time in alarm stay within the budget. The incidents only
    say which alarms are false and which time is not incident-free, so the choice is as
    stable as the quiet time is long. None within the budget: the strictest. Returns the
    rule and its pooled counts on the training scores."""
    z_of = []
    for s, step in zip(scores, step_s, strict=True):
        warmup = AlarmRule(0.0, warmup_s=WARMUP_S).warmup_rows(step)
        z_of.append(normalised_score(s, warmup, transform))
    quiet_days = (
        sum(
            float((~alarms.window_labels(inc, max(1, round(horizon_s / step)))).sum()) * step
            for inc, step in zip(incidents, step_s, strict=True)
        )
        / alarms.DAY_S
    )

    def rule_at(threshold: float) -> AlarmRule:
        return AlarmRule(
            threshold,
            BUDGET_MIN_ROWS,
            BUDGET_HYSTERESIS_Z,
            transform=transform,
            refractory_s=BUDGET_REFRACTORY_S,
            max_alarm_s=BUDGET_MAX_ALARM_S,
        )

    for threshold in BUDGET_THRESHOLDS_Z:
        rule = rule_at(threshold)
        total = AlarmCounts()
        for z, inc, step in zip(z_of, incidents, step_s, strict=True):
            rows = max(1, round(horizon_s / step))
            total = total + count_alarms(rule.flags(z, step), inc, rows, step)
        per_quiet_day = total.false_alarms / quiet_days if quiet_days > 0 else 0.0
        if per_quiet_day <= budget.false_alarms_per_day and (
            total.alarm_time_ratio <= budget.alarm_time_ratio
        ):
            return rule, total
    logger.info("no alarm threshold within %s on the training scores; the strictest", budget)
    return rule_at(BUDGET_THRESHOLDS_Z[-1]), AlarmCounts()


def select_rule(
    selection: str,
    scores: Sequence[np.ndarray],
    incidents: Sequence[np.ndarray],
    horizon_s: float,
    step_s: Sequence[float],
    budget: Budget,
    transform: str = "logit",
    prefer: str = "middle",
) -> tuple[AlarmRule, AlarmCounts]:
    """``recall``: ``choose_rule``; ``budget``: ``budget_rule`` (``prefer`` unused)."""
    if selection == "budget":
        return budget_rule(scores, incidents, horizon_s, step_s, budget, transform)
    if selection == "recall":
        return choose_rule(scores, incidents, horizon_s, step_s, budget, transform, prefer)
    raise ValueError(f"alarm rule selection must be one of {SELECTIONS} (got {selection!r})")
