"""Fit forecasters in a short-lived child process, so refits never hold the monitor's GIL.

The monitor sends one ``FitJob`` per (metric, tier): the history as numpy arrays and, when
the previous choice is still young, that choice (its name and feature set, JSON). The
child runs ``forecasting.choose_served`` or ``refit_model`` (the same code ``backtest``
and the in-process path use) and sends back the fitted model in the form
``model_files`` saves: JSON plus plain arrays. The monitor rebuilds it with the same
loader that reads saved models, so it only ever holds arrays and imports nothing the
fits need beyond numpy (no scikit-learn, SciPy, Keras or PyTorch).

One worker at a time (``max_workers=1``), started with ``spawn`` (a fresh interpreter:
nothing of the monitor's threads or locks is inherited) on the first job and retired
after ``idle_s`` without work, so between refit rounds the monitor is alone. Results
arrive on the executor's own thread through a callback: neither the sampling tick nor an
API request ever waits for a fit. A worker that dies (killed, out of memory) fails its
jobs with ``BrokenProcessPool``: that is counted and logged, the served models stay, and
the next job starts a new worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from foresight.live import model_files
from foresight.live.forecasting import choose_served, refit_model

logger = logging.getLogger(__name__)

DEFAULT_IDLE_S = 60.0
# A fresh worker now and then bounds what a long-lived interpreter's heap can grow to:
# after this many jobs the worker is retired as soon as it is idle. (Not the executor's
# own ``max_tasks_per_child``: on Python 3.11 a pool whose worker exits that way can
# leave the next jobs waiting forever, which is what bench_refit ran into.)
MAX_JOBS_PER_WORKER = 500


@dataclass(frozen=True, slots=True)
class FitJob:
    """One model to fit: the metric's history at one tier, and the choice to keep (if any)."""

    metric: str
    tier: str
    values: np.ndarray
    timestamps: np.ndarray
    horizon: int
    step_s: float
    min_observed: int
    now: float
    reuse: dict | None = None  # {"name", "features"}: refit that model only
    names: tuple[str, ...] | None = None  # candidates (None: the default set)


@dataclass(frozen=True, slots=True)
class FitOutcome:
    """What the worker sends back: a refitted model, a new served model, or why not."""

    kind: str  # "model" (the kept choice, refitted) | "served" (chosen afresh) | "short"
    doc: dict | None
    arrays: dict[str, np.ndarray] | None
    message: str | None  # "short": why the history is not enough yet
    worker_pid: int
    cpu_s: float  # the worker's own CPU time for this job


