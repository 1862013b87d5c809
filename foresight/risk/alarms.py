"""Labels, incidents and alarm figures, without point adjustment.

- The target of row t: an incident is in progress at t or starts within the horizon,
  i.e. any incident row in [t, t + horizon].
- An incident is a run of incident rows. It is caught when an alarm fires within the
  horizon before its start or in its first 10 minutes.
- An alarm episode is a run of alarm rows, runs closer than 10 minutes merged. It is false
  when none of its rows is a positive target (no incident then or within the horizon).
- The chance level of event recall: the same alarm series shifted in time against the
  labels (it keeps the duty cycle and removes the information), averaged over shifts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

ONSET_S = 600.0  # an alarm in an incident's first 10 minutes still counts as caught
MERGE_S = 600.0  # alarm runs closer than this are one episode
DAY_S = 86_400.0
# candidate alarm shares: the top share of a file's own earlier scores raises an alarm
ALARM_SHARES = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02)


def window_labels(incident: np.ndarray, horizon_rows: int) -> np.ndarray:
    """True where an incident row lies in [t, t + horizon_rows] (in progress or imminent)."""
    flags = np.asarray(incident, dtype=bool)
    # a running maximum over the next horizon_rows rows, via cumulative sums
    counts = np.concatenate([[0], np.cumsum(flags)])
    ends = np.minimum(np.arange(len(flags)) + horizon_rows + 1, len(flags))
    return (counts[ends] - counts[: len(flags)]) > 0


def runs(flags: np.ndarray, merge_rows: int = 0) -> list[tuple[int, int]]:
    """Runs of True as ``(start, end)`` row pairs, end exclusive; gaps <= merge_rows join."""
    idx = np.flatnonzero(np.asarray(flags, dtype=bool))
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > merge_rows + 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks] + 1, [idx[-1] + 1]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


@dataclass(frozen=True, slots=True)
class AlarmCounts:
    """Additive counts of one or more files' alarms (sum them to pool files)."""

    events: int = 0
    caught: int = 0
    false_alarms: int = 0
    alarm_rows: int = 0
    rows: int = 0
    days: float = 0.0
    leads_s: tuple[float, ...] = field(default_factory=tuple)

    def __add__(self, other: AlarmCounts) -> AlarmCounts:
        return AlarmCounts(
            self.events + other.events,
            self.caught + other.caught,
            self.false_alarms + other.false_alarms,
            self.alarm_rows + other.alarm_rows,
            self.rows + other.rows,
            self.days + other.days,
            self.leads_s + other.leads_s,
        )

    @property
    def event_recall(self) -> float | None:
        return self.caught / self.events if self.events else None

    @property
    def false_alarms_per_day(self) -> float:
        return self.false_alarms / self.days if self.days > 0 else 0.0

    @property
    def alarm_time_ratio(self) -> float:
        return self.alarm_rows / self.rows if self.rows else 0.0

    @property
    def median_lead_s(self) -> float | None:
        return float(np.median(self.leads_s)) if self.leads_s else None


def count_alarms(
    alarm: np.ndarray, incident: np.ndarray, horizon_rows: int, step_s: float
) -> AlarmCounts:
    """Score one file's alarm series (bool per row) against its incident rows."""
    alarm = np.asarray(alarm, dtype=bool)
    incident = np.asarray(incident, dtype=bool)
    target = window_labels(incident, horizon_rows)
    onset_rows = max(1, round(ONSET_S / step_s))
    caught = 0
    leads: list[float] = []
    events = runs(incident)
    for start, end in events:
        lo = max(0, start - horizon_rows)
        hi = min(end, start + onset_rows)
        hits = np.flatnonzero(alarm[lo:hi])
        if len(hits):
            caught += 1
            leads.append(float((start - (lo + hits[0])) * step_s))
    merge_rows = max(0, round(MERGE_S / step_s))
    false = sum(1 for s, e in runs(alarm, merge_rows) if not target[s:e].any())
    return AlarmCounts(
        events=len(events),
        caught=caught,
        false_alarms=false,
        alarm_rows=int(alarm.sum()),
        rows=len(alarm),
        days=len(alarm) * step_s / DAY_S,
        leads_s=tuple(leads),
    )


def chance_counts(
    alarm: np.ndarray, incident: np.ndarray, horizon_rows: int, step_s: float, shifts: int = 8
) -> AlarmCounts:
    """Pooled counts of the alarm series rolled by ``shifts`` evenly spaced offsets."""
    n = len(alarm)
    total = AlarmCounts()
    for k in range(1, shifts + 1):
        offset = int(n * k / (shifts + 1))
        total = total + count_alarms(np.roll(alarm, offset), incident, horizon_rows, step_s)
    return total


def relative_alarms(score: np.ndarray, share: float, warmup_rows: int) -> np.ndarray:
    """Alarm where the score tops the (1 - share) quantile of the file's earlier scores.

    Causal (row t compares with rows before t) and per file: a model's probabilities do
    not calibrate across machines, its ranking within a machine does. No alarm in the
    first ``warmup_rows`` rows.
    """
    series = pd.Series(np.asarray(score, dtype=float))
    level = series.expanding(min_periods=max(1, warmup_rows)).quantile(1.0 - share).shift(1)
    limit = level.to_numpy(float)
    return np.where(np.isnan(limit), False, series.to_numpy(float) >= limit)


def choose_share(
    scores: Sequence[np.ndarray],
    incidents: Sequence[np.ndarray],
    horizon_s: float,
    step_s: Sequence[float],
    warmup_rows: Sequence[int],
    max_false_alarms_per_day: float,
    max_alarm_ratio: float,
) -> float:
    """Pick the alarm share on training scores: the best pooled event recall with at most
    ``max_false_alarms_per_day`` and ``max_alarm_ratio``; ties go to the smaller share.
    With no share within both limits: the smallest."""
    best, best_recall = ALARM_SHARES[0], -1.0
    for share in ALARM_SHARES:
        total = AlarmCounts()
        for s, inc, step, warm in zip(scores, incidents, step_s, warmup_rows, strict=True):
            rows = max(1, round(horizon_s / step))
            total = total + count_alarms(relative_alarms(s, share, warm), inc, rows, step)
        if total.false_alarms_per_day > max_false_alarms_per_day:
            continue
        if total.alarm_time_ratio > max_alarm_ratio:
            continue
        recall = total.event_recall or 0.0
        if recall > best_recall + 1e-12:
            best, best_recall = share, recall
    return best
