"""The trace replay that measures scaling policies on a demand trace.

``replay`` runs in two phases. First the forecaster walks the trace causally (refit
every ``refit_every_s`` on a trailing window, vectorised forecasts for every origin in
between); the forecasts do not depend on the policy, so they are made once. Then every
policy drives its own simulated pool through the same steps via ``ScalingEngine``.

Timing: the value at ``timestamps[i]`` is the demand during step i (``[t_i, t_i +
step_s)``), served by the instances ready at ``t_i``. The engine decides at the end of
the step (``now = t_i + step_s``) from that value and a forecast made at origin i, so an
instance launched then is first ready ``boot_s`` later.

The scenarios are in ``foresight.replay.scenarios``, the first phase in
``foresight.replay.forecast_track``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from foresight.core.errors import InputError
from foresight.replay.forecast_track import ForecastTrack, Progress, forecast_track
from foresight.scaling.policies import DEFAULT_CONFIDENCE, check_confidence
from resource_manager import ResourcePool
from scaling_engine import POLICIES, ScalingAction, ScalingEngine, make_policy

DAY_S = 86_400.0
FLAP_WINDOW_S = 600.0  # a scale-down undone by a scale-up this soon is a flap
MAX_REFITS = (
    366  # forecaster refits per replay: a year of daily ones; longer traces refit less often
)


@dataclass(frozen=True, slots=True)
class PolicyMetrics:
    """How one policy did over a replay (the ``replay --json`` contract keys)."""

    cost: float  # USD
    instance_hours: float
    overload_minutes: float  # minutes with demand > ready capacity x overload level
    overload_ratio: float  # overloaded share of observed steps
    mean_slack: float  # mean of (ready capacity - demand)+ / ready capacity
    actions: int
    scale_ups: int
    scale_downs: int
    flaps: int = 0  # scale-downs reversed by a scale-up within the flap window
    flaps_per_day: float = 0.0  # flaps per 24 h of replayed time

    def to_dict(self) -> dict:
        return {
            "cost": round(self.cost, 4),
            "instance_hours": round(self.instance_hours, 3),
            "overload_minutes": round(self.overload_minutes, 2),
            "overload_ratio": round(self.overload_ratio, 5),
            "mean_slack": round(self.mean_slack, 4),
            "actions": self.actions,
            "scale_ups": self.scale_ups,
            "scale_downs": self.scale_downs,
            "flaps": self.flaps,
            "flaps_per_day": round(self.flaps_per_day, 3),
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """A replay: per-policy metrics and capacity series, and the forecast used."""

    timestamps: np.ndarray
    demand: np.ndarray
    step_s: float
    boot_s: float
    unit_capacity: float
    metrics: dict[str, PolicyMetrics]
    ready: dict[str, np.ndarray]  # ready instances per step, per policy
    forecast: ForecastTrack
    seconds: dict[str, float] = field(default_factory=dict)
    flap_window_s: float = FLAP_WINDOW_S

    def to_dict(self) -> dict:
        return {
            "policies": {k: m.to_dict() for k, m in self.metrics.items()},
            "steps": len(self.demand),
            "step_s": self.step_s,
            "unit_capacity": self.unit_capacity,
            "boot_s": self.boot_s,
            "flap_window_s": self.flap_window_s,
        }


class FlapCounter:
    """Count scale-downs that a scale-up reverses within ``window_s`` (a flap).

    Each scale-down counts at most once: two scale-downs then one scale-up inside the
    window are two flaps (both removals were undone); a scale-up clears the slate.
    """

    def __init__(self, window_s: float = FLAP_WINDOW_S) -> None:
        self.window_s = window_s
        self.flaps = 0
        self._downs: deque[float] = deque()

    def record(self, action: ScalingAction, now: float) -> None:
        if action is ScalingAction.SCALE_DOWN:
            while self._downs and now - self._downs[0] > self.window_s:
                self._downs.popleft()  # too old for any later scale-up to reverse
            self._downs.append(now)
        elif action is ScalingAction.SCALE_UP:
            self.flaps += sum(1 for t in self._downs if now - t <= self.window_s)
            self._downs.clear()


def run_policy(
    name: str,
    t: np.ndarray,
    demand: np.ndarray,
    track: ForecastTrack,
    *,
    step_s: float,
    boot_s: float = 300.0,
    min_instances: int = 1,
    max_instances: int = 10,
    target_utilisation: float = 0.8,
    overload_level: float = 1.0,
    flap_window_s: float = FLAP_WINDOW_S,
    progress: Progress | None = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE,
) -> tuple[PolicyMetrics, np.ndarray]:
    """Drive one policy's pool through the trace; return its metrics and ready counts."""
    first = demand[np.isfinite(demand)][:1]
    start = math.ceil(first[0] / target_utilisation) if len(first) else min_instances
    pool = ResourcePool(
        start_s=float(t[0]),
        min_instances=min_instances,
        max_instances=max_instances,
        initial=start,
        boot_s=boot_s,
        daily_budget=math.inf,
        max_events=1000,
    )
    engine = ScalingEngine(
        make_policy(
            name,
            target_utilisation=target_utilisation,
            interval_s=step_s,
            confidence_threshold=confidence_threshold,
        ),
        pool,
        history=10,
    )
    n = len(demand)
    ready = np.zeros(n, dtype=np.int32)
    ups = downs = 0
    flaps = FlapCounter(flap_window_s)
    report_every = max(1, n // 10)
    for i in range(n):
        now = float(t[i])
        pool.tick(now)
        ready[i] = pool.ready_count()
        d = float(demand[i])
        decision = engine.step(now + step_s, d, track.at(i, now, step_s))
        if decision.action is ScalingAction.SCALE_UP:
            ups += 1
        elif decision.action is ScalingAction.SCALE_DOWN:
            downs += 1
        flaps.record(decision.action, now + step_s)
        if progress and (i + 1) % report_every == 0:
            progress(f"replaying {name}: step {i + 1:,} of {n:,}")
    pool.tick(float(t[-1]) + step_s)
    cap = ready.astype(float)
    seen = np.isfinite(demand)
    d = demand[seen]
    c = cap[seen]
    over = d > c * overload_level
    with np.errstate(invalid="ignore", divide="ignore"):
        slack = np.where(c > 0, np.clip(c - d, 0, None) / np.maximum(c, 1e-12), 0.0)
    metrics = PolicyMetrics(
        cost=pool.cost_total,
        instance_hours=pool.instance_seconds / 3600.0,
        overload_minutes=float(over.sum()) * step_s / 60.0,
        overload_ratio=float(over.mean()) if len(d) else 0.0,
        mean_slack=float(slack.mean()) if len(d) else 0.0,
        actions=ups + downs,
        scale_ups=ups,
        scale_downs=downs,
        flaps=flaps.flaps,
        flaps_per_day=flaps.flaps / max(n * step_s / DAY_S, 1e-9),
    )
    return metrics, ready


def replay(
    timestamps: np.ndarray,
    demand: np.ndarray,
    *,
    step_s: float,
    boot_s: float = 300.0,
    policies: tuple[str, ...] = tuple(POLICIES),
    min_instances: int = 1,
    max_instances: int = 10,
    target_utilisation: float = 0.8,
    overload_level: float = 1.0,
    unit_capacity: float = 1.0,
    refit_every_s: float = DAY_S,
    train_window_s: float = 21 * DAY_S,
    flap_window_s: float = FLAP_WINDOW_S,
    max_refits: int = MAX_REFITS,
    progress: Progress | None = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE,
) -> ReplayResult:
    """Replay ``demand`` (capacity units on a regular grid, NaN = gap) through policies.

    ``unit_capacity`` is only recorded (the caller already divided by it). The
    forecaster refits every ``refit_every_s``, stretched to a whole number of days so
    that a trace gets at most ``max_refits`` refits: refitting was most of the time of a
    multi-year replay (2 M one-minute steps: 1,389 daily refits), and a model refit every
    few days on a 21-day window forecasts as well as a daily one. Raises InputError for
    unknown policies or parameters out of range.
    """
    for name in policies:
        if name not in POLICIES:
            raise InputError(f"unknown policy {name!r} (choose from {', '.join(POLICIES)})")
    check_confidence(confidence_threshold)
    if not step_s > 0 or boot_s < 0:
        raise InputError(f"step must be > 0 s and boot lag >= 0 s (got {step_s}, {boot_s})")
    t = np.asarray(timestamps, dtype=float)
    demand = np.asarray(demand, dtype=float)
    if len(demand) < 2:
        raise InputError(f"need at least 2 steps to replay (got {len(demand)})")
    lead = max(1, math.ceil(boot_s / step_s))
    days = len(demand) * step_s / DAY_S
    if days > max_refits * refit_every_s / DAY_S:
        refit_every_s = math.ceil(days / max_refits) * DAY_S
    # Demand traces have a daily cycle; autocorrelation on noisy 1-minute counts can
    # lock onto a short spurious peak instead, so give the day when the grid allows.
    per_day = DAY_S / step_s
    season: int | str = int(per_day) if per_day.is_integer() and per_day >= 2 else "auto"
    began = time.perf_counter()
    track = forecast_track(
        t,
        demand,
        step_s=step_s,
        horizon=lead + 2,
        lead_steps=lead,
        refit_every_s=refit_every_s,
        train_window_s=train_window_s,
        season_length=season,
        progress=progress,
    )
    seconds = {"forecast": time.perf_counter() - began}
    metrics, ready = {}, {}
    for name in policies:
        began = time.perf_counter()
        metrics[name], ready[name] = run_policy(
            name,
            t,
            demand,
            track,
            step_s=step_s,
            boot_s=boot_s,
            min_instances=min_instances,
            max_instances=max_instances,
            target_utilisation=target_utilisation,
            overload_level=overload_level,
            flap_window_s=flap_window_s,
            progress=progress,
            confidence_threshold=confidence_threshold,
        )
        seconds[name] = time.perf_counter() - began
    return ReplayResult(
        t, demand, step_s, boot_s, unit_capacity, metrics, ready, track, seconds, flap_window_s
    )
