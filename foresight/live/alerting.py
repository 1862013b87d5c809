"""Alerts in ``--monitor``: the rules evaluated in every cycle, plus a sampler watchdog.

``install`` (called by ``build_services`` when ``Settings.live_alerts`` is on) builds the
``AlertEngine`` over the shipped or the user's rules file, the store's alert tables and
a ``Notifier`` for Alertmanager / a webhook, then:

* appends a stage that evaluates every rule on each new sample, reading the live
  forecasts and anomalies (``foresight.live.models``) when they are installed;
* adds a scheduler job that evaluates the ``stale`` rules every few seconds, because a
  sampler that stopped runs no cycle to notice it.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from foresight.alerts.conditions import Signals, first_crossing, linear_trend
from foresight.alerts.engine import AlertEngine
from foresight.alerts.notify import Notifier
from foresight.alerts.rules import Kind, RuleBook
from foresight.core.catalog import MetricInfo, metric_info
from foresight.live import models as live_models
from foresight.live import risk as live_risk
from foresight.live import scaling as live_scaling
from foresight.live.target_cpus import TargetCpus
from foresight.store.alert_log import AlertLog
from metrics_collector import Sample, cpu_count
from predictor import Forecast

logger = logging.getLogger(__name__)

EXTRAS_KEY = "alerts"
SERIES_CACHE_S = 60.0  # trend reads (hours of history) are refreshed at most this often
WATCHDOG_MIN_S = 2.0
ANOMALY_LIMIT = 50  # a rule reads this many of a metric's newest anomalies
WINDOW_LIMIT = 1_000_000  # every anomaly of a window (the detectors keep far fewer)
MAX_LISTED_TARGETS = 20  # health names this many targets without a CPU count
# The rules a pushed point is evaluated by: those about one series' own values (the
# sampler's and the risk's rules follow this host's cycle).
PUSHED_KINDS = (Kind.THRESHOLD, Kind.PROBE, Kind.FORECAST, Kind.EXHAUSTION, Kind.ANOMALY)


class AnomalyReads:
    """One evaluation's anomaly reads, ``(metric, since) -> the metric's newest first``.

    The anomaly rule asks every metric each tick. A metric without a recent anomaly is
    answered at once by the detectors; one with some costs a pass over the recent
    anomalies. So the first metric that has some brings the whole window in one pass,
    and the others are answered from it (each metric's own anomalies in the same order,
    as many as its own read would return).
    """

    def __init__(self, models: Any) -> None:
        self.models = models
        self._windows: dict[float, dict[str, list[dict]]] = {}

    def __call__(self, metric: str, since: float) -> list[dict]:
        if self.models is None:
            return []
        window = self._windows.get(since)
        if window is None:
            if not self.models.anomalies(since=since, metric=metric, limit=ANOMALY_LIMIT):
                return []
            window = {}
            for found in self.models.anomalies(since=since, limit=WINDOW_LIMIT):
                window.setdefault(found["metric"], []).append(found)
            self._windows[since] = window
        return window.get(metric, [])[:ANOMALY_LIMIT]


class LiveAlerts:
    """The engine plus what the stage needs to build its signals."""

    def __init__(self, services: Any, engine: AlertEngine) -> None:
        self.services = services
        self.engine = engine
        self.cores = cpu_count()
        self.cpus = TargetCpus(services.store, self.cores)
        self._missed: deque[tuple[float, int]] = deque(maxlen=4096)
        self._series: dict[tuple[str, float, float], tuple[float, Any]] = {}
        self._trends: dict[tuple[str, float, float], tuple[float, float] | None] = {}
        self._pushed_at: dict[str, float] = {}  # the newest pushed point evaluated per series

    # -- signal sources -----------------------------------------------------------------
    def _forecast(self, metric: str, horizon_s: float) -> Forecast | None:
        models = self.services.extras.get(live_models.EXTRAS_KEY)
        if models is None:
            return None
        tier = live_models.tier_for_seconds(horizon_s)
        state = models.state(metric, tier)
        if state.forecast is None or state.forecast_made_at is None:
            return None
        if self.services.clock() - state.forecast_made_at > max(300.0, 3 * tier.step_s):
            return None  # an old forecast says nothing about the next minutes
        return state.forecast

    def _read_series(self, metric: str, since: float, until: float) -> tuple[Any, Any]:
        window = until - since
        key = (metric, window, math.floor(until / SERIES_CACHE_S))
        cached = self._series.get(key)
        if cached is None:
            step_s = max(self.services.settings.interval_s, window / 120.0)
            self._series = {k: v for k, v in self._series.items() if k[:2] != key[:2]}
            cached = self._series[key] = (
                until,
                self.services.store.series(metric, since, until, step_s),
            )
        ts, values = cached[1]
        # the newest value comes from the sample itself; the trend needs the history
        return np.asarray(ts), np.asarray(values)

    def _trend(self, metric: str, since: float, until: float) -> tuple[float, float] | None:
        """``linear_trend`` of ``_read_series``, fitted once per cached read of it."""
        key = (metric, until - since, math.floor(until / SERIES_CACHE_S))
        if key not in self._trends:
            self._trends = {k: v for k, v in self._trends.items() if k[:2] != key[:2]}
            self._trends[key] = linear_trend(*self._read_series(metric, since, until))
        return self._trends[key]

    def _scaling_values(self, now: float) -> dict[str, float]:
        """The live scaling engine's alertable values (the platform drift), if installed."""
        live = self.services.extras.get(live_scaling.EXTRAS_KEY)
        return {} if live is None else live.alert_values(now)

    def _missed_since(self, since: float) -> int:
        total = self.services.tick_stats.missed
        for at, missed in self._missed:
            if at >= since:
                return total - missed
        return 0

    def _risk(self) -> dict[str, float]:
        """This cycle's crash-risk score and failure probability (the risk stage runs
        before this one), those that have a value. A model no better than guessing on its
        held-back data gives no failure probability here: shown, never alerted on."""
        live = self.services.extras.get(live_risk.EXTRAS_KEY)
        if live is None:
            return {}
        crash, failure = live.latest()
        out: dict[str, float] = {}
        if crash is not None:
            out["crash_risk_score"] = float(crash.score)
        if failure is not None and live.skilled:
            out["failure_probability"] = float(failure["failure_probability"])
        return out

    def signals(self, now: float, values: dict[str, float], sample_at: float | None) -> Signals:
        self.cpus.note(values)
        self.cpus.refresh(now)
        return Signals(
            now=now,
            values=values,
            sample_at=sample_at,
            cores=self.cores,
            forecast=self._forecast,
            series=self._read_series,
            trend=self._trend,
            anomalies=AnomalyReads(self.services.extras.get(live_models.EXTRAS_KEY)),
            missed_since=self._missed_since,
            risk=self._risk,
            target_cores=self.cpus.cores,
        )

    # -- the stage and the watchdog -------------------------------------------------------
    def stage(self, now: float, sample: Sample) -> None:
        """Evaluate every rule on the new sample, and on the held readings of the sources
        on a slower beat (``Sample.held``: the last HTTP probe), so a pending or firing
        probe alert holds between probes instead of resolving."""
        self._missed.append((now, self.services.tick_stats.missed))
        try:
            values = {**sample.current(), **self._scaling_values(now)}
            with self.services.lock:
                pushed = frozenset(self.services.pushed)
            self.engine.evaluate(
                self.signals(now, values, sample.timestamp),
                # a pushed series' alerts follow its pushes, not the cycle's sample
                scope=lambda m: m in values or m not in pushed,
            )
        except (sqlite3.Error, OSError) as exc:
            # A store fault: the store reports it (health, one log line); the rules are
            # evaluated again next tick, when it may take the writes.
            logger.debug("alert evaluation not stored: %s", exc)

    def evaluate_pushed(self, rows: Iterable[tuple[float, Mapping[str, float]]]) -> int:
        """Evaluate the per-series rules on pushed points, in timestamp order, each once.

        Each timestamp is one evaluation at that time (so ``for: 30s`` counts in the
        data's own time) over the series pushed at it; a series' points at or before the
        last one evaluated are skipped. Returns how many evaluations ran.
        """
        runs = 0
        for ts, row in sorted(rows, key=lambda item: item[0]):
            values = {k: float(v) for k, v in row.items() if ts > self._pushed_at.get(k, -math.inf)}
            if not values:
                continue
            for key in values:
                self._pushed_at[key] = ts
            try:
                self.engine.evaluate(
                    self.signals(ts, values, ts), kinds=PUSHED_KINDS, scope=values.__contains__
                )
            except (sqlite3.Error, OSError) as exc:
                logger.debug("pushed alert evaluation not stored: %s", exc)
            runs += 1
        return runs

    def watchdog(self, now: float) -> None:
        """Evaluate the stale rules (the sampler may have stopped)."""
        latest = self.services.latest()
        at = self.services.tick_stats.last_tick_at if latest is None else latest.timestamp
        self.engine.evaluate(self.signals(now, {}, at), kinds=(Kind.STALE,))

    def status(self) -> dict[str, Any]:
        """The engine's status, and the targets whose load has no per-CPU threshold."""
        unknown = self.cpus.unknown(self.services.known_metrics())
        return {
            **self.engine.status(),
            "targets_without_cpu_count": unknown[:MAX_LISTED_TARGETS],
            "targets_without_cpu_count_total": len(unknown),
            "cpu_count_note": (
                None
                if not unknown
                else f"{len(unknown)} target(s) have a load series but no cpu_count series, "
                "so their load has no per-CPU threshold (this host's CPU count would be wrong "
                "for them): add a cpu_count query or push cpu_count for each target"
            ),
        }


