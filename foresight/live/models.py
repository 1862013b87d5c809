"""Forecasts and anomaly scores in ``--monitor``: models refit off the request path.

Installed by ``model_install.install``:
  * a scheduler job (every ``FORECAST_JOB_S`` seconds, default 15) refits, per metric
    and per horizon tier, the model whose fit is older than ``FORECAST_REFIT_S``
    (default 300): it reads the history and sends it to the fit worker
    (``fit_worker``: a child process, so fits never hold this interpreter's lock), which
    chooses among the candidates by rolling-origin validation on the metric's own
    history (so each model carries its accuracy against the last value and seasonal
    naive) and sends back arrays + JSON; the result is installed on the worker's
    callback thread. Without a worker (tests, replay) it fits in-process within a wall
    budget per run. Refits take turns, stalest first, within a share of one core
    (``FORECAST_REFIT_CORE_SHARE``, ``refit_budget``); a model with none fitted yet is
    served the last value at once. Every run re-anchors the other forecasts: a new forecast from the
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
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from foresight.live import model_files
from foresight.live.anomaly_stage import AnomalyStage
from foresight.live.fit_worker import COMPILE_CACHE, DEFAULT_TIMEOUT_S, FitWorker
from foresight.live.forecasting import Served, fit_served, forecast_now, reselect_s
from foresight.live.history_need import duration_words, step_words
from foresight.live.history_window import HistoryWindows
from foresight.live.lstm_rounds import LstmCandidate, LstmRounds
from foresight.live.model_job import ModelJob
from foresight.live.online_bands import OnlineBands
from foresight.live.records import ModelState, overview_row
from foresight.live.refit_budget import RefitBudget
from foresight.live.refit_due import REFIT_STEPS
from foresight.live.tiers import (
    ALL_TIERS,
    SHORT_TIER,
    TIERS,
    Tier,
    describe_accuracy,
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
MODEL_SAVE_EVERY_S = 900.0  # a refit of an unchanged choice is written at most this often
EPISODE_GAP_SAMPLES = 60


class LiveModels(AnomalyStage, WorkerFits, LstmCandidate, ModelJob):
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
        refit_core_share: float | None = None,
        lstm: LstmRounds | None = None,
        refit_steps: float = REFIT_STEPS,
    ) -> None:
        self.store = store
        # the history reads of re-forecasts and refits, the newest buckets re-read only
        self.windows = HistoryWindows(store)
        self.data_dir = data_dir  # None: models are not saved (tests, replay)
        self.metrics = metrics
        self.refit_every_s = refit_every_s
        self.refit_steps = refit_steps  # a kept choice is refit after this many buckets
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
        self._lost: dict[tuple[str, str], int] = {}  # fits lost with their worker, in a row
        self._saved_at: dict[tuple[str, str], float] = {}  # when each model was last written
        self._unsaved: set[tuple[str, str]] = set()  # provisional: served, never written
        self._rerun: set[tuple[str, str]] = set()  # refit requested while in flight
        # the accuracy figures reforecast last computed, with the Served they describe
        self._accuracy_of: dict[tuple[str, str], tuple[Served, dict]] = {}
        self._tiers_by_name = {t.name: t for t in tiers}
        # reads of each model's state (``state``), and the job's view of them: (the count it
        # last saw, when it saw it change): see ModelJob._reanchor_due
        self._reads: dict[tuple[str, str], int] = {}
        self._read_seen: dict[tuple[str, str], tuple[int, float]] = {}
        # keys the last job run re-anchored as watched; a read of any other wakes the job
        # (once per run), so the first view after a quiet spell is fresh within a second
        self._watched: set[tuple[str, str]] = set()
        self._woken = False
        # None: every due model is refit at once (tests, bench_refit); the monitor passes
        # FORECAST_REFIT_CORE_SHARE so a fleet's refits take turns within that share.
        self.refit_budget = RefitBudget(refit_core_share)
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
        self.windows.forget(metric)  # a refit asked for reads the store whole
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
        # ``series`` reads whole buckets, ``until`` only sets the newest one's start (it
        # once cut the newest bucket at ``until``: read up to its start, that bucket held
        # one sample or none). Short of the next bucket's start: n buckets, not n + 1.
        until = last_start + tier.step_s * (1.0 - 1e-6)
        return self.windows.series(metric, since, until, tier.step_s, now)

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
            reason = f"about {need} more of {step_words(tier.step_s)} data needed"
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
        provisional: bool = False,
    ) -> ModelState:
        """Serve a new fit: keep the live band state when the choice is unchanged, save it,
        forecast from the newest complete bucket. ``provisional``: the last value served
        until the first fit, not saved, and left first in line for that fit."""
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
        # A new choice is saved at once; a refit of the kept one at most every
        # MODEL_SAVE_EVERY_S (close() saves every model at shutdown): one file write and
        # fsync per model per refit was the monitor's largest cost after sampling.
        due = not same_choice or now - self._saved_at.get(key, -math.inf) >= MODEL_SAVE_EVERY_S
        if provisional:
            self._unsaved.add(key)
        else:
            self._unsaved.discard(key)
            if due:
                self._save(metric, tier, served)
                self._saved_at[key] = now
        forecast = forecast_now(served, values, ts, tier.step_s)
        self.online.remember(key, float(ts[-1]), forecast)
        accuracy = served.accuracy(tier.step_s)
        state = ModelState(
            metric,
            tier,
            "ok",
            None,
            observed,
            -math.inf if provisional else now,
            now,
            accuracy,
            forecast,
            now,
            served.name,
            self._anchor(metric),
        )
        with self._lock:
            self._states[key] = state
            self._accuracy_of[key] = (served, accuracy)  # (and the old Served let go)
        return state

    def close(self) -> None:
        """Stop the worker and save every model with its live band state (at shutdown)."""
        if self.worker is not None:
            self.worker.close()
        with self._lock:
            models = dict(self._models)
        for (metric, tier_name), served in models.items():
            tier = self._tiers_by_name.get(tier_name)
            if tier is not None and (metric, tier_name) not in self._unsaved:
                self._save(metric, tier, served)

    def _anchor(self, metric: str, latest: dict | None = None) -> tuple[float, float] | None:
        """The newest raw sample of ``metric``: where a drawn forecast starts (from
        ``latest``, the store's ``latest()`` read once for a whole job run, when given)."""
        found = self.store.newest(metric) if latest is None else latest.get(metric)
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
                scored, misses, errors = self.online.outcomes(key, ts, values, tier.step_s)
                with self._lock:
                    served = self._models.get(key, served)  # a refit may have landed
                    if len(scored):
                        conformal = served.conformal.observe(scored, misses, errors)
                        served = replace(served, conformal=conformal)
                        self._models[key] = served
                forecast, made_at = forecast_now(served, values, ts, tier.step_s), now
                self.online.remember(key, float(ts[-1]), forecast)
        with self._lock:
            current = self._states.get(key, state)
            # The figures read only the served model (a frozen record): between new
            # buckets (most runs of the longer tiers) they are those already computed.
            known = self._accuracy_of.get(key)
            if known is not None and known[0] is served:
                accuracy = known[1]
            else:
                accuracy = served.accuracy(tier.step_s)
                self._accuracy_of[key] = (served, accuracy)
            self._states[key] = replace(
                current,
                accuracy=accuracy,
                forecast=forecast,
                forecast_made_at=made_at,
                anchor=self._anchor(metric, latest),
            )

    def state(self, metric: str, tier: Tier) -> ModelState:
        """The current state of one model (warming up until its first job run); a read
        keeps its forecast re-anchored every job run for the next ``WATCHED_S``. A read of
        a forecast nobody watched (up to ``IDLE_REANCHOR_S`` old) wakes the job, once per
        run, so that the next read is re-anchored at once rather than at the next run."""
        key = (metric, tier.name)
        with self._lock:
            self._reads[key] = self._reads.get(key, 0) + 1
            found = self._states.get(key)
            wake = (
                found is not None
                and found.status == "ok"
                and key not in self._watched
                and not self._woken
            )
            self._woken = self._woken or wake
        if wake and self.wakeup is not None:
            self.wakeup()
        return found or ModelState(
            metric,
            tier,
            "warming_up",
            "no model yet: the first fit runs within a minute",
            0,
            -math.inf,
        )


def make_fit_worker(
    timeout_s: float = DEFAULT_TIMEOUT_S, data_dir: Path | None = None
) -> FitWorker:
    """The fit worker ``--monitor`` uses: one spawned child, retired when idle, killed
    when it holds queued fits and answers none for ``timeout_s``; the LSTM's JAX
    compilation cache in ``data_dir``/jax-cache (None: no cache)."""
    cache = None if data_dir is None else Path(data_dir) / COMPILE_CACHE
    return FitWorker(timeout_s=timeout_s, compile_cache_dir=cache)
