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
  never the test rows): the best pooled event recall whose false alarms per day and time
  in alarm stay within the budget; of the tied rules, the middle one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

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


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """A debounced threshold on the per-file normalised score (see the module doc)."""

    threshold_z: float
    min_rows: int = 1
    hysteresis_z: float = 0.0
    warmup_s: float = WARMUP_S
    transform: str = "logit"

    def warmup_rows(self, step_s: float) -> int:
        return max(2, round(self.warmup_s / step_s))

    def apply(self, score: np.ndarray, step_s: float) -> np.ndarray:
        """The alarm flags of one file's consecutive scores."""
        z = normalised_score(score, self.warmup_rows(step_s), self.transform)
        return debounce(z, self.threshold_z, self.min_rows, self.hysteresis_z)

    def to_dict(self) -> dict[str, float | int | str]:
        return {
            "kind": "normalised",
            "threshold_z": self.threshold_z,
            "min_rows": self.min_rows,
            "hysteresis_z": self.hysteresis_z,
            "warmup_s": self.warmup_s,
            "transform": self.transform,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AlarmRule:
        return cls(
            float(data["threshold_z"]),
            int(data["min_rows"]),
            float(data["hysteresis_z"]),
            float(data.get("warmup_s", WARMUP_S)),
            str(data.get("transform", "logit")),
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