def external_url(settings: Any) -> str:
    host = settings.host if ":" not in settings.host else f"[{settings.host}]"
    return f"http://{host}:{settings.port}"


def install(services: Any) -> LiveAlerts:
    """Monitor extension hook: the alert stage, the watchdog job, the notifier."""
    settings = services.settings
    notifier = Notifier(
        alertmanager_url=settings.alertmanager_url,
        webhook_url=settings.alert_webhook_url,
        external_url=external_url(settings),
    )
    engine = AlertEngine(RuleBook(settings.alert_rules_path), AlertLog(services.store), notifier)
    live = LiveAlerts(services, engine)
    services.extras[EXTRAS_KEY] = live
    services.stages.append(live.stage)
    services.closers.append(notifier.stop)
    services.scheduler.add_job(
        lambda: live.watchdog(time.time()),
        "interval",
        seconds=max(WATCHDOG_MIN_S, 2 * settings.interval_s),
        id="foresight-alert-watchdog",
        name="stale-sampler alerts",
        max_instances=1,
        coalesce=True,
    )
    return live


def health(services: Any) -> dict[str, Any] | None:
    """The alerting part of ``/api/system/health`` (None when alerts are off)."""
    live = services.extras.get(EXTRAS_KEY)
    return None if live is None else live.status()


