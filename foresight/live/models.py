"""Forecasts and anomaly scores in ``--monitor``: models refit off the request path.

Installed through ``monitor.EXTENSION_MODULES``:
  * a scheduler job (every ``FORECAST_JOB_S`` seconds, default 15) refits, per metric
    and per horizon tier, the ``LagForecaster`` whose fit is older than
    ``FORECAST_REFIT_S`` (default 300) — a quick rolling-origin backtest first, so each
    model carries its accuracy against seasonal naive — within a CPU budget per run,
    then refreshes the forecasts of fitted models from the newest history;
  * a stage scores every new sample with one streaming ``AnomalyDetector`` per metric
    and keeps the recent anomalies.
Forecasts are made at a step coarser than sampling (DESIGN: 1-s samples → 1-min means
for an hour ahead). The API (api_predictions.py) only reads what this module computed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from foresight.evaluation.backtest import BacktestResult, backtest
from foresight.live.detectors import warmed_detector
from foresight.live.episodes import EpisodeTracker, PointScore
from foresight.models.anomaly import AnomalyDetector
from predictor import Forecast, LagForecaster

logger = logging.getLogger(__name__)

EXTRAS_KEY = "live_models"
MAX_ANOMALIES = 1000


@dataclass(frozen=True, slots=True)
class Tier:
    """A forecast horizon and the step it is made at; history is what a fit reads."""

    name: str
    step_s: float
    horizon_steps: int
    history_steps: int

    @property
    def horizon_s(self) -> float:
        return self.step_s * self.horizon_steps

    @property
    def min_observed(self) -> int:
        """Observed steps before a backtest is possible (its first fit sees 70 %)."""
        return math.ceil((2 * self.horizon_steps + 22) / 0.7) + self.horizon_steps


# 1 h ahead at 1-min means (4 days of history: a daily season needs 3 days to be learnt),
# 24 h at 15-min means (3 weeks), 7 days at hourly means (8 weeks). TIERS[0] is the 1-h
# tier (live_scaling reads it). SHORT_TIER, 5 min ahead at 10-s means from 6 h, is what
# the live 5-minute chart shows: it is ready about 25 minutes after the first sample.
TIERS: tuple[Tier, ...] = (
    Tier("1h", 60.0, 60, 5760),
    Tier("24h", 900.0, 96, 2016),
    Tier("7d", 3600.0, 168, 1344),
)
SHORT_TIER = Tier("5m", 10.0, 30, 2160)
ALL_TIERS: tuple[Tier, ...] = (SHORT_TIER, *TIERS)


def tier_for_seconds(horizon_s: float) -> Tier:
    """The shortest tier whose horizon covers ``horizon_s`` seconds."""
    for tier in sorted(ALL_TIERS, key=lambda t: t.horizon_s):
        if tier.horizon_s >= horizon_s - 1e-9:
            return tier
    return max(ALL_TIERS, key=lambda t: t.horizon_s)


def tier_for_hours(hours: float) -> Tier:
    """The shortest tier of at least 1-minute steps whose horizon covers ``hours``."""
    return tier_for_seconds(max(hours, 1.0) * 3600.0)


def duration_words(seconds: float) -> str:
    """A duration for people: '50 s', '24 min', '4.4 h', '3 days'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.2g} h"
    return f"{seconds / 86_400:.2g} days"


def step_words(step_s: float) -> str:
    """A sampling step as an adjective: '10-second', '1-minute', '15-minute', '1-hour'."""
    if step_s < 60:
        return f"{step_s:g}-second"
    if step_s < 3600:
        return f"{step_s / 60:g}-minute"
    return f"{step_s / 3600:g}-hour"


