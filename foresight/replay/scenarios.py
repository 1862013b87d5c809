"""Workload scenarios for the trace replay: demand traces in capacity units on a regular
grid, with labelled events (the demo's learning-management system, synthetic flash
crowds), and the small shapes the tests drive policies with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foresight.core.errors import InputError

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A demand trace in capacity units on a regular grid, with labelled events."""

    name: str
    timestamps: np.ndarray  # epoch s, step starts
    demand: np.ndarray  # capacity units; NaN = gap
    step_s: float
    events: tuple[tuple[float, float, str], ...] = ()  # (start_s, end_s, label)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "steps": len(self.demand),
            "step_s": self.step_s,
            "events": [{"start_s": a, "end_s": b, "label": c} for a, b, c in self.events],
        }


def lms_scenario(
    *,
    days: int = 42,
    step_s: float = 300.0,
    peak_units: float = 4.0,
    start_s: float = 1_767_571_200.0,
    seed: int = 7,
    flash_day: float | None = None,
) -> Scenario:
    """A learning-management system: the demo's workload.

    Daily cycle (quiet nights, a late-morning peak and an evening study peak), weekends
    at 55 %, exam periods every 14 days lasting 3 days at 1.8x, and a flash crowd
    (results published: +5 units within 5 minutes, for 45 min) on ``flash_day`` (default:
    the last exam period's second day, 14:00 UTC). ``start_s`` defaults to Monday
    2026-01-05 00:00 UTC. Multiplicative noise ~6 %.
    """
    rng = np.random.default_rng(seed)
    t = start_s + step_s * np.arange(int(days * DAY_S / step_s))
    hour = (t % DAY_S) / 3600.0
    day = (t - start_s) / DAY_S
    daily = (
        0.15
        + 0.75 * np.exp(-(((hour - 11.0) / 3.0) ** 2))
        + 0.55 * np.exp(-(((hour - 20.5) / 2.2) ** 2))
    )
    weekday = ((t // DAY_S) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    weekly = np.where(weekday >= 5, 0.55, 1.0)
    exam_starts = [d for d in range(10, days, 14)]
    exam = np.ones_like(t)
    events = []
    for d0 in exam_starts:
        # Ramp in over 6 hours before the first exam day so the cycle is not a cliff.
        ramp = np.clip((day - (d0 - 0.25)) / 0.25, 0.0, 1.0)
        inside = day < d0 + 3
        exam = np.where(inside & (day >= d0 - 0.25), 1.0 + 0.8 * ramp, exam)
        events.append((start_s + d0 * DAY_S, start_s + (d0 + 3) * DAY_S, "exam period"))
    demand = peak_units * daily * weekly * exam / 1.05
    if flash_day is None:
        flash_day = (exam_starts[-1] + 1 if exam_starts else days / 2) + 14 / 24
    f0 = start_s + flash_day * DAY_S
    flash = np.clip((t - f0) / 300.0 + 1, 0, 1) * (t < f0 + 2700)
    demand = demand + 5.0 * flash
    events.append((f0, f0 + 2700, "flash crowd"))
    demand = demand * rng.lognormal(0.0, 0.06, len(t))
    return Scenario("lms", t, demand, step_s, tuple(events))


FLASH_KINDS = ("step", "ramp", "spike")


def flash_crowd(
    kind: str,
    size: float,
    *,
    days: int = 5,
    step_s: float = 60.0,
    base_peak: float = 3.0,
    start_s: float = 1_700_000_000.0,
    seed: int = 0,
) -> Scenario:
    """A daily cycle peaking at ``base_peak`` units, then a flash crowd on the last day.

    At 10:00 of the last day demand gains ``size`` x ``base_peak`` units: ``step`` at
    once for 2 h; ``ramp`` over 30 min, held, then down over 30 min; ``spike`` within
    5 min, decaying with a 30-min time constant. Multiplicative noise ~5 %. The
    forecaster learns the cycle from the first days, never the crowd.
    """
    if kind not in FLASH_KINDS:
        raise InputError(f"flash crowd kind must be one of {', '.join(FLASH_KINDS)} (got {kind!r})")
    rng = np.random.default_rng(seed)
    t = start_s + step_s * np.arange(int(days * DAY_S / step_s))
    hour = (t % DAY_S) / 3600.0
    base = base_peak * (0.35 + 0.65 * np.exp(-(((hour - 14.0) / 4.0) ** 2)))
    onset = t[0] + (days - 1) * DAY_S + 10 * 3600.0
    x = (t - onset) / 60.0  # minutes since the crowd began
    if kind == "step":
        shape = ((x >= 0) & (x < 120)).astype(float)
    elif kind == "ramp":
        shape = np.clip(x / 30.0, 0, 1) * (x < 90) + np.clip((120 - x) / 30.0, 0, 1) * (x >= 90)
    else:
        shape = np.where(x < 0, 0.0, np.where(x < 5, x / 5.0, np.exp(-(x - 5) / 30.0)))
    demand = (base + size * base_peak * shape) * rng.lognormal(0.0, 0.05, len(t))
    event = (onset, onset + 7200.0, f"{kind} flash crowd x{size:g}")
    return Scenario(f"flash-{kind}-{size:g}", t, demand, step_s, (event,))


def ramp_demand(
    n: int, *, start_units: float, end_units: float, ramp_start: int, ramp_steps: int
) -> np.ndarray:
    """Flat at ``start_units``, a linear ramp over ``ramp_steps``, then flat (tests)."""
    k = np.clip((np.arange(n) - ramp_start) / max(ramp_steps, 1), 0.0, 1.0)
    return start_units + (end_units - start_units) * k


def square_wave(n: int, *, low: float, high: float, period_steps: int) -> np.ndarray:
    """Alternate ``high`` and ``low`` every half period (tests: flapping)."""
    return np.where((np.arange(n) % period_steps) < period_steps // 2, high, low)