def series_info(services: Any, key: str) -> MetricInfo:
    """The catalog entry of a series key, its per-CPU levels from its target's own CPU
    count (none when unknown, or when alerts are off and no count is read)."""
    target = key.partition("@")[2]
    if not target:
        return metric_info(key)
    alerts = services.extras.get(EXTRAS_KEY)
    return metric_info(key, None if alerts is None else alerts.cpus.cores(target))


def forecast_crossings(services: Any, hours: int) -> list[dict[str, Any]]:
    """Catalog levels the live forecasts cross within ``hours``, soonest first.

    For each metric and level (warning, critical): the first step where the forecast's
    mean reaches it, else where its 80 % band's upper edge does; with the forecast's
    probability of being at or above the level there.
    """
    models = services.extras[live_models.EXTRAS_KEY]
    now = services.clock()
    horizon_s = hours * 3600.0
    tier = live_models.tier_for_hours(hours)
    found: list[dict[str, Any]] = []
    for metric in services.known_metrics():
        forecast = models.state(metric, tier).forecast
        info = series_info(services, metric)
        if forecast is None:
            continue
        for severity, level in (("critical", info.critical), ("warning", info.warning)):
            if level is None:
                continue
            crossing = first_crossing(forecast, metric, level, now, horizon_s, "mean") or (
                first_crossing(forecast, metric, level, now, horizon_s, "upper_80")
            )
            if crossing is not None:
                found.append({"severity": severity, **crossing.to_dict(), "tier": tier.name})
                break  # the worst level crossed is the one to report
    return sorted(found, key=lambda item: item["when"])
