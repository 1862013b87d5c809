"""Workload scenarios and the trace replay that measures scaling policies on them.

``replay`` runs in two phases. First the forecaster walks the trace causally (refit
every ``refit_every_s`` on a trailing window, vectorised forecasts for every origin in
between); the forecasts do not depend on the policy, so they are made once. Then every
policy drives its own simulated pool through the same steps via ``ScalingEngine``.

Timing: the value at ``timestamps[i]`` is the demand during step i (``[t_i, t_i +
step_s)``), served by the instances ready at ``t_i``. The engine decides at the end of
the step (``now = t_i + step_s``) from that value and a forecast made at origin i, so an
instance launched then is first ready ``boot_s`` later.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from foresight.core.errors import InputError
from foresight.scaling.policies import DEFAULT_CONFIDENCE, check_confidence
from predictor import LagForecaster
from resource_manager import ResourcePool
from scaling_engine import POLICIES, DemandForecast, ScalingAction, ScalingEngine, make_policy

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
DAY_S = 86_400.0
FLAP_WINDOW_S = 600.0  # a scale-down undone by a scale-up this soon is a flap
MAX_REFITS = (
    366  # forecaster refits per replay: a year of daily ones; longer traces refit less often
)


# ---- scenarios -------------------------------------------------------------------------
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


# ---- forecasts over a trace ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ForecastTrack:
    """Causal forecasts for every origin of a trace (units), and their measured quality.

    ``mean``/``upper``/``lower`` (80 % band) are (n, horizon): row i forecasts steps
    i+1..i+horizon from data up to step i; NaN rows where no forecast was possible.
    ``quality[i]`` is the rolling MAE at the lead step over the last day divided by
    that of "no change" (persistence, the reactive policy's implicit forecast), using
    only errors known by step i.
    """

    mean: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    quality: np.ndarray
    lead_steps: int
    fit_seconds: float
    refits: int

    def at(self, i: int, origin_s: float, step_s: float) -> DemandForecast | None:
        row = self.mean[i]
        if not math.isfinite(row[0]):
            return None
        q = self.quality[i]
        return DemandForecast(
            origin_s, step_s, row, self.upper[i], float(q) if math.isfinite(q) else None
        )


def forecast_track(
    timestamps: np.ndarray,
    demand: np.ndarray,
    *,
    step_s: float,
    horizon: int,
    lead_steps: int,
    refit_every_s: float = DAY_S,
    train_window_s: float = 21 * DAY_S,
    min_train_s: float = DAY_S,
    season_length: int | str | None = "auto",
    progress: Progress | None = None,
) -> ForecastTrack:
    """Walk the trace: refit on a trailing window, then forecast every origin causally."""
    n = len(demand)
    mean = np.full((n, horizon), np.nan)
    upper = np.full((n, horizon), np.nan)
    lower = np.full((n, horizon), np.nan)
    refit_steps = max(1, round(refit_every_s / step_s))
    window = max(1, round(train_window_s / step_s))
    first = max(round(min_train_s / step_s), 3 * horizon + 40)
    fit_s, refits, model = 0.0, 0, None
    for i0 in range(first, n, refit_steps):
        i1 = min(n, i0 + refit_steps)
        lo = max(0, i0 + 1 - window)
        began = time.perf_counter()
        try:
            model = LagForecaster(horizon=horizon, season_length=season_length).fit(
                demand[lo : i0 + 1], timestamps[lo : i0 + 1]
            )
            refits += 1
        except ValueError as exc:  # too little complete history: keep the last model
            logger.debug("refit at step %d skipped: %s", i0, exc)
        fit_s += time.perf_counter() - began
        if model is None:
            continue
        origins = np.arange(i0, i1)
        batch = model.predict_batch(demand, origins, timestamps)
        mean[i0:i1], upper[i0:i1], lower[i0:i1] = batch.mean, batch.upper_80, batch.lower_80
        if progress:
            progress(f"forecasting: step {i1:,} of {n:,} ({refits} refits, {fit_s:.1f} s fitting)")
    gap = np.isnan(demand)
    mean[gap] = np.nan  # no forecast from an origin whose own value is missing
    upper[gap] = np.nan
    lower[gap] = np.nan
    return ForecastTrack(
        mean,
        upper,
        lower,
        _rolling_quality(demand, mean, lead_steps, step_s),
        lead_steps,
        fit_s,
        refits,
    )


def _rolling_quality(demand: np.ndarray, mean: np.ndarray, lead: int, step_s: float) -> np.ndarray:
    """Forecast MAE / persistence MAE at ``lead`` steps, over the last day, causally."""
    n = len(demand)
    lead = min(lead, mean.shape[1])
    err = np.full(n, np.nan)
    base = np.full(n, np.nan)
    if n > lead:
        actual = demand[lead:]
        err[: n - lead] = np.abs(mean[: n - lead, lead - 1] - actual)
        base[: n - lead] = np.abs(demand[: n - lead] - actual)
    ok = np.isfinite(err) & np.isfinite(base)
    # Origin j's error is known at step j + lead: shift so index i sums j <= i - lead.
    e = np.concatenate((np.zeros(lead + 1), np.cumsum(np.where(ok, err, 0.0))))[: n + 1]
    b = np.concatenate((np.zeros(lead + 1), np.cumsum(np.where(ok, base, 0.0))))[: n + 1]
    c = np.concatenate((np.zeros(lead + 1), np.cumsum(ok)))[: n + 1]
    w = max(1, int(DAY_S / step_s))
    idx = np.arange(1, n + 1)
    start = np.maximum(idx - w, 0)
    sum_e, sum_b, count = e[idx] - e[start], b[idx] - b[start], c[idx] - c[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where((count >= min(w // 4, 30)) & (sum_b > 0), sum_e / sum_b, np.nan)
    return q


# ---- replay ----------------------------------------------------------------------------
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
