"""Forecasts and anomaly scores in ``--monitor``: models refit off the request path.

Installed through ``monitor.EXTENSION_MODULES``:
  * a scheduler job (every ``FORECAST_JOB_S`` seconds, default 15) refits, per metric
    and per horizon tier, the model whose fit is older than ``FORECAST_REFIT_S``
    (default 300): ``forecasting.fit_served`` chooses it among the candidates by
    rolling-origin validation on the metric's own history (so each model carries its
    accuracy against the last value and seasonal naive), within a CPU budget per run;
    every run re-anchors the other forecasts: a new forecast from the newest complete
    bucket whenever one has completed, and the newest raw sample as the line's start;
  * a stage scores every new sample with one streaming ``AnomalyDetector`` per metric,
    groups alerts into episodes, and keeps the recent alerts that joined one.
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
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from foresight.live import model_files
from foresight.live.detectors import warmed_detector
from foresight.live.episodes import EpisodeTracker, PointScore
from foresight.live.forecasting import Served, fit_served, forecast_now
from foresight.live.records import Anomaly, ModelState
from foresight.live.tiers import (
    ALL_TIERS,
    SHORT_TIER,
    TIERS,
    Tier,
    describe_accuracy,
    duration_words,
    step_words,
    tier_for_hours,
    tier_for_seconds,
)
from foresight.models.anomaly import AnomalyDetector

logger = logging.getLogger(__name__)

__all__ = [
    "ALL_TIERS",
    "EXTRAS_KEY",
    "SHORT_TIER",
    "TIERS",
    "LiveModels",
    "ModelState",
    "Tier",
    "describe_accuracy",
    "install",
    "tier_for_hours",
    "tier_for_seconds",
]

EXTRAS_KEY = "live_models"
MAX_ANOMALIES = 1000
FAST_START_RECHECK_S = 60.0
EPISODE_GAP_SAMPLES = 60


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
        data_dir: Path | None = None,
        warm_s: float = 0.0,
        episode_gap_s: float = 60.0,
    ) -> None:
        self.store = store
        self.data_dir = data_dir  # None: models are not saved (tests, replay)
        self.metrics = metrics
        self.refit_every_s = refit_every_s
        self.budget_s = budget_s
        self.tiers = tiers
        self.warm_s = warm_s  # stored history each new anomaly detector learns from first
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], ModelState] = {}
        self._models: dict[tuple[str, str], Served] = {}
        self._detectors: dict[str, AnomalyDetector] = {}
        self._scores: dict[str, tuple[float, float]] = {}
        self._anomalies: deque[Anomaly] = deque(maxlen=MAX_ANOMALIES)
        self._pending: dict[str, Anomaly] = {}  # each metric's latest unconfirmed alert
        self.wakeup: Callable[[], None] | None = None  # run the job now (set by install)
        self.episodes = EpisodeTracker(
            store, threshold=AnomalyDetector().threshold, close_after_s=episode_gap_s
        )
        if data_dir is not None:
            self._load_saved()

    # -- saved models (issue 8: they survive a restart) ----------------------------------
    def _load_saved(self) -> None:
        """Serve what the last run fitted until its refit is due; forecasts follow."""
        by_name = {t.name: t for t in self.tiers}
        assert self.data_dir is not None
        for (metric, tier_name), served in model_files.load_all(self.data_dir).items():
            tier = by_name.get(tier_name)
            if tier is None or served.model.horizon != tier.horizon_steps:
                continue  # a tier that no longer exists or changed shape: refit instead
            self._models[(metric, tier_name)] = served
            self._states[(metric, tier_name)] = ModelState(
                metric,
                tier,
                "ok",
                None,
                served.n_observed,
                served.fitted_at,
                served.fitted_at,
                served.accuracy(tier.step_s),
                model=served.name,
            )
        logger.info("loaded %d saved models from %s", len(self._models), self.data_dir)

    def _save(self, metric: str, tier: Tier, served: Served) -> None:
        if self.data_dir is None:
            return
        try:
            model_files.save_served(self.data_dir, metric, tier.name, served)
        except (OSError, ValueError) as exc:  # a full disk must not stop forecasting
            logger.warning("could not save the %s %s model: %s", metric, tier.name, exc)

    def request_refit(self, now: float, metric: str | None = None) -> int:
        """Mark models due (all, or one metric's) and wake the job; returns how many."""
        count = 0
        with self._lock:
            for m in self.metrics():
                if metric is not None and m != metric:
                    continue
                for tier in self.tiers:
                    state = self._states.get((m, tier.name))
                    if state is not None:
                        self._states[(m, tier.name)] = replace(state, checked_at=-math.inf)
                    count += 1
        if self.wakeup is not None:
            self.wakeup()
        return count

    def overview(self) -> list[dict]:
        """Per metric and tier: the served model, every candidate's score, fitted-at, history."""
        rows = []
        for metric in self.metrics():
            for tier in self.tiers:
                state = self.state(metric, tier)
                acc = state.accuracy or {}
                with self._lock:
                    served = self._models.get((metric, tier.name))
                rows.append(
                    {
                        "metric": metric,
                        "tier": tier.name,
                        "status": state.status,
                        "message": state.message,
                        "model": state.model,
                        "model_words": acc.get("model_words"),
                        "summary": acc.get("summary"),
                        "mase": acc.get("mase"),
                        "naive_mase": acc.get("naive_mase"),
                        "seasonal_naive_mase": acc.get("seasonal_naive_mase"),
                        "candidates": acc.get("candidates", {}),
                        "coverage_80": acc.get("coverage_80"),
                        "fitted_at": state.fitted_at,
                        "selected_at": None if served is None else served.selected_at,
                        "history_steps": None if served is None else served.n_observed,
                        "history_s": None if served is None else served.n_observed * tier.step_s,
                        "step_s": tier.step_s,
                    }
                )
        return rows

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
                    self._pending[metric] = Anomaly(sample.timestamp, metric, float(value), score)
                points[metric] = PointScore(
                    float(value), detector.expected_, score, detector.surprise_, detector.confirm_
                )
            episode = self.episodes.observe(sample.timestamp, points)
            # An alert is listed (a chart mark, the `anomaly` alert rule) once its metric is
            # part of an episode, i.e. confirmed: an odd sample alone is not shown.
            if episode is not None:
                for member in episode.metrics:
                    alert = self._pending.pop(member.metric, None)
                    if alert is not None:
                        self._anomalies.append(alert)

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
        """Choose, fit and forecast one metric at one tier from the store."""
        ts, values = self._read(metric, tier, tier.history_steps, now)
        observed = int(np.sum(~np.isnan(values)))
        first = int(np.argmax(~np.isnan(values))) if observed else len(values)
        ts, values = ts[first:], values[first:]  # before the first sample is not a gap
        with self._lock:
            previous = self._models.get((metric, tier.name))
        try:
            served = fit_served(
                metric,
                values,
                ts,
                horizon=tier.horizon_steps,
                step_s=tier.step_s,
                min_observed=tier.min_observed,
                now=now,
                previous=previous,
            )
        except ValueError as exc:  # too short, or gaps leave too little
            if observed < tier.min_observed:
                need = duration_words((tier.min_observed - observed) * tier.step_s)
                message = (
                    f"not enough history yet: about {need} more of "
                    f"{step_words(tier.step_s)} data needed"
                )
            else:
                message = str(exc)
            state = ModelState(metric, tier, "warming_up", message, observed, now)
            with self._lock:
                self._states[(metric, tier.name)] = state
            return state
        with self._lock:
            self._models[(metric, tier.name)] = served
        self._save(metric, tier, served)
        forecast = forecast_now(served, values, ts, tier.step_s)
        state = ModelState(
            metric,
            tier,
            "ok",
            None,
            observed,
            now,
            now,
            served.accuracy(tier.step_s),
            forecast,
            now,
            served.name,
            self._anchor(metric),
        )
        with self._lock:
            self._states[(metric, tier.name)] = state
        return state

    def _anchor(self, metric: str, latest: dict | None = None) -> tuple[float, float] | None:
        """The newest raw sample of ``metric``: where a drawn forecast starts."""
        found = (self.store.latest() if latest is None else latest).get(metric)
        return None if found is None else (float(found[0]), float(found[1]))

    def reforecast(self, metric: str, tier: Tier, now: float, latest: dict | None = None) -> None:
        """Re-anchor: forecast again from the newest complete bucket (no refit)."""
        with self._lock:
            served = self._models.get((metric, tier.name))
            state = self._states.get((metric, tier.name))
        if served is None or state is None:
            return
        forecast, made_at = state.forecast, state.forecast_made_at
        bucket = math.floor(now / tier.step_s)
        if made_at is None or math.floor(made_at / tier.step_s) != bucket:
            ts, values = self._read(metric, tier, served.history_steps, now)
            if not np.all(np.isnan(values)):
                forecast, made_at = forecast_now(served, values, ts, tier.step_s), now
        with self._lock:
            self._states[(metric, tier.name)] = replace(
                state,
                forecast=forecast,
                forecast_made_at=made_at,
                anchor=self._anchor(metric, latest),
            )

    def _wait_s(self, state: ModelState, tier: Tier) -> float:
        """Seconds between refits of one model.

        Warming up: look again once a new bucket has completed, so the first forecast
        appears as soon as the history allows. Fast start (the last value): try the
        others every minute, a richer model may win. Otherwise ``refit_every_s``.
        """
        if state.status != "ok":
            wait_s = tier.step_s
        elif (state.accuracy or {}).get("fast_start"):
            wait_s = max(FAST_START_RECHECK_S, tier.step_s)
        else:
            wait_s = self.refit_every_s
        return min(wait_s, self.refit_every_s)

    def run(self, now: float) -> int:
        """One job run: refit the stalest models within the budget, refresh the rest.

        Returns how many models were refitted (or found still warming up). Time is
        passed in; ``time.perf_counter`` only meters the CPU budget.
        """
        started = time.perf_counter()
        due: list[tuple[float, str, Tier]] = []
        latest: dict | None = None
        for metric in self.metrics():
            for tier in self.tiers:
                with self._lock:
                    state = self._states.get((metric, tier.name))
                if state is None or now - state.checked_at >= self._wait_s(state, tier):
                    due.append((-math.inf if state is None else state.checked_at, metric, tier))
                elif state.status == "ok":
                    if latest is None:
                        latest = self.store.latest()
                    self.reforecast(metric, tier, now, latest)
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
        data_dir=services.settings.data_dir,
        warm_s=2000 * services.settings.interval_s,  # the likelihood's long window
        # The detector counts samples, so the tracker does too (60 s at 1-s sampling).
        episode_gap_s=EPISODE_GAP_SAMPLES * services.settings.interval_s,
    )
    services.extras[EXTRAS_KEY] = live
    services.stages.append(live.stage)
    job = services.scheduler.add_job(
        lambda: live.run(time.time()),
        "interval",
        seconds=services.settings.forecast_job_s,
        id="foresight-forecasts",
        name="refit and forecast",
        max_instances=1,
        coalesce=True,
    )

    def wakeup() -> None:
        if services.scheduler.running:
            job.modify(next_run_time=datetime.now(UTC))

    live.wakeup = wakeup
