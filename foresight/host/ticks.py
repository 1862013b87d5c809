"""The sampler's schedule: the one sampling job, the process-table job, tick statistics.

``TickStats`` counts ticks, missed slots and jitter; ``schedule_sampling`` adds the job
that calls ``tick(now)`` every ``interval_s`` on a ``make_scheduler()`` scheduler
(APScheduler, started and stopped by the caller); ``schedule_processes`` adds the
process-table job of ``foresight.host.processes``. The only module of this package
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
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from foresight.host.processes import ProcessSampler

logger = logging.getLogger(__name__)

SAMPLE_JOB_ID = "foresight-sample"
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


def schedule_sampling(
    scheduler: BackgroundScheduler, stats: TickStats, tick: Callable[[float], object]
) -> None:
    """Add the one sampling job: ``tick(now)`` every ``stats.interval_s`` from origin.

    ``max_instances=1`` and ``coalesce=True``: a slow tick delays the next one rather
    than stacking runs; slots that pass meanwhile are counted as missed by ``stats``.
    """

    def job() -> None:
        now = time.time()
        stats.record(now)
        try:
            tick(now)
        except Exception:  # logged with traceback, counted and shown by /api/system/health
            stats.errors += 1
            logger.exception("sampling tick at %.3f failed", now)

    scheduler.add_job(
        job,
        IntervalTrigger(
            seconds=stats.interval_s, start_date=datetime.fromtimestamp(stats.origin, UTC)
        ),
        id=SAMPLE_JOB_ID,
        name="sample this host",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=max(1, math.ceil(stats.interval_s)),
        replace_existing=True,
    )


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
