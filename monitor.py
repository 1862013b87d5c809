"""The live monitor: services, the cycle each tick runs, and ``main.py --monitor``.

One scheduled job does one cycle (DESIGN.md): collect → store → every stage. Stages
are how later pieces plug in: each module in ``EXTENSION_MODULES`` has
``install(services) -> None`` which may append to ``services.stages`` (called as
``stage(now, sample)`` after the sample is stored), add jobs to ``services.scheduler``
and keep its objects in ``services.extras`` (e.g. "live_models", "live_scaling").
"""
from __future__ import annotations

import argparse
import importlib
import ipaddress
import logging
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from config import Settings, env_float
from errors import InputError
from metrics_collector import (MetricsCollector, Sample, TickStats, make_scheduler,
                               schedule_sampling)
from storage import MetricStore
from stress import StressController

logger = logging.getLogger(__name__)

# Modules with install(services) -> None, installed in this order by build_services.
EXTENSION_MODULES: tuple[str, ...] = ("live_scaling", "live_models")

MIN_INTERVAL_S = 0.05         # psutil and SQLite cannot keep a faster beat honestly
MAX_INTERVAL_S = 3600.0
RECENT_WINDOW_S = 900.0        # the ring buffer holds this much recent history
RETENTION_EVERY_S = 3600.0     # how often the retention job runs
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


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Resolve Settings: flags first, then env METRICS_INTERVAL / FORESIGHT_TOKEN /
    FORESIGHT_PROBE_URL, then defaults. Refuses a non-loopback host without a token."""
    interval_s = getattr(args, "interval", None)
    if interval_s is None:
        interval_s = env_float("METRICS_INTERVAL", 1.0, minimum=MIN_INTERVAL_S,
                               maximum=MAX_INTERVAL_S)
    elif not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise InputError(f"--interval must be from {MIN_INTERVAL_S} to {MAX_INTERVAL_S:g} "
                         f"seconds (got {interval_s:g})")
    token = os.environ.get("FORESIGHT_TOKEN") or None
    host = getattr(args, "host", "127.0.0.1")
    if not is_loopback(host) and token is None:
        raise InputError(f"refusing to listen on {host} without a token: set "
                         "FORESIGHT_TOKEN (state-changing requests will need "
                         "'Authorization: Bearer <token>'), or use --host 127.0.0.1")
    return Settings(host=host, port=getattr(args, "port", 5000), interval_s=float(interval_s),
                    data_dir=Path(getattr(args, "data_dir", Path("data"))),
                    retention_days=float(getattr(args, "retention_days", 7.0)), token=token,
                    probe_url=os.environ.get("FORESIGHT_PROBE_URL") or None)


def default_probe_url(settings: Settings, port: int | None = None) -> str:
    host = settings.host if is_loopback(settings.host) else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or settings.port}/api/system/health"


def build_services(settings: Settings, *, now: float | None = None,
                   collector: MetricsCollector | None = None) -> Services:
    """Open the store, build the collector and an unstarted scheduler, run extensions.

    Recent history is loaded from the store into the ring buffer so charts are not
    empty after a restart. Nothing is started here (see ``start``).
    """
    now = time.time() if now is None else now
    store = MetricStore(settings.db_path, retention_days=settings.retention_days)
    if collector is None:
        collector = MetricsCollector(settings.data_dir, settings.probe_url, store,
                                     probe_timeout_s=min(1.0, max(0.1, settings.interval_s)))
    maxlen = max(10, min(200_000, math.ceil(RECENT_WINDOW_S / settings.interval_s) + 1))
    recent: deque[Sample] = deque(maxlen=maxlen)
    for ts, values in store.raw_rows(now - RECENT_WINDOW_S, now):
        recent.append(Sample(ts, values))
    services = Services(
        settings=settings, store=store, collector=collector, scheduler=make_scheduler(),
        tick_stats=TickStats(settings.interval_s, origin=math.ceil(now)),
        stress=StressController(), started_at=now, recent=recent,
        recent_complete_from=now - RECENT_WINDOW_S)
    for name in EXTENSION_MODULES:
        importlib.import_module(name).install(services)
        logger.info("installed extension %s", name)
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
        except Exception:  # noqa: BLE001 - logged with traceback and counted, not hidden
            with services.lock:
                services.stage_errors += 1
            logger.exception("stage %s failed at %.3f", getattr(stage, "__name__", stage), now)
    return sample


def start(services: Services, now: float | None = None) -> None:
    """Prime the collector and start the scheduler (sampling + hourly retention)."""
    now = time.time() if now is None else now
    services.collector.prime()
    services.tick_stats.origin = math.ceil(now)
    schedule_sampling(services.scheduler, services.tick_stats,
                      lambda t: run_cycle(services, t))
    services.scheduler.add_job(
        lambda: services.store.apply_retention(time.time()), "interval",
        seconds=RETENTION_EVERY_S, id="foresight-retention", name="store retention",
        max_instances=1, coalesce=True)
    services.store.apply_retention(now)
    services.scheduler.start()
    services.running = True
    logger.info("sampling every %.3g s into %s", services.settings.interval_s,
                services.store.path)


def stop(services: Services) -> None:
    """Stop the scheduler, any stress test, and close the store (idempotent)."""
    if services.scheduler.running:
        services.scheduler.shutdown(wait=True)
    services.running = False
    services.stress.stop()
    services.store.close()


class _Stop(Exception):
    """Raised by the SIGTERM handler to leave the server loop."""


def run(args: argparse.Namespace) -> int:
    """Sample this host and serve the dashboard with waitress until Ctrl-C or SIGTERM."""
    import waitress

    from dashboard import create_app

    settings = settings_from_args(args)
    if not getattr(args, "verbose", False):
        # APScheduler logs every run (and each job it adds) at INFO: once a second is
        # noise, not news; we log our own one-line summary of what was started.
        for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
            logging.getLogger(name).setLevel(logging.WARNING)
    services = build_services(settings)
    try:
        app = create_app(services=services)
        try:
            server = waitress.create_server(app, host=settings.host, port=settings.port,
                                            threads=8, ident="foresight")
        except OSError as exc:  # port in use, address not on this host, ...
            raise InputError(f"cannot listen on {settings.host}:{settings.port}: "
                             f"{exc.strerror or exc}") from None
        port = getattr(server, "effective_port", settings.port)
        if settings.probe_url is None:
            services.collector.probe_url = default_probe_url(settings, port)

        def on_term(signum: int, frame: object) -> None:
            raise _Stop()
        previous = signal.signal(signal.SIGTERM, on_term)
        start(services)
        print(f"Foresight dashboard on http://{settings.host}:{port}/ "
              f"(API docs /api/docs, metrics /metrics); Ctrl-C stops", flush=True)
        try:
            server.run()
        except (KeyboardInterrupt, _Stop):
            logger.info("stopping")
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.close()
    finally:
        stop(services)
    return 0
