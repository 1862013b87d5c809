"""The live monitor's services and the cycle each tick runs.

One scheduled job does one cycle (DESIGN.md): collect → store → every stage. The live
pieces (``foresight.live.scaling``, ``foresight.live.models``) are imported here and
installed by ``build_services`` when their Settings switch is on (``foresight.live.alerting``
too): each ``install``
appends to ``services.stages`` (called as ``stage(now, sample)`` after the sample is
stored), may add jobs to ``services.scheduler`` and keeps its object in
``services.extras``. Serving the dashboard (``main.py --monitor``) is
``foresight.cli.monitor``.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from foresight.core.catalog import METRIC_CATALOG, OPTIONAL_METRICS
from foresight.core.errors import InputError
from foresight.core.series import LOCAL_TARGET, of_target, targets_by_metric
from foresight.core.settings import Settings, is_loopback
from foresight.live import alerting as live_alerts
from foresight.live import model_install
from foresight.live import models as live_models
from foresight.live import risk as live_risk
from foresight.live import scaling as live_scaling
from foresight.live.pushed import EXTRAS_KEY as PUSHED_KEY
from foresight.live.pushed import PushedScoring
from foresight.live.stress import StressController
from foresight.sources.prometheus import PrometheusSource
from foresight.store.faults import StoreFaults, error_text
from foresight.store.metric_store import MetricStore
from metrics_collector import (
    SELF_PROBE_EVERY_S,
    Collector,
    MetricsCollector,
    Sample,
    TickStats,
    fresh_reading,
    make_scheduler,
    schedule_processes,
    schedule_sampling,
)

logger = logging.getLogger(__name__)

RECENT_WINDOW_S = 900.0  # the ring buffer holds this much recent history
RETENTION_EVERY_S = 3600.0  # how often the maintenance job (retention, checkpoint) runs
# What a store fault raises: SQLite's errors (a full disk), the filesystem's, and a
# replaced file that is not a usable database.
STORE_FAULTS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, InputError)
Stage = Callable[[float, Sample], None]


@dataclass(slots=True)
class Services:
    """The long-lived objects of one monitor (in ``app.extensions["foresight"]``)."""

    settings: Settings
    store: MetricStore
    collector: Collector  # this host's MetricsCollector, or a foresight.sources source
    scheduler: BackgroundScheduler
    tick_stats: TickStats
    stress: StressController
    started_at: float
    recent: deque[Sample]
    recent_complete_from: float  # the ring buffer holds every sample since this time
    stages: list[Stage] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)  # run by stop()
    stage_errors: int = 0
    local_source: bool = True  # False: the collector reads other targets (Prometheus)
    pushed: set[str] = field(default_factory=set)  # series keys POST /api/samples wrote
    store_faults: StoreFaults = field(default_factory=StoreFaults)
    running: bool = False
    clock: Callable[[], float] = time.time  # the API's "now"; tests pass a fake clock
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (tick it belongs to, when it was read, values): see verification_reading
    _fresh: tuple[float, float, dict[str, float]] | None = field(
        default=None, init=False, repr=False
    )
    _fresh_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def verification_reading(self, now: float) -> tuple[float, dict[str, float]]:
        """A fresh psutil reading and when it was taken, read at most once per tick.

        The reading measures CPU over 0.1 s, so serving it per request would let a few
        clients hold every worker thread; callers in the same tick (the newest sample's
        timestamp, or the current interval before the first sample) share one.
        """
        latest = self.latest()
        interval_s = self.settings.interval_s
        tick = latest.timestamp if latest is not None else math.floor(now / interval_s)
        with self._fresh_lock:
            if self._fresh is None or self._fresh[0] != tick:
                self._fresh = (tick, now, fresh_reading())
            _, taken_at, values = self._fresh
        return taken_at, dict(values)

    def latest(self) -> Sample | None:
        """The newest sample of this run (or loaded from the store at start)."""
        return self.recent[-1] if self.recent else None

    def known_metrics(self) -> list[str]:
        """Every series key: catalog metrics (local source), every one stored or seen this
        run, sorted. Keys of other targets are ``NAME@TARGET`` (foresight.core.series)."""
        latest = self.latest()
        try:
            names = set(self.store.metric_names())
        except sqlite3.DatabaseError as exc:  # the store fault is reported by its own stage
            logger.debug("series list without the store: %s", exc)
            names = set()
        if self.local_source:  # a probe's metrics (OPTIONAL_METRICS) only once seen
            names |= set(METRIC_CATALOG) - OPTIONAL_METRICS
        if latest is not None:
            names |= set(latest.values)
        return sorted(names)

    def target_metrics(self, target: str | None = None) -> dict[str, str]:
        """``{metric: series key}`` of one target (None or "": the local host)."""
        return of_target(self.known_metrics(), target or LOCAL_TARGET)

    def targets(self) -> dict[str, list[str]]:
        """``{metric: [target, ...]}`` of every known series ("" is the local host)."""
        return targets_by_metric(self.known_metrics())


def default_probe_url(settings: Settings, port: int | None = None) -> str:
    host = settings.host if is_loopback(settings.host) else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or settings.port}/api/system/health"


def probe_every_s(settings: Settings) -> float:
    """Seconds between HTTP probes: the setting, else ``SELF_PROBE_EVERY_S`` for the own
    health endpoint and every tick (0) for a ``probe_url`` of the user's, whose latency
    is what they chose to watch and whose answer costs the monitor only the client side."""
    if settings.probe_every_s is not None:
        return settings.probe_every_s
    return 0.0 if settings.probe_url else SELF_PROBE_EVERY_S


def build_services(
    settings: Settings,
    *,
    now: float | None = None,
    collector: Collector | None = None,
    source: Callable[[MetricStore], Collector] | None = None,
) -> Services:
    """Open the store, build the collector and an unstarted scheduler, run extensions.

    The collector is ``collector``, else ``source(store)`` (another source, e.g. a SQL
    table, which may read the store to resume), else the one ``settings.source`` names:
    ``prometheus`` (``foresight.sources.prometheus``) or ``local`` (this host). Recent
    history is loaded from the store into the ring buffer so charts are not empty after a
    restart. Nothing is started here (see ``start``).
    """
    now = time.time() if now is None else now
    store = MetricStore(settings.db_path, retention_days=settings.retention_days)
    if collector is None and source is not None:
        collector = source(store)
    if collector is None and settings.source == "prometheus":
        collector = PrometheusSource.from_settings(settings, store)
    if collector is None:
        collector = MetricsCollector(
            settings.data_dir,
            settings.probe_url,
            store,
            probe_timeout_s=min(1.0, max(0.1, settings.interval_s)),
            db_probe_url=settings.db_probe_url,
            connections_port=(
                settings.port if settings.connections_port is None else settings.connections_port
            ),
            connections_every_s=settings.connections_every_s,
            probe_every_s=probe_every_s(settings),
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
        local_source=isinstance(collector, MetricsCollector),
    )
    closer = getattr(collector, "close", None)
    if callable(closer):
        services.closers.append(closer)
    if settings.live_scaling:
        live_scaling.install(services)
    if settings.live_models:
        model_install.install(services)
    if settings.live_models or settings.risk_model:
        live_risk.install(services)  # after the forecasts: crash risk reads them
    if settings.live_alerts:
        # after live_models and live_risk: its rules read the forecasts and the risk
        live_alerts.install(services)
    anomaly = services.extras.get(live_models.EXTRAS_KEY)
    alerts = services.extras.get(live_alerts.EXTRAS_KEY)
    if anomaly is not None or alerts is not None:
        # pushed samples: scored and alerted on by the same per-series stages, off the
        # request path; stopped first, before the models and the store close
        scoring = PushedScoring(anomaly, alerts)
        services.extras[PUSHED_KEY] = scoring
        services.closers.insert(0, scoring.close)
    return services


def run_cycle(services: Services, now: float) -> Sample:
    """Collect one sample at ``now``, store it, then run every stage.

    A failing store (full disk, lost file) does not stop the tick: the sample still
    reaches the ring buffer, marked ``stored=False``, and the fault is recorded in
    ``services.store_faults`` (one log line, then summaries) and counted as a tick
    error. A failing stage is logged with its traceback and counted in
    ``stage_errors``; the other stages still run. A failing collect raises.

    A source that read several rows (a SQL table catching up) hands the older ones over
    as its backlog: they are stored in one transaction and buffered before the tick's
    sample. An empty sample (no new row) is no news: nothing is stored and no stage runs.
    """
    sample = services.collector.collect(now)
    backlog = services.collector.take_backlog()
    if backlog:
        services.recent.extend(store_backlog(services, backlog, now))
    if not sample.values:
        return sample
    sample = store_sample(services, sample, now)
    services.recent.append(sample)
    for stage in list(services.stages):
        try:
            stage(now, sample)
        except STORE_FAULTS as exc:
            # The store itself reports its fault (health, one log line, summaries); a
            # stage that could not write its records is part of that, not news.
            with services.lock:
                services.stage_errors += 1
            logger.debug("stage %s hit a store fault: %s", getattr(stage, "__name__", stage), exc)
        except Exception:
            with services.lock:
                services.stage_errors += 1
            logger.exception("stage %s failed at %.3f", getattr(stage, "__name__", stage), now)
    return sample


def store_sample(services: Services, sample: Sample, now: float) -> Sample:
    """Append ``sample`` in one transaction; on a store fault return it marked unstored.

    First checks (one ``stat``) that the database file is still the one open, and
    opens a fresh one when the data dir was deleted or the file replaced.
    """
    faults = services.store_faults
    try:
        change = services.store.ensure_file()
        if change is not None:
            faults.reopened(now, change)
        services.store.append(sample.timestamp, sample.values)
    except STORE_FAULTS as exc:
        faults.failed(now, exc)
        with services.tick_stats.lock:
            services.tick_stats.errors += 1
        return replace(sample, stored=False)
    faults.succeeded(now)
    return sample


def store_backlog(services: Services, samples: list[Sample], now: float) -> list[Sample]:
    """Store ``samples`` in one transaction; on a store fault return them marked unstored."""
    try:
        services.store.append_many((s.timestamp, s.values) for s in samples)
    except STORE_FAULTS as exc:
        services.store_faults.failed(now, exc)
        return [replace(s, stored=False) for s in samples]
    services.store_faults.succeeded(now)
    return samples


def maintain(services: Services, now: float) -> None:
    """The hourly job: retention, then a WAL checkpoint that truncates the WAL.

    A store fault is logged in one line (the sampler's health shows the store's state).
    """
    try:
        services.store.apply_retention(now)
        services.store.checkpoint()
    except STORE_FAULTS as exc:
        logger.error("store maintenance (retention, checkpoint) failed: %s", error_text(exc))


def start(services: Services, now: float | None = None) -> None:
    """Prime the collector and start the scheduler (sampling + hourly maintenance)."""
    now = time.time() if now is None else now
    services.collector.prime()
    services.tick_stats.origin = math.ceil(now)
    schedule_sampling(services.scheduler, services.tick_stats, lambda t: run_cycle(services, t))
    if isinstance(services.collector, MetricsCollector):  # this host's readings only
        schedule_processes(services.scheduler, services.collector.processes)
    services.scheduler.add_job(
        lambda: maintain(services, time.time()),
        "interval",
        seconds=RETENTION_EVERY_S,
        id="foresight-retention",
        name="store retention and checkpoint",
        max_instances=1,
        coalesce=True,
    )
    maintain(services, now)
    services.scheduler.start()
    services.running = True
    logger.info("sampling every %.3g s into %s", services.settings.interval_s, services.store.path)


def stop(services: Services) -> None:
    """Stop the scheduler, any stress test, and close the store (idempotent)."""
    if services.scheduler.running:
        services.scheduler.shutdown(wait=True)
    services.running = False
    services.stress.stop()
    for close in services.closers:
        close()
    services.collector.close()
    services.store.close()
