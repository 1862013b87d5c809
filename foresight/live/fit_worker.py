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
the next job starts a new worker. A worker that hangs (stopped, deadlocked, a fit that
never ends) is found by a watchdog thread: when jobs are queued and none has been
answered for ``timeout_s`` (``FIT_TIMEOUT_S``), the worker is killed, which fails its
jobs the same way (the executor joins the killed process: no zombie is left), and the
hang is counted and kept as the last failure for the health report.
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
from typing import Any

import numpy as np

from foresight.evaluation.selection import VALIDATION_REFITS
from foresight.live import model_files
from foresight.live.forecasting import choose_served, refit_model

logger = logging.getLogger(__name__)

DEFAULT_IDLE_S = 60.0
DEFAULT_TIMEOUT_S = 300.0  # Settings.fit_timeout_s
START_S = 120.0  # a worker still starting (spawn, imports) is killed after this at least
CLOSE_WAIT_S = 10.0  # at most this long for the running fit when the monitor stops
# A fresh worker now and then bounds what a long-lived interpreter's heap can grow to:
# after this many jobs the worker is retired as soon as it is idle. (Not the executor's
# own ``max_tasks_per_child``: on Python 3.11 a pool whose worker exits that way can
# leave the next jobs waiting forever, which is what bench_refit ran into.)
MAX_JOBS_PER_WORKER = 500
LSTM_ROUND_SHARE = 0.6  # of the timeout, what an LSTM round's fits may take at most
COMPILE_CACHE = "jax-cache"  # under the data dir: JAX's persistent compilation cache


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


def lstm_fit_budget_s(timeout_s: float) -> float:
    """Wall seconds one LSTM fit may train, so that an LSTM round (``VALIDATION_REFITS``
    validation fits and the final one, beside the others' fits) ends within
    ``LSTM_ROUND_SHARE`` of the worker's timeout: 45 s at the default 300 s."""
    return LSTM_ROUND_SHARE * timeout_s / (VALIDATION_REFITS + 1)