def _init_worker() -> None:
    """In the child: one BLAS thread (two cores are shared with the sampler)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def run_job(job: FitJob) -> FitOutcome:
    """Fit one job (runs in the worker process; also callable in-process for tests)."""
    started = time.process_time()
    pid = os.getpid()
    if job.reuse is not None:
        try:
            model = refit_model(
                job.reuse, job.values, job.timestamps, horizon=job.horizon, step_s=job.step_s
            )
        except ValueError as exc:  # e.g. a new gap: choose afresh below
            logger.debug("%s@%s: refit of %s failed (%s)", job.metric, job.tier, job.reuse, exc)
        else:
            doc, arrays = model_files.model_payload(model)
            return FitOutcome("model", doc, arrays, None, pid, time.process_time() - started)
    kwargs = {} if job.names is None else {"names": job.names}
    try:
        served = choose_served(
            job.metric,
            job.values,
            job.timestamps,
            horizon=job.horizon,
            step_s=job.step_s,
            min_observed=job.min_observed,
            now=job.now,
            **kwargs,
        )
    except ValueError as exc:  # too short, or gaps leave too little
        return FitOutcome("short", None, None, str(exc), pid, time.process_time() - started)
    doc, arrays = model_files.served_payload(job.metric, job.tier, served)
    return FitOutcome("served", doc, arrays, None, pid, time.process_time() - started)


Done = Callable[[FitJob, FitOutcome | None, BaseException | None], None]


class FitWorker:
    """A one-process pool for fit jobs, started on demand and retired when idle."""

    def __init__(
        self,
        *,
        idle_s: float = DEFAULT_IDLE_S,
        max_jobs_per_worker: int = MAX_JOBS_PER_WORKER,
        start_method: str = "spawn",
    ) -> None:
        self.idle_s = idle_s
        self.max_jobs_per_worker = max_jobs_per_worker
        self.start_method = start_method
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pool: ProcessPoolExecutor | None = None
        self._timer: threading.Timer | None = None
        self._pending = 0
        self._closed = False
        self._stats = {"jobs": 0, "failed": 0, "crashes": 0, "starts": 0, "fit_cpu_s": 0.0}
        self._last_pid: int | None = None
        self._pool_jobs = 0  # jobs sent to the current worker

    def _executor(self) -> ProcessPoolExecutor:
        """The live pool (under ``_lock``), started when there is none."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context(self.start_method),
                initializer=_init_worker,
            )
            self._pool_jobs = 0
            self._stats["starts"] += 1
        return self._pool

    def submit(self, job: FitJob, done: Done) -> bool:
        """Queue ``job``; ``done(job, outcome, error)`` is called on the executor's thread.

        Returns False (and calls nothing) once the worker is closed.
        """
        with self._lock:
            if self._closed:
                return False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            pool = self._executor()
            try:
                future = pool.submit(run_job, job)
            except BrokenProcessPool as exc:  # died since its last job: start a new one
                logger.warning("fit worker was gone (%s); starting a new one", exc)
                self._discard(pool)
                pool = self._executor()
                future = pool.submit(run_job, job)
            self._pending += 1
            self._pool_jobs += 1
            self._stats["jobs"] += 1
        future.add_done_callback(lambda f: self._finished(job, f, done, pool))
        return True

    def _discard(self, pool: ProcessPoolExecutor) -> bool:
        """Forget ``pool`` if it is the live one (under ``_lock``); True if it was."""
        if self._pool is not pool:
            return False  # already replaced: its other jobs failed with it
        pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None
        return True

    def _finished(self, job: FitJob, future: Future, done: Done, pool: ProcessPoolExecutor) -> None:
        outcome: FitOutcome | None = None
        error: BaseException | None
        if future.cancelled():  # closed while queued
            error = CancelledError()
        else:
            # A fit's own exception (a bug) is handed to ``done``, which logs it.
            error = future.exception()
            if error is None:
                outcome = future.result()
        if isinstance(error, BrokenProcessPool):
            with self._lock:
                if self._discard(pool):
                    self._stats["crashes"] += 1
        if outcome is not None:
            with self._lock:
                self._stats["fit_cpu_s"] += outcome.cpu_s
                self._last_pid = outcome.worker_pid
        else:
            with self._lock:
                self._stats["failed"] += 1
        try:
            done(job, outcome, error)
        finally:
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.notify_all()
                    if not self._closed and self._pool is not None:
                        worn = self._pool_jobs >= self.max_jobs_per_worker
                        self._timer = threading.Timer(0.0 if worn else self.idle_s, self._retire)
                        self._timer.daemon = True
                        self._timer.start()

    def _retire(self) -> None:
        """Stop an idle worker (timer thread): its memory goes back to the system."""
        with self._lock:
            if self._pending or self._pool is None:
                return
            pool, self._pool, self._timer = self._pool, None, None
        pool.shutdown(wait=True)
        logger.debug("fit worker retired after %.0f s idle", self.idle_s)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no job is queued or running (tests, benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def stats(self) -> dict:
        """Jobs sent, failed, worker crashes and starts, CPU-s the fits reported, last pid."""
        with self._lock:
            return {
                **self._stats,
                "fit_cpu_s": round(float(self._stats["fit_cpu_s"]), 3),
                "pending": self._pending,
                "alive": self._pool is not None,
                "last_worker_pid": self._last_pid,
            }

    def close(self) -> None:
        """Cancel queued jobs, wait for the running one, stop the worker (idempotent)."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
