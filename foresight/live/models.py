"""Forecasts and anomaly scores in ``--monitor``: models refit off the request path.

Installed by ``model_job.install``:
  * a scheduler job (every ``FORECAST_JOB_S`` seconds, default 15) refits, per metric
    and per horizon tier, the model whose fit is older than ``FORECAST_REFIT_S``
    (default 300): it reads the history and sends it to the fit worker
    (``fit_worker``: a child process, so fits never hold this interpreter's lock), which
    chooses among the candidates by rolling-origin validation on the metric's own
    history (so each model carries its accuracy against the last value and seasonal
    naive) and sends back arrays + JSON; the result is installed on the worker's
    callback thread. Without a worker (tests, replay) it fits in-process within a CPU
    budget per run. Every run re-anchors the other forecasts: a new forecast from the
    newest complete bucket whenever one has completed, and the newest raw sample as the
    line's start; and feeds each earlier forecast's outcomes back into its bands
    (``online_bands``: adaptive conformal inference, online);
  * a stage (``anomaly_stage``) scores every new sample with one streaming
    ``AnomalyDetector`` per metric, groups alerts into episodes, and keeps the recent
    alerts that joined one.
Forecasts are made at a step coarser than sampling (DESIGN: 1-s samples → 1-min means
for an hour ahead). The API (api_predictions.py) only reads what this module computed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from foresight.live import model_files
from foresight.live.anomaly_stage import AnomalyStage
from foresight.live.fit_worker import FitWorker
from foresight.live.forecasting import Served, fit_served, forecast_now, reselect_s
from foresight.live.lstm_rounds import LstmCandidate, LstmRounds
from foresight.live.online_bands import OnlineBands
from foresight.live.records import ModelState, overview_row
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
from foresight.live.worker_fits import WorkerFits

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
    "make_fit_worker",
    "tier_for_hours",
    "tier_for_seconds",
]

EXTRAS_KEY = "live_models"
FAST_START_RECHECK_S = 60.0
EPISODE_GAP_SAMPLES = 60


class LiveModels(AnomalyStage, WorkerFits, LstmCandidate):
    """Per-metric forecasters (and, inherited, detectors) for the live monitor; thread-safe."""

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
        worker: FitWorker | None = None,
        episode_gap_s: float = 60.0,
        lstm: LstmRounds | None = None,
    ) -> None:
        self.store = store
        self.data_dir = data_dir  # None: models are not saved (tests, replay)
        self.metrics = metrics
        self.refit_every_s = refit_every_s
        self.budget_s = budget_s
        self.tiers = tiers
        super().__init__(store, warm_s, episode_gap_s)
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], ModelState] = {}
        self._models: dict[tuple[str, str], Served] = {}
        self.wakeup: Callable[[], None] | None = None  # run the job now (set by install)
        self.worker = worker  # None: fit in this process (tests, replay)
        self.lstm = lstm  # None: the LSTM is not a candidate (FORESIGHT_LSTM off)
        self.online = OnlineBands()
        self._inflight: set[tuple[str, str]] = set()  # sent to the worker, not back yet
        self._rerun: set[tuple[str, str]] = set()  # refit requested while in flight
        self._tiers_by_name = {t.name: t for t in tiers}
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
            if self.lstm is not None and "lstm" in served.candidates:
                self.lstm.remember((metric, tier_name), served.selected_at or served.fitted_at)
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
                    if (m, tier.name) in self._inflight:
                        self._rerun.add((m, tier.name))
                    state = self._states.get((m, tier.name))
                    if state is not None:
                        self._states[(m, tier.name)] = replace(state, checked_at=-math.inf)
                    served = self._models.get((m, tier.name))
                    if self.lstm is not None and served is not None and served.name == "lstm":
                        self.lstm.forget((m, tier.name))  # a served LSTM refits in a round
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
                with self._lock:
                    served = self._models.get((metric, tier.name))
                rows.append(overview_row(state, served))
        return rows

    # -- model job (scheduled) ----------------------------------------------------------
    def _read(
        self, metric: str, tier: Tier, steps: int, now: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The last ``steps`` complete buckets of ``tier.step_s`` before ``now``."""
        last_start = math.floor(now / tier.step_s) * tier.step_s - tier.step_s
        since = last_start - (steps - 1) * tier.step_s
        return self.store.series(metric, since, last_start, tier.step_s)

    def _history(self, metric: str, tier: Tier, now: float) -> tuple[np.ndarray, np.ndarray, int]:
        """The tier's history of ``metric`` from its first sample on, and how much is observed."""
        ts, values = self._read(metric, tier, tier.history_steps, now)
        observed = int(np.sum(~np.isnan(values)))
        first = int(np.argmax(~np.isnan(values))) if observed else len(values)
        return ts[first:], values[first:], observed  # before the first sample is not a gap

    def _warming(
        self, metric: str, tier: Tier, now: float, observed: int, reason: str | None
    ) -> ModelState:
        """Record that ``metric`` at ``tier`` has no model yet, and why, in plain words."""
        if observed < tier.min_observed or reason is None:
            need = duration_words(max(tier.min_observed - observed, 1) * tier.step_s)
            reason = (
                f"not enough history yet: about {need} more of "
                f"{step_words(tier.step_s)} data needed"
            )
        state = ModelState(metric, tier, "warming_up", reason, observed, now)
        with self._lock:
            self._states[(metric, tier.name)] = state
        return state

    def refit(
        self, metric: str, tier: Tier, now: float, names: tuple[str, ...] | None = None
    ) -> ModelState:
        """Choose, fit and forecast one metric at one tier from the store, in-process.

        ``names``: choose afresh among these (an LSTM round); None: as the worker would."""
        ts, values, observed = self._history(metric, tier, now)
        with self._lock:
            previous = self._models.get((metric, tier.name))
        if names is not None or (previous is not None and previous.name == "lstm"):
            previous = None  # choose afresh: the LSTM is refitted only in its own rounds
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
                reselect_every_s=reselect_s(tier),
                **({} if names is None else {"names": names}),
            )
        except ValueError as exc:  # too short, or gaps leave too little
            return self._warming(metric, tier, now, observed, str(exc))
        return self._install(metric, tier, now, served, ts, values, observed)

    def _install(
        self,
        metric: str,
        tier: Tier,
        now: float,
        served: Served,
        ts: np.ndarray,
        values: np.ndarray,
        observed: int,
    ) -> ModelState:
        """Serve a new fit: keep the live band state when the choice is unchanged, save it,
        forecast from the newest complete bucket."""
        key = (metric, tier.name)
        with self._lock:
            current = self._models.get(key)
            same_choice = (
                current is not None
                and not served.fast_start
                and current.selected_at == served.selected_at
                and current.name == served.name
            )
            if same_choice and current is not None:
                # Outcomes fed back while it was fitting belong to this calibration.
                served = replace(served, conformal=current.conformal)
            self._models[key] = served
        if not same_choice:
            self.online.forget(key)  # bands recalibrated: earlier forecasts were other bands
        self._save(metric, tier, served)
        forecast = forecast_now(served, values, ts, tier.step_s)
        self.online.remember(key, float(ts[-1]), forecast)
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
            self._states[key] = state
        return state

    def close(self) -> None:
        """Stop the worker and save every model with its live band state (at shutdown)."""
        if self.worker is not None:
            self.worker.close()
        with self._lock:
            models = dict(self._models)
        for (metric, tier_name), served in models.items():
            tier = self._tiers_by_name.get(tier_name)
            if tier is not None:
                self._save(metric, tier, served)

    def _anchor(self, metric: str, latest: dict | None = None) -> tuple[float, float] | None:
        """The newest raw sample of ``metric``: where a drawn forecast starts."""
        found = (self.store.latest() if latest is None else latest).get(metric)
        return None if found is None else (float(found[0]), float(found[1]))

    def reforecast(self, metric: str, tier: Tier, now: float, latest: dict | None = None) -> None:
        """Re-anchor: forecast again from the newest complete bucket (no refit), after
        feeding the outcomes that bucket completed back into the bands (online ACI)."""
        key = (metric, tier.name)
        with self._lock:
            served = self._models.get(key)
            state = self._states.get(key)
        if served is None or state is None:
            return
        forecast, made_at = state.forecast, state.forecast_made_at
        bucket = math.floor(now / tier.step_s)
        if made_at is None or math.floor(made_at / tier.step_s) != bucket:
            steps = max(served.history_steps, tier.horizon_steps + 2)
            ts, values = self._read(metric, tier, steps, now)
            if not np.all(np.isnan(values)):
                scored, misses = self.online.outcomes(key, ts, values, tier.step_s)
                with self._lock:
                    served = self._models.get(key, served)  # a refit may have landed
                    if len(scored):
                        served = replace(served, conformal=served.conformal.observe(scored, misses))
                        self._models[key] = served
                forecast, made_at = forecast_now(served, values, ts, tier.step_s), now
                self.online.remember(key, float(ts[-1]), forecast)
        with self._lock:
            current = self._states.get(key, state)
            self._states[key] = replace(
                current,
                accuracy=served.accuracy(tier.step_s),
                forecast=forecast,
                forecast_made_at=made_at,
                anchor=self._anchor(metric, latest),
            )

    def _wait_s(self, state: ModelState, tier: Tier) -> float:
        """Seconds between refits of one model.

        Warming up: look again once a new bucket has completed, so the first forecast
        appears as soon as the history allows. Fast start (the last value): try the
        others every minute, a richer model may win. Otherwise ``refit_every_s``, but
        never before a new bucket has completed: the 24-hour tier learns one 15-minute
        value per 15 minutes, the 7-day tier one an hour (a refit in between would fit
        the same data again).
        """
        if state.status != "ok":
            return min(tier.step_s, self.refit_every_s)
        if (state.accuracy or {}).get("fast_start"):
            return min(max(FAST_START_RECHECK_S, tier.step_s), self.refit_every_s)
        return max(self.refit_every_s, tier.step_s)

    def run(self, now: float) -> int:
        """One job run: refit the stalest models, refresh the rest.

        With a worker, every due model is sent to it and the run returns at once; without
        one, models are refitted here within the CPU budget. With the LSTM on, at most
        one LSTM round starts (``lstm_rounds``: its own cadence and CPU budget), and a
        served LSTM is only re-anchored in between. Returns how many models were sent or
        refitted (or found still warming up). Time is passed in; ``time.perf_counter``
        only meters the CPU budget.
        """
        started = time.perf_counter()
        due: list[tuple[float, str, Tier]] = []
        latest: dict | None = None
        for metric in self.metrics():
            for tier in self.tiers:
                with self._lock:
                    state = self._states.get((metric, tier.name))
                    busy = (metric, tier.name) in self._inflight
                if (
                    not busy
                    and not self.lstm_held((metric, tier.name))
                    and (state is None or now - state.checked_at >= self._wait_s(state, tier))
                ):
                    due.append((-math.inf if state is None else state.checked_at, metric, tier))
                elif state is not None and state.status == "ok":
                    if latest is None:
                        latest = self.store.latest()
                    self.reforecast(metric, tier, now, latest)
        refits = 0
        for _, metric, tier in sorted(due, key=lambda item: item[0]):
            if self.worker is not None:
                self._submit(metric, tier, now)
            else:
                if refits and time.perf_counter() - started > self.budget_s:
                    break  # the rest wait for the next run: keep each run short
                self.refit(metric, tier, now)
            refits += 1
        return refits + self._lstm_round(now)

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


def make_fit_worker() -> FitWorker:
    """The fit worker ``--monitor`` uses: one spawned child, retired when idle."""
    return FitWorker()