def _init_worker(
    ready=None, compile_cache_dir: str | None = None, lstm_budget_s: float | None = None
) -> None:
    """In the child: one BLAS thread (two cores are shared with the sampler), the LSTM's
    JAX compilation cache and fit budget (nothing of Keras or JAX is imported here); then
    say it is ready (its imports are done), so the watchdog's clock starts."""
    from threadpoolctl import threadpool_limits

    from foresight.evaluation import lstm

    threadpool_limits(1)
    lstm.configure(compile_cache_dir=compile_cache_dir, fit_budget_s=lstm_budget_s)
    if ready is not None:
        ready.set()


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
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        compile_cache_dir: str | os.PathLike | None = None,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 (got {timeout_s})")
        # The LSTM's JAX compilation cache (None: none) and its fit budget, for the child.
        self.compile_cache_dir = None if compile_cache_dir is None else str(compile_cache_dir)
        self.lstm_budget_s = lstm_fit_budget_s(timeout_s)
        self.idle_s = idle_s
        self.timeout_s = timeout_s
        self.clock = clock  # stamps the last failure (epoch seconds, as health reads it)
        self.max_jobs_per_worker = max_jobs_per_worker
        self.start_method = start_method
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pool: ProcessPoolExecutor | None = None
        self._timer: threading.Timer | None = None
        self._pending = 0
        self._closed = False
        self._stats = {
            "jobs": 0,
            "failed": 0,
            "crashes": 0,
            "hangs": 0,
            "starts": 0,
            "fit_cpu_s": 0.0,
        }
        self._last_pid: int | None = None
        self._pool_jobs = 0  # jobs sent to the current worker
        # The watchdog's clock (time.monotonic): when the live worker last made progress
        # (started with work, or answered a job).
        self._progress_at = time.monotonic()
        self._killed: set[ProcessPoolExecutor] = set()  # pools the watchdog killed
        self._last_failure: dict | None = None  # {"kind", "at", "pid", "message"}
        self._watchdog: threading.Thread | None = None
        self._ready: Any = None  # the live worker's "imports done" event (multiprocessing)
        self._ready_seen = False

    def _executor(self) -> ProcessPoolExecutor:
        """The live pool (under ``_lock``), started when there is none."""
        if self._pool is None:
            context = multiprocessing.get_context(self.start_method)
            self._ready = context.Event()
            self._ready_seen = False
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._ready, self.compile_cache_dir, self.lstm_budget_s),
            )
            self._pool_jobs = 0
            self._stats["starts"] += 1
            self._progress_at = time.monotonic()
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name="fit-worker-watchdog", daemon=True
                )
                self._watchdog.start()
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
                self._lost(pool, f"the idle fit worker had died ({exc})")
                pool = self._executor()
                future = pool.submit(run_job, job)
            if self._pending == 0:  # the worker was idle: its clock starts now
                self._progress_at = time.monotonic()
                self._idle.notify_all()  # the watchdog watches again
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

    def _lost(self, pool: ProcessPoolExecutor, message: str) -> None:
        """A dead worker's pool (under ``_lock``): forget it, count it once as a crash
        (unless the watchdog killed it: that was counted as a hang)."""
        if not self._discard(pool):
            return
        if pool in self._killed:
            self._killed.discard(pool)
            return
        self._stats["crashes"] += 1
        self._last_failure = {
            "kind": "crash",
            "at": self.clock(),
            "pid": self._last_pid,
            "message": message,
        }

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
            with self._lock:  # logged per job by the caller's callback
                self._lost(pool, f"the fit worker died while fitting {job.metric} at {job.tier}")
        elif error is not None and not isinstance(error, CancelledError):
            with self._lock:  # a fit that raised (a bug): the caller logs its traceback
                self._last_failure = {
                    "kind": "error",
                    "at": self.clock(),
                    "pid": self._last_pid,
                    "message": f"fitting {job.metric} at {job.tier} raised "
                    f"{type(error).__name__}: {error}",
                }
        if outcome is not None:
            with self._lock:
                self._stats["fit_cpu_s"] += outcome.cpu_s
                self._last_pid = outcome.worker_pid
                self._progress_at = time.monotonic()
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

    def _watch(self) -> None:
        """The watchdog thread: kill a worker that holds queued jobs and answers none."""
        with self._lock:
            while not self._closed:
                busy = self._pool is not None and self._pending
                self._idle.wait(min(1.0, self.timeout_s / 4) if busy else None)
                if self._pool is None or not self._pending:
                    continue
                if not self._ready_seen and self._ready is not None and self._ready.is_set():
                    self._ready_seen = True  # started: the fits' clock starts now
                    self._progress_at = time.monotonic()
                # A starting worker (spawn, imports) gets START_S at least.
                limit_s = self.timeout_s if self._ready_seen else max(self.timeout_s, START_S)
                silent_s = time.monotonic() - self._progress_at
                if silent_s < limit_s:
                    continue
                pool = self._pool
                pids = self._kill(pool)
                self._killed.add(pool)
                self._stats["hangs"] += 1
                self._progress_at = time.monotonic()
                self._last_failure = {
                    "kind": "hang",
                    "at": self.clock(),
                    "pid": pids[0] if pids else None,
                    "message": f"the fit worker (pid {', '.join(map(str, pids)) or '?'}) "
                    f"answered none of {self._pending} queued fits for {silent_s:.0f} s "
                    f"(FIT_TIMEOUT_S={self.timeout_s:g}); killed, the fits are retried",
                }
                logger.error("%s", self._last_failure["message"])

    @staticmethod
    def _kill(pool: ProcessPoolExecutor) -> list[int]:
        """SIGKILL the pool's worker (a stopped process dies too); its pids.

        The executor's manager thread then sees the process gone, fails its jobs with
        ``BrokenProcessPool`` (our callback runs) and joins it, so no zombie stays.
        """
        # ``_processes`` is the executor's {pid: Process}; Python 3.14 has kill_workers().
        processes = dict(getattr(pool, "_processes", None) or {})
        for process in processes.values():
            try:
                process.kill()
            except (OSError, ValueError) as exc:  # exited meanwhile, or already closed
                logger.debug("could not kill fit worker %s: %s", process.pid, exc)
        return sorted(processes)

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
                "timeout_s": self.timeout_s,
                "last_failure": None if self._last_failure is None else dict(self._last_failure),
            }

    def close(self) -> None:
        """Cancel queued jobs, wait for the running one, stop the worker (idempotent)."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            pool, self._pool = self._pool, None
            self._idle.notify_all()  # the watchdog ends
        if pool is None:
            return
        processes = dict(getattr(pool, "_processes", None) or {})
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        # The running fit may finish; a hung worker must not hold up the shutdown.
        deadline = time.monotonic() + CLOSE_WAIT_S
        for pid, process in processes.items():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                logger.warning(
                    "fit worker %s did not stop within %.0f s; killing it", pid, CLOSE_WAIT_S
                )
                process.kill()
                process.join(CLOSE_WAIT_S)
        if manager is not None:
            manager.join(CLOSE_WAIT_S)  # it joins (reaps) the worker
