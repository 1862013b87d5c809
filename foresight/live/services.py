"""The live monitor's services and the cycle each tick runs.

One scheduled job does one cycle (DESIGN.md): collect → store → every stage. The live
pieces (``foresight.live.scaling``, ``foresight.live.models``) are imported here and
installed by ``build_services`` when their Settings switch is on: each ``install``
appends to ``services.stages`` (called as ``stage(now, sample)`` after the sample is
stored), may add jobs to ``services.scheduler`` and keeps its object in
``services.extras``. Serving the dashboard (``main.py --monitor``) is
``foresight.cli.monitor``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from foresight.core.catalog import METRIC_CATALOG
from foresight.core.settings import Settings, is_loopback
from foresight.live import models as live_models
from foresight.live import risk as live_risk
from foresight.live import scaling as live_scaling
from foresight.live.stress import StressController
from foresight.store.metric_store import MetricStore
from metrics_collector import MetricsCollector, Sample, TickStats, make_scheduler, schedule_sampling

logger = logging.getLogger(__name__)

RECENT_WINDOW_S = 900.0  # the ring buffer holds this much recent history
RETENTION_EVERY_S = 3600.0  # how often the retention job runs
Stage = Callable[[float, Sample], None]


@dataclass(slots=True)
class Services:
    """The long-lived objects of one monitor (in ``app.extensions["foresight"]``)."""

    settings: Settings
    store: MetricStore
    collector: MetricsCollector
    scheduler: BackgroundScheduler
    tick_stats: TickStats
    stress: StressController
    started_at: float
    recent: deque[Sample]
    recent_complete_from: float  # the ring buffer holds every sample since this time
    stages: list[Stage] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    stage_errors: int = 0
    running: bool = False
    clock: Callable[[], float] = time.time  # the API's "now"; tests pass a fake clock
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latest(self) -> Sample | None:
        """The newest sample of this run (or loaded from the store at start)."""
        return self.recent[-1] if self.recent else None

    def known_metrics(self) -> list[str]:
        """Catalog metrics plus every metric stored or seen this run, sorted."""
        latest = self.latest()
        names = set(METRIC_CATALOG) | set(self.store.metric_names())
        if latest is not None:
            names |= set(latest.values)
        return sorted(names)


def default_probe_url(settings: Settings, port: int | None = None) -> str:
    host = settings.host if is_loopback(settings.host) else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or settings.port}/api/system/health"


def build_services(
    settings: Settings, *, now: float | None = None, collector: MetricsCollector | None = None
) -> Services:
    """Open the store, build the collector and an unstarted scheduler, run extensions.

    Recent history is loaded from the store into the ring buffer so charts are not
    empty after a restart. Nothing is started here (see ``start``).
    """
    now = time.time() if now is None else now
    store = MetricStore(settings.db_path, retention_days=settings.retention_days)
    if collector is None:
        collector = MetricsCollector(
            settings.data_dir,
            settings.probe_url,
            store,
            probe_timeout_s=min(1.0, max(0.1, settings.interval_s)),
        )
    maxlen = max(10, min(200_000, math.ceil(RECENT_WINDOW_S / settings.interval_s) + 1))
    recent: deque[Sample] = deque(maxlen=maxlen)
    for ts, values in store.raw_rows(now - RECENT_WINDOW_S, now):
        recent.append(Sample(ts, values))
    services = Services(
        settings=settings,
        store=store,
        collector=collector,
        scheduler=make_scheduler(),
        tick_stats=TickStats(settings.interval_s, origin=math.ceil(now)),
        stress=StressController(),
        started_at=now,
        recent=recent,
        recent_complete_from=now - RECENT_WINDOW_S,
    )
    if settings.live_scaling:
        live_scaling.install(services)
    if settings.live_models:
        live_models.install(services)
    if settings.live_models or settings.risk_model:
        live_risk.install(services)  # after the forecasts: crash risk reads them
    return services


def run_cycle(services: Services, now: float) -> Sample:
    """Collect one sample at ``now``, store it, then run every stage.

    A failing stage is logged with its traceback and counted in ``stage_errors``; the
    other stages still run. A failing collect or store raises (the caller counts it).
    """
    sample = services.collector.collect(now)
    services.store.append(sample.timestamp, sample.values)
    services.recent.append(sample)
    for stage in list(services.stages):
        try:
            stage(now, sample)
        except Exception:
            with services.lock:
                services.stage_errors += 1
            logger.exception("stage %s failed at %.3f", getattr(stage, "__name__", stage), now)
    return sample


def start(services: Services, now: float | None = None) -> None:
    """Prime the collector and start the scheduler (sampling + hourly retention)."""
    now = time.time() if now is None else now
    services.collector.prime()
    services.tick_stats.origin = math.ceil(now)
    schedule_sampling(services.scheduler, services.tick_stats, lambda t: run_cycle(services, t))
    services.scheduler.add_job(
        lambda: services.store.apply_retention(time.time()),
        "interval",
        seconds=RETENTION_EVERY_S,
        id="foresight-retention",
        name="store retention",
        max_instances=1,
        coalesce=True,
    )
    services.store.apply_retention(now)
    services.scheduler.start()
    services.running = True
    logger.info("sampling every %.3g s into %s", services.settings.interval_s, services.store.path)


def stop(services: Services) -> None:
    """Stop the scheduler, any stress test, and close the store (idempotent)."""
    if services.scheduler.running:
        services.scheduler.shutdown(wait=True)
    services.running = False
    services.stress.stop()
    services.store.close()
