"""The model job's side of the fit worker: send fits, install what comes back.

A mixin of ``LiveModels`` (``foresight.live.models``): ``_submit`` reads nothing itself; it
packs the history the job read into a ``FitJob`` and hands it to the ``FitWorker``.
``_fitted`` runs on the worker's callback thread: it rebuilds the model from arrays + JSON
(``model_files``, the loader of saved models) and installs it, or, when the worker
died or the fit raised, logs it and keeps serving the previous model.
"""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import numpy as np

from foresight.live import model_files
from foresight.live.fit_worker import FitJob, FitOutcome, FitWorker
from foresight.live.forecasting import Served, reselect_s, reuse_choice
from foresight.live.lstm_rounds import LstmRounds
from foresight.live.records import ModelState
from foresight.live.refit_budget import RefitBudget
from foresight.live.tiers import Tier

logger = logging.getLogger(__name__)

# A fit lost with its worker (killed, hung) is retried at the next job run this many
# times in a row; after that it waits the usual refit interval (a fit that kills its
# worker every time must not respawn one every 15 s).
QUICK_RETRIES = 2


class WorkerFits:
    """Fits through a ``FitWorker``; the attributes below are ``LiveModels``'."""

    worker: FitWorker | None
    lstm: LstmRounds | None
    _lock: threading.Lock
    _states: dict[tuple[str, str], ModelState]
    _models: dict[tuple[str, str], Served]
    _inflight: set[tuple[str, str]]
    _lost: dict[tuple[str, str], int]  # fits in a row whose worker died or hung
    _rerun: set[tuple[str, str]]
    _tiers_by_name: dict[str, Tier]
    refit_budget: RefitBudget

    def _history(self, metric: str, tier: Tier, now: float) -> tuple[np.ndarray, np.ndarray, int]:
        raise NotImplementedError

    def _warming(
        self, metric: str, tier: Tier, now: float, observed: int, reason: str | None
    ) -> ModelState:
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
        """Send one model's fit to the worker (or record that it is still warming up).

        ``names``: choose afresh among these candidates (an LSTM round); None: the default
        candidates, or refit the previous choice while it is young. Returns True if sent.
        """
        assert self.worker is not None
        ts, values, observed = self._history(metric, tier, now)
        if observed < tier.min_observed:
            self._warming(metric, tier, now, observed, None)
            return False
        key = (metric, tier.name)
        with self._lock:
            previous = self._models.get(key)
            self._inflight.add(key)
        reuse = None if names is not None else reuse_choice(previous, now, reselect_s(tier))
        if reuse is not None and reuse["name"] == "lstm":
            reuse = None  # the LSTM is refitted only in its own rounds (lstm_rounds)
        job = FitJob(
            metric,
            tier.name,
            values,
            ts,
            tier.horizon_steps,
            tier.step_s,
            tier.min_observed,
            now,
            reuse=reuse,
            names=names,
        )
        if not self.worker.submit(job, self._fitted):
            with self._lock:
                self._inflight.discard(key)
            return False
        return True

    def _fitted(self, job: FitJob, outcome: FitOutcome | None, error: BaseException | None) -> None:
        """The worker's answer (on its callback thread): install it, or keep what is served."""
        key = (job.metric, job.tier)
        tier = self._tiers_by_name[job.tier]
        observed = int(np.sum(~np.isnan(job.values)))
        if outcome is not None:
            self.refit_budget.spend(outcome.cpu_s)
        try:
            if outcome is None:
                if isinstance(error, BrokenProcessPool):
                    logger.error(
                        "the fit worker stopped while fitting %s at %s (%s); the served "
                        "model stays and the fit is retried",
                        job.metric,
                        job.tier,
                        error,
                    )
                    # Not this model's fault (most of the time): retry at the next job
                    # run, but a fit that keeps killing its worker waits as usual.
                    with self._lock:
                        lost = self._lost[key] = self._lost.get(key, 0) + 1
                    if lost <= QUICK_RETRIES:
                        self._checked(job.metric, tier, -math.inf, observed)
                        return
                elif not isinstance(error, CancelledError):
                    logger.error(
                        "fitting %s at %s failed; the served model stays",
                        job.metric,
                        job.tier,
                        exc_info=error,
                    )
                self._checked(job.metric, tier, job.now, observed)
                return
            with self._lock:
                self._lost.pop(key, None)
            if outcome.kind == "short":
                self._warming(job.metric, tier, job.now, observed, outcome.message)
            elif outcome.kind == "model":
                assert outcome.doc is not None and outcome.arrays is not None
                with self._lock:
                    current = self._models.get(key)
                if current is None:  # deleted meanwhile: choose afresh next time
                    self._checked(job.metric, tier, -math.inf, observed)
                    return
                served = replace(
                    current,
                    model=model_files.model_from_payload(outcome.doc, outcome.arrays),
                    fitted_at=job.now,
                    n_observed=observed,
                    selected_at=current.selected_at or current.fitted_at,
                )
                self._install(
                    job.metric, tier, job.now, served, job.timestamps, job.values, observed
                )
            else:
                assert outcome.doc is not None and outcome.arrays is not None
                _, _, served = model_files.served_from_payload(outcome.doc, outcome.arrays)
                self._install(
                    job.metric, tier, job.now, served, job.timestamps, job.values, observed
                )
        finally:
            if self.lstm is not None and job.names is not None and "lstm" in job.names:
                chosen = outcome is not None and (outcome.doc or {}).get("name") == "lstm"
                cpu_s = 0.0 if outcome is None else outcome.cpu_s
                self.lstm.finished(key, job.now, cpu_s, chosen)
            with self._lock:
                self._inflight.discard(key)
                if key in self._rerun:
                    self._rerun.discard(key)
                    state = self._states.get(key)
                    if state is not None:
                        self._states[key] = replace(state, checked_at=-math.inf)

    def _checked(self, metric: str, tier: Tier, now: float, observed: int) -> None:
        """A fit that produced nothing: try again after the usual wait."""
        key = (metric, tier.name)
        with self._lock:
            state = self._states.get(key)
            self._states[key] = (
                replace(state, checked_at=now)
                if state is not None
                else ModelState(
                    metric, tier, "warming_up", "the first fit failed; retrying", observed, now
                )
            )

    def wait_idle(self, timeout_s: float = 600.0) -> bool:
        """Block until the worker has answered every job sent (tests, benchmarks)."""
        return True if self.worker is None else self.worker.wait_idle(timeout_s)

    def worker_stats(self) -> dict | None:
        """The fit worker's counters (jobs, crashes, starts, CPU-s), None without one."""
        return None if self.worker is None else self.worker.stats()