def describe_accuracy(result: BacktestResult, step_s: float) -> str:
    """Say how good a model is in plain words (the dashboard shows this sentence)."""
    season = result.season_length
    if season and abs(season * step_s - 86_400.0) < 1.0:
        baseline = "repeating yesterday"
    elif season and abs(season * step_s - 604_800.0) < 1.0:
        baseline = "repeating last week"
    elif season:
        baseline = f"repeating the last {duration_words(season * step_s)}"
    else:
        baseline = "repeating the last value"
    ratio = result.mase / result.seasonal_naive_mase if result.seasonal_naive_mase else math.nan
    if not math.isfinite(ratio):
        words = f"no honest baseline to compare with ({baseline} is never wrong here)"
    elif ratio <= 1.0:
        words = f"error {round(100 * (1 - ratio))} % below {baseline}"
    else:
        words = f"error {round(100 * (ratio - 1))} % above {baseline}"
    return f"{words}; {round(100 * result.coverage_80)} % of actuals inside the 80 % band"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One sample whose score reached the detector's threshold."""

    timestamp: float
    metric: str
    value: float
    score: float

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "metric": self.metric,
            "value": self.value,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class ModelState:
    """What the API shows for one metric and tier: status, accuracy, latest forecast."""

    metric: str
    tier: Tier
    status: str  # "ok" | "warming_up"
    message: str | None
    observed_steps: int
    checked_at: float  # when the job last tried to (re)fit it
    fitted_at: float | None = None
    accuracy: dict | None = None  # backtest figures + "summary" sentence
    forecast: Forecast | None = None
    forecast_made_at: float | None = None

    def to_dict(self, horizon_s: float | None = None) -> dict:
        """JSON for the API, the forecast cut to ``horizon_s`` seconds when given."""
        steps = (
            self.tier.horizon_steps
            if horizon_s is None
            else min(
                self.tier.horizon_steps, max(1, math.ceil(horizon_s / self.tier.step_s - 1e-9))
            )
        )
        forecast = None
        if self.forecast is not None:
            full = self.forecast.to_dict()
            forecast = {k: (v[:steps] if isinstance(v, list) else v) for k, v in full.items()}
        return {
            "metric": self.metric,
            "status": self.status,
            "message": self.message,
            "tier": self.tier.name,
            "step_s": self.tier.step_s,
            "horizon_steps": steps,
            "observed_steps": self.observed_steps,
            "fitted_at": self.fitted_at,
            "checked_at": self.checked_at if math.isfinite(self.checked_at) else None,
            "forecast_made_at": self.forecast_made_at,
            "accuracy": self.accuracy,
            "forecast": forecast,
        }


