"""The model job's run: which models to refit now, the first forecast of a new series.

A mixin of ``LiveModels`` (``foresight.live.models``): ``run`` is what the scheduled job
calls every ``FORECAST_JOB_S``. Due models are taken stalest first within the refit
budget (``refit_budget``: a share of one core), so a fleet's models are refit in turn;
a model with none fitted yet is served the last value at once (``_provisional``); every
other model's forecast is re-anchored from the newest complete bucket (each run while it is
read, else once a minute: ``_reanchor_due``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from foresight.evaluation.selection import DEFAULT_CANDIDATES
from foresight.live.fit_worker import FitWorker
from foresight.live.forecasting import Served, fast_start_served
from foresight.live.records import ModelState
from foresight.live.refit_budget import RefitBudget
from foresight.live.refit_due import refit_reason
from foresight.live.tiers import Tier

PROVISIONAL_HORIZONS = 6  # history a new series' first (last-value) forecast reads
# A forecast nobody read (no chart, API call, rule or scaling engine asked for its state)
# in the last WATCHED_S is re-anchored at most every IDLE_REANCHOR_S: as often as the 1-h
# tier's (a new 1-min bucket), not at each job run. Only the 5-min tier (a new 10-s bucket
# every run: 37 metrics, the largest part of the job) re-anchors more often than that when
# watched; a read marks it watched, and the next job run re-anchors it.
WATCHED_S = 60.0
IDLE_REANCHOR_S = 60.0
AFRESH = ("drift", "grown")  # refit reasons (``refit_due``) that choose, not keep, a model


class ModelJob:
    """The job's scheduling; the attributes and stubs below are ``LiveModels``'."""

    metrics: Callable[[], list[str]]
    tiers: tuple[Tier, ...]
    refit_every_s: float
    refit_steps: float
    budget_s: float
    refit_budget: RefitBudget
    worker: FitWorker | None
    store: Any
    _lock: threading.Lock
    _states: dict[tuple[str, str], ModelState]
    _models: dict[tuple[str, str], Served]
    _inflight: set[tuple[str, str]]
    _reads: dict[tuple[str, str], int]
    _read_seen: dict[tuple[str, str], tuple[int, float]]
    _watched: set[tuple[str, str]]
    _woken: bool

    def _read(
        self, metric: str, tier: Tier, steps: int, now: float
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _warming(
        self, metric: str, tier: Tier, now: float, observed: int, reason: str | None
    ) -> ModelState:
        raise NotImplementedError

    def lstm_held(self, key: tuple[str, str]) -> bool:
        raise NotImplementedError

    def _lstm_round(self, now: float) -> int:
        raise NotImplementedError

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
        raise NotImplementedError

    def _submit(
        self, metric: str, tier: Tier, now: float, names: tuple[str, ...] | None = None
    ) -> bool:
        raise NotImplementedError

    def refit(
        self, metric: str, tier: Tier, now: float, names: tuple[str, ...] | None = None
    ) -> ModelState:
        raise NotImplementedError

    def reforecast(self, metric: str, tier: Tier, now: float, latest: dict | None = None) -> None:
        raise NotImplementedError

    def _provisional(self, metric: str, tier: Tier, now: float) -> None:
        """Serve the last value (with its empirical band) until the first fit arrives.

        Reads only ``PROVISIONAL_HORIZONS`` horizons of history, and nothing when the
        last check's count of observed steps could not have reached the tier's minimum
        since then (a new bucket a step).
        """
        with self._lock:
            state = self._states.get((metric, tier.name))
        if state is not None and math.isfinite(state.checked_at):
            grown = max(now - state.checked_at, 0.0) / tier.step_s
            if state.observed_steps + grown < tier.min_observed:
                return
        steps = max(tier.min_observed, PROVISIONAL_HORIZONS * tier.horizon_steps)
        ts, values = self._read(metric, tier, steps, now)
        observed = int(np.sum(~np.isnan(values)))
        if observed < tier.min_observed:
            if state is None:  # say so, and read again once it may have grown enough
                self._warming(metric, tier, now, observed, None)
            return
        served = fast_start_served(metric, values, tier.horizon_steps, now)
        self._install(metric, tier, now, served, ts, values, observed, provisional=True)

    def _due(self, key: tuple[str, str], tier: Tier, now: float) -> str | None:
        """Why the model ``key`` is refit now, or None (``refit_due.refit_reason``; under
        ``_lock``)."""
        return refit_reason(
            self._states.get(key),
            self._models.get(key),
            tier,
            now,
            refit_every_s=self.refit_every_s,
            refit_steps=self.refit_steps,
        )

    def _reanchor_due(self, key: tuple[str, str], state: ModelState, now: float) -> bool:
        """Whether this run re-anchors ``key``: read in the last ``WATCHED_S`` (its reads
        changed since a run that recent), or its forecast is ``IDLE_REANCHOR_S`` old (or
        none, or from a clock that went back); under ``_lock``."""
        reads = self._reads.get(key, 0)
        seen = self._read_seen.get(key)
        if seen is None or seen[0] != reads:
            seen = self._read_seen[key] = (reads, now)
        made_at = state.forecast_made_at
        watched = 0 <= now - seen[1] <= WATCHED_S
        if watched:
            self._watched.add(key)
        else:
            self._watched.discard(key)
        return watched or made_at is None or not 0 <= now - made_at < IDLE_REANCHOR_S

    def run(self, now: float) -> int:
        """One job run: refit the stalest models within the CPU share, refresh the rest.

        Due models are taken oldest check first (round-robin over time); a model with none
        fitted yet is served the last value at once (``_provisional``). With a worker, due
        fits are sent while the refit budget (``refit_budget``) has credit; without one,
        they are refitted here within the same budget and ``budget_s`` of wall time. Every
        other model's forecast is re-anchored from the newest complete bucket: each run
        while it is read, else every ``IDLE_REANCHOR_S`` (``_reanchor_due``). Returns how
        many models were sent or refitted (or found still warming up), plus the LSTM round
        started, if any (``lstm_rounds``: at most one per run, on its own cadence and CPU
        budget; a served LSTM is only re-anchored in between). Time is passed in;
        ``time.perf_counter`` and ``time.thread_time`` only meter the budgets.
        """
        with self._lock:
            self._woken = True  # no wake-up while running: it would be skipped
        try:
            return self._run(now)
        finally:
            with self._lock:
                self._woken = False  # a read of an unwatched forecast may wake the next

    def _run(self, now: float) -> int:
        started = time.perf_counter()
        self.refit_budget.accrue(now)
        metrics = list(self.metrics())
        due: list[tuple[float, str, Tier, str]] = []
        for metric in metrics:
            for tier in self.tiers:
                key = (metric, tier.name)
                with self._lock:
                    state = self._states.get(key)
                    reason = None if key in self._inflight else self._due(key, tier, now)
                if reason is not None and not self.lstm_held(key):  # a served LSTM waits
                    due.append(
                        (-math.inf if state is None else state.checked_at, metric, tier, reason)
                    )
        refitted: set[tuple[str, str]] = set()
        refits = 0
        for _, metric, tier, reason in sorted(due, key=lambda item: item[0]):
            key = (metric, tier.name)
            with self._lock:
                served = key in self._models
                inflight = len(self._inflight)
            if not served:
                self._provisional(metric, tier, now)
            if not self.refit_budget.allows(inflight) or (
                self.worker is None and refitted and time.perf_counter() - started > self.budget_s
            ):
                continue  # the rest wait for a later run: keep each run short
            cpu0 = time.thread_time()
            # Drifted, or grown enough for a lag model: choose afresh among the default
            # candidates (new validation, bands).
            names = DEFAULT_CANDIDATES if reason in AFRESH else None
            if self.worker is not None:
                self._submit(metric, tier, now, names)
            else:
                self.refit(metric, tier, now, names)
                refitted.add(key)
            self.refit_budget.spend(time.thread_time() - cpu0)
            self.refit_budget.count()
            refits += 1
        latest: dict | None = None
        for metric in metrics:
            for tier in self.tiers:
                key = (metric, tier.name)
                with self._lock:
                    state = self._states.get(key)
                    anchor = state is not None and self._reanchor_due(key, state, now)
                if key in refitted or state is None or state.status != "ok" or not anchor:
                    continue
                if latest is None:
                    latest = self.store.latest()
                self.reforecast(metric, tier, now, latest)
        return refits + self._lstm_round(now)
