"""The scaling engine in ``--monitor``: this host's load drives the simulated pool.

Installed by ``foresight.live.services.build_services``: a stage collects ``cpu_percent``
and ``memory_percent`` from each sample and every ``SCALING_INTERVAL`` seconds (default
15, the HPA's sync period) turns them into demand, refits the demand forecaster
(``demand_forecast.py``) now and then, and runs one engine step.

Demand is "measured utilisation x ready instances" with utilisation taken the HPA way,
against the instances' CPU request (``SCALING_INSTANCE_CORES``, default 1 core): the
pool's utilisation is host CPU in use / (ready x request), so demand = host cores in use
/ request. A one-core stress test is therefore one unit of demand on any host, and the
pool settles (adding an instance lowers the utilisation it reports) instead of running
away to max, as it would if every instance saw the host's whole load. Memory is the
second signal (``SCALING_SIGNALS``), against the instance's memory request
(``SCALING_INSTANCE_MEMORY_GB``, default the host's memory per core x its cores); as in
the HPA the higher one drives, and the decision says which (``foresight.scaling.signals``).

Settings (``foresight.core.settings``): the SCALING_* variables, MIN_INSTANCES,
MAX_INSTANCES, COST_THRESHOLD (USD/day), CONFIDENCE_THRESHOLD, and SCALING_WEBHOOK_URL
(+ SCALING_WEBHOOK_TOKEN): also POST every executed count there, from a background
thread so retries never hold up sampling (``platform.py``), reading back the count the
platform runs from its answer or SCALING_STATUS_URL; results show in /api/resources,
drift in /api/scaling/status and to the alert rules (``alert_values``). The boot lag
defaults to 60 s so that a live demo shows instances becoming ready within a stress
test.

The vertical tier runs on the disk-usage forecast of ``live_models`` (when installed):
the simulated volume starts at 100 GB standing for the host's disk, and grows when the
forecast, rescaled to the grown volume, crosses the critical threshold within the hour;
the instance size steps up when the count is capped at max (``VerticalPolicy.decide_size``).
What the API shows is built in ``scaling_views.py``.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Callable

import numpy as np

from foresight.core.errors import InputError
from foresight.core.settings import Settings
from foresight.live import models as live_models
from foresight.live import scaling_views as views
from foresight.live.demand_forecast import DemandForecaster
from foresight.live.demand_metric import SeriesDemand, SeriesForecast, live_series_forecast
from foresight.live.platform import PlatformLink
from foresight.live.scaling_views import TARGET_UTILISATION, CapacityPoint, _units
from foresight.scaling.predictive import PredictivePolicy
from foresight.scaling.records import DEFAULT_CONFIDENCE
from foresight.scaling.signals import SIGNAL_NAMES, combine
from foresight.scaling.webhook import WebhookExecutor
from foresight.store.metric_store import MetricStore
from foresight.store.records import RecordLog
from metrics_collector import memory_total_gb
from resource_manager import (
    DEFAULT_MAX_INSTANCES,
    ResourcePool,
)
from scaling_engine import (
    DemandForecast,
    EngineMode,
    ScalingAction,
    ScalingDecision,
    ScalingEngine,
    VerticalPolicy,
    make_policy,
)

logger = logging.getLogger(__name__)

EXTRAS_KEY = "live_scaling"
HISTORY_POINTS = 2880  # 12 h of 15-s decisions
OVERRIDE_HOLD_S = 600.0  # a manual override holds this long unless the request says


class LiveScaling:
    """Engine + pool + forecaster for the live monitor; thread-safe (one lock)."""

    def __init__(
        self,
        *,
        now: float,
        interval_s: float = 15.0,
        policy: str = "hybrid",
        mode: EngineMode = EngineMode.AUTO,
        boot_s: float = 60.0,
        min_instances: int = 1,
        max_instances: int | None = None,
        daily_budget: float | None = None,
        instance_cores: float = 1.0,
        host_cores: int | None = None,
        webhook: WebhookExecutor | None = None,
        disk_forecast: Callable[[], np.ndarray | None] | None = None,
        confidence_threshold: float = DEFAULT_CONFIDENCE,
        store: MetricStore | None = None,
        signals: tuple[str, ...] = SIGNAL_NAMES,
        instance_memory_gb: float | None = None,
        host_memory_gb: float | None = None,
        demand: SeriesDemand | None = None,
    ) -> None:
        if not interval_s > 0:
            raise InputError(f"SCALING_INTERVAL must be > 0 s (got {interval_s})")
        if not instance_cores > 0:
            raise InputError(f"SCALING_INSTANCE_CORES must be > 0 (got {instance_cores})")
        # cpu_percent is over all cores: this many request-sized instances fit the host.
        self.instance_cores = float(instance_cores)
        self.host_cores = int(host_cores or os.cpu_count() or 1)
        self.interval_s, self.boot_s = float(interval_s), float(boot_s)
        unknown = set(signals) - set(SIGNAL_NAMES)
        if unknown or not signals:
            raise InputError(
                f"SCALING_SIGNALS must name some of {', '.join(SIGNAL_NAMES)} (got {signals!r})"
            )
        # SCALING_DEMAND_METRIC: one series (a service's request rate) is the only signal
        self.demand = demand
        self.signals = tuple(signals) if demand is None else (demand.key,)
        # Memory the HPA way too: used memory / the instance's memory request, which by
        # default is this host's memory per core x the instance's cores (so a host whose
        # memory is as full as its CPU is busy asks for as many instances on both).
        self.host_memory_gb = float(host_memory_gb or memory_total_gb())
        self.instance_memory_gb = float(
            instance_memory_gb or self.host_memory_gb / self.host_cores * self.instance_cores
        )
        if not self.instance_memory_gb > 0:
            raise InputError(
                f"SCALING_INSTANCE_MEMORY_GB must be > 0 (got {self.instance_memory_gb})"
            )
        # This host's demand never exceeds host_cores / instance_cores units of CPU (nor
        # its memory / the request), so more instances than sized for that peak could
        # never be asked for: clamp, and say so.
        self.max_configured = DEFAULT_MAX_INSTANCES if max_instances is None else max_instances
        peak_units = self.host_cores / self.instance_cores
        if "memory" in self.signals:
            peak_units = max(peak_units, self.host_memory_gb / self.instance_memory_gb)
        reachable = math.ceil(peak_units / TARGET_UTILISATION - 1e-9)
        if demand is not None:  # another service's load is not bounded by this host
            reachable = self.max_configured
        self.max_reachable = max(reachable, min_instances, 1)
        self.pool = ResourcePool(
            start_s=now,
            min_instances=min_instances,
            max_instances=min(self.max_configured, self.max_reachable),
            boot_s=boot_s,
            pending_s=min(10.0, boot_s / 3),
            drain_s=30.0,
            daily_budget=daily_budget,
        )
        self.engine = ScalingEngine(
            make_policy(policy, interval_s=interval_s, confidence_threshold=confidence_threshold),
            self.pool,
            mode=mode,
            history=500,
            on_record=self._persist,
        )
        # Decisions survive a restart in the store (with one, the API pages from there).
        self.decision_log = None if store is None else RecordLog(store, "scaling_decision")
        self._persist_error: str | None = None
        self.forecaster = DemandForecaster(self.interval_s, self.boot_s)
        self.points: deque[CapacityPoint] = deque(maxlen=HISTORY_POINTS)
        self.last_signals: dict[str, float] = {}
        self.forecast_source: str | None = None  # "series" (live models) or "engine"
        self._series_forecast: DemandForecast | None = None
        self._sums = {name: [0.0, 0] for name in SIGNAL_NAMES}  # sum, count
        self._next_due = now + self.interval_s
        self._last_now = now
        self.lock = threading.Lock()
        self.vertical = VerticalPolicy()
        self._base_storage_gb = self.pool.storage_gb
        self._disk_forecast = disk_forecast
        self.size_advice: ScalingDecision | None = None  # the vertical policy's latest
        self.webhook = webhook
        self.platform = None if webhook is None else PlatformLink(webhook)
        self.webhook_results = deque(maxlen=1) if self.platform is None else self.platform.results

    # ---- the stage ---------------------------------------------------------------------
    def stage(self, now: float, sample) -> None:
        """Monitor stage: accumulate CPU and memory; every interval, decide (epoch s)."""
        for name, metric in (("cpu", "cpu_percent"), ("memory", "memory_percent")):
            value = None if self.demand is not None else sample.values.get(metric)
            if value is not None and math.isfinite(value):
                acc = self._sums[name]
                acc[0] += float(value)
                acc[1] += 1
        if now >= self._next_due:
            self._next_due = max(self._next_due + self.interval_s, now + 0.5 * self.interval_s)
            self.decide(now)

    def _signals(self, now: float) -> dict[str, float]:
        """Demand per signal since the last decision (units; NaN when not measured)."""
        if self.demand is not None:
            return {self.demand.key: self.demand.units(now)}
        mean = {k: (s / n / 100.0 if n else math.nan) for k, (s, n) in self._sums.items()}
        self._sums = {name: [0.0, 0] for name in SIGNAL_NAMES}
        # = utilisation (used / (ready x request)) x ready instances, for each resource.
        per_instance = {
            "cpu": self.host_cores / self.instance_cores,
            "memory": self.host_memory_gb / self.instance_memory_gb,
        }
        return {name: mean[name] * per_instance[name] for name in self.signals}

    def decide(self, now: float) -> ScalingDecision:
        """Turn the CPU and memory seen since the last decision into demand; run the engine."""
        with self.lock:
            now = self._clamp(now)
            signals = self.last_signals = self._signals(now)
            demand, _ = combine(signals)  # the highest signal drives (the HPA's rule)
            self.forecaster.learn(now, demand)
            forecast = own = self.forecaster.forecast(now)
            # The demand series' own live forecast first; the engine's while it warms up.
            series = self._series_forecast = (
                None
                if self.demand is None
                else self.demand.forecast(now, self.boot_s + self.interval_s)
            )
            if series is not None and math.isfinite(demand):
                forecast = series
            self.forecast_source = (
                "series"
                if forecast is series and series is not None
                else ("engine" if own is not None else None)
            )
            if isinstance(self.engine.policy, PredictivePolicy):  # why no usable forecast
                self.engine.policy.forecast_waiting = (
                    None if self.forecast_source == "series" else self.forecaster.waiting()
                )
            decision = self.engine.step(now, demand, forecast, signals=signals)
            if decision.execution is not None:
                self._mirror(decision)
            self._vertical(now)
            self._size(now, decision)
            state = self.pool.state(now)
            if self.platform is not None:
                self.platform.poll(state.desired, now)
            window = (
                None if forecast is None else forecast.window(now + self.boot_s, now + self.boot_s)
            )
            self.points.append(
                CapacityPoint(
                    now,
                    _units(demand),
                    state.ready,
                    state.booting,
                    decision.target,
                    None if window is None else round(window[0], 4),
                    None if window is None else round(window[1], 4),
                    _units(signals.get("cpu", math.nan)),
                    _units(signals.get("memory", math.nan)),
                )
            )
            return decision

    def _persist(self, decision: ScalingDecision) -> None:
        log = getattr(self, "decision_log", None)  # None while __init__ builds the engine
        if log is None:
            return
        try:
            log.add(decision.timestamp, decision.to_dict())
        except (sqlite3.Error, OSError) as exc:  # disk full, ...: the health says why
            if str(exc) != self._persist_error:
                # the store reports the fault itself (health, one log line): no second line
                logger.debug("scaling decisions not stored (kept in memory): %s", exc)
            self._persist_error = str(exc)
        else:
            self._persist_error = None

    def _vertical(self, now: float) -> None:
        """Grow the simulated volume ahead of a full disk (live_models' forecast)."""
        if self._disk_forecast is None:
            return
        percent = self._disk_forecast()
        if percent is None:
            return
        scaled = np.asarray(percent, float) * self._base_storage_gb / self.pool.storage_gb
        decision = self.vertical.decide_storage(self.pool.storage_gb, scaled, now)
        if decision.action is ScalingAction.GROW_STORAGE:
            self.engine.apply_vertical(decision, now)

    def _size(self, now: float, horizontal: ScalingDecision) -> None:
        """Ask the vertical policy for the instance size; resize (auto) when capped.

        Outside auto mode a changed recommendation is recorded once, not every interval.
        """
        advice = self.vertical.decide_size(
            self.pool.size.name,
            horizontal,
            self.pool.max_instances,
            now,
            instance_cores=self.instance_cores,
            instance_memory_gb=self.instance_memory_gb,
        )
        previous, self.size_advice = self.size_advice, advice
        if advice.action is ScalingAction.RESIZE_UP and (
            self.engine.mode is EngineMode.AUTO
            or previous is None
            or previous.inputs.get("recommended") != advice.inputs.get("recommended")
        ):
            self.engine.apply_vertical(advice, now)

    def _mirror(self, decision: ScalingDecision) -> None:
        """Queue an executed count for the webhook (sent by one background thread)."""
        if self.platform is not None:
            self.platform.send(decision.target, decision.timestamp, decision.reason)

    def _clamp(self, now: float) -> float:
        # The API's clock and the sampler's tick times may interleave by a few ms.
        self._last_now = max(self._last_now, now)
        return self._last_now

    # ---- forecasting (foresight/live/demand_forecast.py) ----------------------------------
    def quality(self) -> float | None:
        """Forecast MAE at the boot lag / MAE of assuming no change; None until 20 known.

        With the demand series' live forecast in use: its validation MASE / the last
        value's."""
        if self.forecast_source == "series" and self._series_forecast is not None:
            return self._series_forecast.quality
        return self.forecaster.quality()

    def forecast_waiting(self) -> str | None:
        """What the forecast in use still waits for (None: it is measured, or the series')."""
        if self.forecast_source == "series":
            return None
        return self.forecaster.waiting()

    @property
    def last_forecast(self) -> DemandForecast | None:
        if self.forecast_source == "series" and self._series_forecast is not None:
            return self._series_forecast
        return self.forecaster.last

    # ---- API helpers -------------------------------------------------------------------
    def set_mode(self, mode: str) -> EngineMode:
        try:
            value = EngineMode(mode)
        except ValueError:
            raise InputError(
                f"mode must be one of {', '.join(m.value for m in EngineMode)} (got {mode!r})"
            ) from None
        with self.lock:
            self.engine.mode = value
        logger.info("scaling mode set to %s", value.value)
        return value

    def override(
        self, instances: int, now: float, hold_s: float = OVERRIDE_HOLD_S
    ) -> ScalingDecision:
        """Set the count by hand; automatic decisions resume after ``hold_s`` seconds."""
        with self.lock:
            decision = self.engine.override(instances, self._clamp(now), hold_s=hold_s)
            self._mirror(decision)
            return decision

    def fail_instance(self, instance_id: int, now: float) -> dict:
        """Inject a fault: the instance fails its next health check and is replaced."""
        with self.lock:
            now = self._clamp(now)
            self.pool.mark_failed(instance_id, now)
            self.pool.tick(now)
        logger.info("fault injected into instance %d", instance_id)
        return self.resources(now)

    def alert_values(self, now: float) -> dict[str, float]:
        """Values the alert rules can read beside the sample's: the platform drift."""
        with self.lock:
            drift = None if self.platform is None else self.platform.drift(now)
        if drift is None or drift["drift_instances"] is None:
            return {}
        return {"scaling_drift_instances": float(abs(drift["drift_instances"]))}

    # ---- API views (foresight/live/scaling_views.py) -----------------------------------
    def desired(self, now: float) -> dict:
        """KEDA's metrics-api answer: the count to run now (a dry run recommends)."""
        return views.desired(self, now)

    def conditions(self) -> list[dict]:
        """HPA-style conditions: why the engine can't do what it would."""
        return views.conditions(self)

    def status(self, now: float) -> dict:
        return views.status(self, now)

    def history(self, limit: int, since: float | None = None) -> dict:
        """Capacity points and decisions, newest ``limit`` (or those after ``since``)."""
        return views.history(self, limit, since)

    def resources(self, now: float) -> dict:
        return views.resources(self, now)


def from_settings(
    settings: Settings,
    now: float,
    disk_forecast: Callable[[], np.ndarray | None] | None = None,
    store: MetricStore | None = None,
    series_forecast: SeriesForecast | None = None,
) -> LiveScaling:
    """Build the live engine from the scaling part of ``settings``."""
    url = settings.scaling_webhook_url
    if settings.scaling_status_url and not url:
        raise InputError(
            "SCALING_STATUS_URL needs SCALING_WEBHOOK_URL: the status URL reads back "
            f"the count the webhook asks for (got {settings.scaling_status_url!r})"
        )
    hook = (
        WebhookExecutor(
            url, token=settings.scaling_webhook_token, status_url=settings.scaling_status_url
        )
        if url
        else None
    )
    demand = None
    if settings.scaling_demand_metric:
        if settings.scaling_unit_capacity is None or store is None:
            raise InputError(
                "SCALING_DEMAND_METRIC needs SCALING_UNIT_CAPACITY, the demand one instance "
                f"serves (got SCALING_DEMAND_METRIC={settings.scaling_demand_metric!r})"
            )
        demand = SeriesDemand(
            settings.scaling_demand_metric, settings.scaling_unit_capacity, store, series_forecast
        )
    return LiveScaling(
        now=now,
        interval_s=settings.scaling_interval_s,
        policy=settings.scaling_policy,
        mode=EngineMode(settings.scaling_mode),
        boot_s=settings.scaling_boot_s,
        instance_cores=settings.scaling_instance_cores,
        min_instances=settings.min_instances,
        max_instances=settings.max_instances,
        daily_budget=settings.cost_threshold_usd,
        confidence_threshold=settings.confidence_threshold,
        webhook=hook,
        disk_forecast=disk_forecast,
        store=store,
        signals=settings.scaling_signals,
        instance_memory_gb=settings.scaling_instance_memory_gb,
        demand=demand,
    )


def install(services) -> None:
    """Monitor extension hook: add the scaling stage and keep it in ``extras``."""

    def disk_forecast() -> np.ndarray | None:
        """The 1-hour disk_percent forecast's 80 % upper edge from live_models, if any."""
        models = services.extras.get(live_models.EXTRAS_KEY)
        if models is None or not live_models.TIERS:
            return None
        forecast = models.state("disk_percent", live_models.TIERS[0]).forecast
        return None if forecast is None else np.asarray(forecast.upper_80, float)

    live = from_settings(
        services.settings,
        services.started_at,
        disk_forecast,
        services.store,
        live_series_forecast(services),
    )
    services.extras[EXTRAS_KEY] = live
    services.stages.append(live.stage)