class LiveModels:
    """Per-metric forecasters and detectors for the live monitor; thread-safe."""

    def __init__(
        self,
        store,
        metrics: Callable[[], list[str]],
        *,
        refit_every_s: float = 300.0,
        budget_s: float = 2.0,
        tiers: tuple[Tier, ...] = ALL_TIERS,
        warm_s: float = 0.0,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.refit_every_s = refit_every_s
        self.budget_s = budget_s
        self.tiers = tiers
        self.warm_s = warm_s  # stored history each new anomaly detector learns from first
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], ModelState] = {}
        self._models: dict[tuple[str, str], LagForecaster] = {}
        self._detectors: dict[str, AnomalyDetector] = {}
        self._scores: dict[str, tuple[float, float]] = {}
        self._anomalies: deque[Anomaly] = deque(maxlen=MAX_ANOMALIES)
        self.episodes = EpisodeTracker(store, threshold=AnomalyDetector().threshold)

    # -- anomaly stage (every sample) ----------------------------------------------------
    def stage(self, now: float, sample) -> None:
        """Score each value of a new sample; remember those at or above the threshold."""
        with self._lock:
            points: dict[str, PointScore] = {}
            for metric, value in sample.values.items():
                detector = self._detectors.get(metric)
                if detector is None:
                    detector = self._detectors[metric] = warmed_detector(
                        self.store, metric, sample.timestamp, self.warm_s
                    )
                score = detector.score_one(float(value))
                self._scores[metric] = (sample.timestamp, score)
                if detector.is_anomaly(score):
                    self._anomalies.append(Anomaly(sample.timestamp, metric, float(value), score))
                points[metric] = PointScore(
                    float(value), detector.expected_, score, detector.surprise_
                )
            self.episodes.observe(sample.timestamp, points)

    def anomalies(
        self, since: float | None = None, metric: str | None = None, limit: int = 100
    ) -> list[dict]:
        """Recent anomalies, newest first."""
        with self._lock:
            found = [
                a
                for a in reversed(self._anomalies)
                if (since is None or a.timestamp >= since)
                and (metric is None or a.metric == metric)
            ]
        return [a.to_dict() for a in found[:limit]]

    def scores(self) -> dict[str, dict]:
        """The latest score of every metric: {metric: {timestamp, score}}."""
        with self._lock:
            return {
                m: {"timestamp": t, "score": round(s, 4)}
                for m, (t, s) in sorted(self._scores.items())
            }

    # -- model job (scheduled) ----------------------------------------------------------
    def _read(
        self, metric: str, tier: Tier, steps: int, now: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The last ``steps`` complete buckets of ``tier.step_s`` before ``now``."""
        last_start = math.floor(now / tier.step_s) * tier.step_s - tier.step_s
        since = last_start - (steps - 1) * tier.step_s
        return self.store.series(metric, since, last_start, tier.step_s)

    def refit(self, metric: str, tier: Tier, now: float) -> ModelState:
        """Backtest, fit and forecast one metric at one tier from the store."""
        ts, values = self._read(metric, tier, tier.history_steps, now)
        observed = int(np.sum(~np.isnan(values)))
        first = int(np.argmax(~np.isnan(values))) if observed else len(values)
        ts, values = ts[first:], values[first:]  # before the first sample is not a gap
        if observed < tier.min_observed:
            need = duration_words((tier.min_observed - observed) * tier.step_s)
            state = ModelState(
                metric,
                tier,
                "warming_up",
                f"not enough history yet: about {need} more of "
                f"{step_words(tier.step_s)} data needed",
                observed,
                now,
            )
        else:
            try:
                result = backtest(values, ts, horizon=tier.horizon_steps, n_refits=2)
                model = LagForecaster(horizon=tier.horizon_steps).fit(values, ts)
                forecast = model.predict(values, ts)
            except ValueError as exc:  # gaps leave too little, or a flat series
                state = ModelState(metric, tier, "warming_up", str(exc), observed, now)
            else:
                accuracy = {
                    k: getattr(result, k)
                    for k in (
                        "mase",
                        "seasonal_naive_mase",
                        "linear_lags_mase",
                        "coverage_80",
                        "coverage_95",
                        "n_origins",
                        "season_length",
                    )
                }
                accuracy["summary"] = describe_accuracy(result, tier.step_s)
                state = ModelState(
                    metric,
                    tier,
                    "ok",
                    None,
                    observed,
                    now,
                    now,
                    accuracy,
                    self._centre(forecast, tier),
                    now,
                )
                with self._lock:
                    self._models[(metric, tier.name)] = model
        with self._lock:
            self._states[(metric, tier.name)] = state
        return state

    @staticmethod
    def _centre(forecast: Forecast, tier: Tier) -> Forecast:
        """Put each step at its bucket's middle (a mean over the bucket) for charts."""
        if forecast.timestamps is None:
            return forecast
        return replace(forecast, timestamps=forecast.timestamps + tier.step_s / 2.0)

    def reforecast(self, metric: str, tier: Tier, now: float) -> None:
        """Forecast again from the newest history with the fitted model (no refit)."""
        with self._lock:
            model = self._models.get((metric, tier.name))
            state = self._states.get((metric, tier.name))
        if model is None or state is None:
            return
        ts, values = self._read(metric, tier, model.spec_.history, now)
        if np.all(np.isnan(values)):
            return
        forecast = self._centre(model.predict(values, ts), tier)
        with self._lock:
            self._states[(metric, tier.name)] = ModelState(
                metric,
                tier,
                state.status,
                state.message,
                state.observed_steps,
                state.checked_at,
                state.fitted_at,
                state.accuracy,
                forecast,
                now,
            )

    def run(self, now: float) -> int:
        """One job run: refit the stalest models within the budget, refresh the rest.

        Returns how many models were refitted (or found still warming up). Time is
        passed in; ``time.perf_counter`` only meters the CPU budget.
        """
        started = time.perf_counter()
        due: list[tuple[float, str, Tier]] = []
        for metric in self.metrics():
            for tier in self.tiers:
                with self._lock:
                    state = self._states.get((metric, tier.name))
                if state is None or now - state.checked_at >= self.refit_every_s:
                    due.append((-math.inf if state is None else state.checked_at, metric, tier))
                elif (
                    state.status == "ok"
                    and state.forecast_made_at is not None
                    and now - state.forecast_made_at >= max(15.0, tier.step_s)
                ):
                    self.reforecast(metric, tier, now)
        refits = 0
        for _, metric, tier in sorted(due, key=lambda item: item[0]):
            if refits and time.perf_counter() - started > self.budget_s:
                break  # the rest wait for the next run: keep each run short
            self.refit(metric, tier, now)
            refits += 1
        return refits

    def state(self, metric: str, tier: Tier) -> ModelState:
        """The current state of one model (warming up until its first job run)."""
        with self._lock:
            found = self._states.get((metric, tier.name))
        return found or ModelState(
            metric,
            tier,
            "warming_up",
            "no model yet: the first fit runs within a minute",
            0,
            -math.inf,
        )


def install(services) -> None:
    """Monitor extension hook: the anomaly stage and the scheduled model job."""
    live = LiveModels(
        services.store,
        services.known_metrics,
        refit_every_s=services.settings.forecast_refit_s,
        warm_s=2000 * services.settings.interval_s,  # the likelihood's long window
    )
    services.extras[EXTRAS_KEY] = live
    services.stages.append(live.stage)
    services.scheduler.add_job(
        lambda: live.run(time.time()),
        "interval",
        seconds=services.settings.forecast_job_s,
        id="foresight-forecasts",
        name="refit and forecast",
        max_instances=1,
        coalesce=True,
    )
