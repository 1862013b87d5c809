"""The sampler's schedule: the one sampling job, the process-table job, tick statistics.

``TickStats`` counts ticks, missed slots and jitter; ``schedule_sampling`` calls
``tick(now)`` every ``interval_s`` on a thread of its own that starts and stops with a
``make_scheduler()`` scheduler (APScheduler, started and stopped by the caller), which
runs the slower jobs, e.g. ``schedule_processes``'s process table of
``foresight.host.processes``. The only module of this package
that reads the clock: each job takes ``now`` once and passes it on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psutil
from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from foresight.host.processes import ProcessSampler

logger = logging.getLogger(__name__)

SAMPLE_JOB_ID = "foresight-sample"  # the sampling thread's name before it left APScheduler
PROCESSES_JOB_ID = "foresight-processes"


@dataclass(slots=True)
class TickStats:
    """Sampler timing: ticks, missed ticks and jitter (actual minus scheduled time).

    Ticks are due at ``origin + k * interval_s``; a run at ``now`` belongs to the latest
    slot ``k`` due by then, and slots skipped since the previous run count as missed.
    """

    interval_s: float
    origin: float
    ticks: int = 0
    missed: int = 0
    errors: int = 0
    last_tick_at: float | None = None
    jitter_sum_s: float = 0.0  # over every tick (a Prometheus summary's _sum)
    _last_slot: int | None = None
    jitter_s: deque[float] = field(default_factory=lambda: deque(maxlen=600))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, now: float) -> float:
        """Count a tick that started at ``now``; return its jitter in seconds."""
        with self.lock:
            slot = max(0, math.floor((now - self.origin) / self.interval_s + 1e-3))
            jitter = max(0.0, now - (self.origin + slot * self.interval_s))
            if self._last_slot is not None and slot > self._last_slot + 1:
                self.missed += slot - self._last_slot - 1
            self._last_slot = slot
            self.ticks += 1
            self.last_tick_at = now
            self.jitter_s.append(jitter)
            self.jitter_sum_s += jitter
            return jitter

    def jitter_ms(self) -> dict[str, float | None]:
        """p50, p99 and max of recent jitter, in milliseconds (None before any tick)."""
        with self.lock:
            values = sorted(self.jitter_s)
        if not values:
            return {"p50": None, "p99": None, "max": None}

        def pick(q: float) -> float:
            return round(values[min(len(values) - 1, int(q * len(values)))] * 1000.0, 3)

        return {"p50": pick(0.5), "p99": pick(0.99), "max": round(values[-1] * 1000.0, 3)}


def make_scheduler() -> BackgroundScheduler:
    """A UTC BackgroundScheduler (not started: the caller starts and stops it)."""
    return BackgroundScheduler(timezone=UTC)


class SamplingThread:
    """Call ``job()`` at every slot ``origin + k * interval_s`` on one thread of its own.

    A slow run delays the next one rather than stacking runs; when slots passed
    meanwhile, the next run starts at once and stands for all of them (the latest), and
    ``TickStats`` counts the others as missed: APScheduler's ``max_instances=1,
    coalesce=True`` with a grace time of at least one interval, without its per-run
    bookkeeping (0.32 ms of CPU a run against 0.08 ms for this loop, measured with a
    no-op job), once a second for as long as the monitor runs.
    """

    def __init__(self, stats: TickStats, job: Callable[[], None]) -> None:
        self.stats = stats
        self.job = job
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="foresight-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop after the run in progress, waiting for it (up to ``timeout_s``)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        interval_s, last_slot = self.stats.interval_s, None
        while not self._stop.is_set():
            origin = self.stats.origin
            now = time.time()
            # the latest slot due by now, with TickStats' tolerance for an early wake
            slot = math.floor((now - origin) / interval_s + 1e-3)
            if last_slot is not None and slot < last_slot:  # the clock went back
                last_slot = slot - 1
            if slot >= 0 and (last_slot is None or slot > last_slot):
                last_slot = slot
                self.job()
                continue
            due = origin + (max(slot, -1) + 1) * interval_s
            self._stop.wait(min(interval_s, max(0.0, due - now)))


def schedule_sampling(
    scheduler: BackgroundScheduler, stats: TickStats, tick: Callable[[float], object]
) -> SamplingThread:
    """Sample with ``tick(now)`` every ``stats.interval_s`` from origin while ``scheduler``
    runs: a ``SamplingThread`` started and stopped (waited for) with the scheduler.

    A slow tick delays the next one rather than stacking runs; slots that pass meanwhile
    are counted as missed by ``stats``.
    """

    def job() -> None:
        now = time.time()
        stats.record(now)
        try:
            tick(now)
        except Exception:  # logged with traceback, counted and shown by /api/system/health
            stats.errors += 1
            logger.exception("sampling tick at %.3f failed", now)

    sampler = SamplingThread(stats, job)

    def follow(event: SchedulerEvent) -> None:
        if event.code == EVENT_SCHEDULER_STARTED:
            sampler.start()
        elif event.code == EVENT_SCHEDULER_SHUTDOWN:
            sampler.stop()

    scheduler.add_listener(follow, EVENT_SCHEDULER_STARTED | EVENT_SCHEDULER_SHUTDOWN)
    if scheduler.running:
        sampler.start()
    return sampler


def schedule_processes(scheduler: BackgroundScheduler, sampler: ProcessSampler) -> None:
    """Add the process-table job: a pass every ``sampler.every_s`` while someone watches
    (see foresight.host.processes); a request after a pause wakes it at once, and a
    baseline pass brings the next one forward to 1 s later, for CPU figures."""

    def job() -> None:
        now = time.time()
        try:
            table = sampler.tick(now)
        except (psutil.Error, OSError):  # logged with traceback; the table stays as it was
            logger.exception("process table pass at %.3f failed", now)
            return
        if table is not None and table.window_s is None:
            run_at(now + 1.0)

    def run_at(when: float) -> None:
        if scheduler.running:  # not before start() nor after stop()
            scheduler.modify_job(PROCESSES_JOB_ID, next_run_time=datetime.fromtimestamp(when, UTC))

    scheduler.add_job(
        job,
        IntervalTrigger(seconds=sampler.every_s),
        id=PROCESSES_JOB_ID,
        name="top processes",
        max_instances=1,
        coalesce=True,
        replace_existing=True,
    )
    sampler.wakeup = lambda: run_at(time.time())
