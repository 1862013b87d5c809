"""The live scaling engine: demand from each interval's samples, one engine step, its API.

``LiveScaling`` holds the simulated pool, the engine and the demand forecaster for
``--monitor`` (built from the settings and installed by ``foresight.live.scaling``).
Its stage collects ``cpu_percent`` and ``memory_percent`` from each sample and every
``interval_s`` seconds turns them into demand units (``host_demand.py``, or one series
with ``SCALING_DEMAND_METRIC``), picks the forecast (``forecast_choice.py``), runs one
engine step and then the vertical tier (``scaling_vertical.py``); executed counts go to
the platform webhook (``platform.py``) and every recorded decision to the store. What
the API shows is built in ``scaling_views.py``. Thread-safe: one lock.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from foresight.core.errors import InputError
from foresight.live import scaling_views as views
from foresight.live.demand_forecast import DemandForecaster
from foresight.live.demand_metric import SeriesDemand
from foresight.live.forecast_choice import ForecastChoice
from foresight.live.host_demand import HostDemand
from foresight.live.platform import PlatformLink
from foresight.live.scaling_vertical import VerticalTier
from foresight.live.scaling_views import TARGET_UTILISATION, CapacityPoint, _units
from foresight.scaling.predictive import PredictivePolicy
from foresight.scaling.records import DEFAULT_CONFIDENCE
from foresight.scaling.saved_state import EngineRecord, Restore, SavedScaling, plan
from foresight.scaling.signals import SIGNAL_NAMES, combine
from foresight.scaling.webhook import WebhookExecutor
from foresight.store.metric_store import MetricStore
from foresight.store.records import RecordLog
from resource_manager import (
    DEFAULT_MAX_INSTANCES,
    ResourcePool,
)
from scaling_engine import (
    DemandForecast,
    EngineMode,
    ScalingDecision,
    ScalingEngine,
    make_policy,
)

logger = logging.getLogger(__name__)

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
        self.host = HostDemand(
            signals=signals,
            instance_cores=instance_cores,
            host_cores=host_cores,
            instance_memory_gb=instance_memory_gb,
            host_memory_gb=host_memory_gb,
        )
        # The host's sizes, read by the views and the tests (fixed once built).
        self.instance_cores, self.host_cores = self.host.instance_cores, self.host.host_cores
        self.host_memory_gb = self.host.host_memory_gb
        self.instance_memory_gb = self.host.instance_memory_gb
        self.interval_s, self.boot_s = float(interval_s), float(boot_s)
        # SCALING_DEMAND_METRIC: one series (a service's request rate) is the only signal
        self.demand = demand
        self.signals = self.host.signals if demand is None else (demand.key,)
        # This host's demand never exceeds its peak units, so more instances than sized
        # for that peak could never be asked for: clamp, and say so.
        self.max_configured = DEFAULT_MAX_INSTANCES if max_instances is None else max_instances
        reachable = math.ceil(self.host.peak_units() / TARGET_UTILISATION - 1e-9)
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
        self.forecasts = ForecastChoice(self.forecaster, demand, self.boot_s + self.interval_s)
        self.points: deque[CapacityPoint] = deque(maxlen=HISTORY_POINTS)
        self.last_signals: dict[str, float] = {}
        self._next_due = now + self.interval_s
        self._last_now = now
        self.lock = threading.Lock()
        self.vertical = VerticalTier(
            self.engine,
            instance_cores=self.instance_cores,
            instance_memory_gb=self.instance_memory_gb,
            disk_forecast=disk_forecast,
        )
        self.webhook = webhook
        self.platform = None if webhook is None else PlatformLink(webhook)
        self.webhook_results = deque(maxlen=1) if self.platform is None else self.platform.results
        # Mode, override hold and pool survive a restart (foresight/scaling/saved_state.py).
        self.mode_set_at: float | None = None  # when the API set the mode (None: settings)
        self.hold_instances: int | None = None  # the held override's count
        self.restored: Restore | None = None  # what this start took from the saved state
        self.saved = None if store is None else SavedScaling(store)
        if self.saved is not None:
            self._restore(now, mode)

    # ---- the stage ---------------------------------------------------------------------
    def stage(self, now: float, sample) -> None:
        """Monitor stage: accumulate CPU and memory; every interval, decide (epoch s)."""
        if self.demand is None:
            self.host.add(sample.values)
        if now >= self._next_due:
            self._next_due = max(self._next_due + self.interval_s, now + 0.5 * self.interval_s)
            self.decide(now)

    def _signals(self, now: float) -> dict[str, float]:
        """Demand per signal since the last decision (units; NaN when not measured)."""
        if self.demand is not None:
            return {self.demand.key: self.demand.units(now)}
        return self.host.take()

    def decide(self, now: float) -> ScalingDecision:
        """Turn the CPU and memory seen since the last decision into demand; run the engine."""
        with self.lock:
            now = self._clamp(now)
            signals = self.last_signals = self._signals(now)
            demand, _ = combine(signals)  # the highest signal drives (the HPA's rule)
            # The demand series' own live forecast first; the engine's while it warms up.
            forecast = self.forecasts.choose(now, demand)
            if isinstance(self.engine.policy, PredictivePolicy):  # why no usable forecast
                self.engine.policy.forecast_waiting = self.forecasts.waiting()
            decision = self.engine.step(now, demand, forecast, signals=signals)
            if decision.execution is not None:
                self._mirror(decision)
            self.vertical.step(now, decision)
            state = self.pool.state(now)
            self._save_pool(now)
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

    # ---- restart (foresight/scaling/saved_state.py has the rule) ------------------------
    def _restore(self, now: float, default: EngineMode) -> None:
        assert self.saved is not None
        engine, pool = self.saved.load()
        if engine is None and pool is None:
            return
        restore = plan(engine, pool, now)
        if restore.mode is not None:
            self.engine.mode, self.mode_set_at = restore.mode, restore.mode_set_at
        if restore.hold_until is not None:
            self.engine.hold_until = restore.hold_until
            self.hold_instances = restore.hold_instances
        count = self.pool.restore(
            instances=restore.instances,
            size=restore.size,
            storage_gb=restore.storage_gb,
            cost_total=restore.cost_total,
            cost_today=restore.cost_today or 0.0,
            last_id=restore.last_id,
            events=restore.events,
        )
        if count is not None and count != restore.instances:
            restore = replace(
                restore,
                instances=count,
                notes=(*restore.notes, f"{restore.instances} clamped to [min, max]: {count}"),
            )
        self.restored = restore
        if engine is not None and engine.hold_until is not None and restore.hold_until is None:
            self._save_engine(now)  # the expired hold leaves the row: noted at one start only
        logger.info(
            "scaling state restored (mode %s, SCALING_MODE %s; %s instances): %s",
            self.engine.mode.value,
            default.value,
            self.pool.state(now).desired,
            "; ".join(restore.notes) or "as saved",
        )

    def _save_engine(self, now: float) -> None:
        if self.saved is not None:
            mode = None if self.mode_set_at is None else self.engine.mode
            hold = self.engine.hold_until
            hold = hold if hold is not None and hold > now else None  # an ended one: gone
            record = EngineRecord(
                mode, self.mode_set_at, hold, None if hold is None else self.hold_instances
            )
            self.saved.save_engine(now, record)

    def _save_pool(self, now: float) -> None:
        if self.saved is not None:
            self.saved.save_pool(now, self.pool.snapshot())

    def save(self, now: float) -> None:
        """Bill the pool to ``now`` and save it (the monitor's stop calls this)."""
        with self.lock:
            now = self._clamp(now)
            self.pool.tick(now)
            self._save_pool(now)

    def _mirror(self, decision: ScalingDecision) -> None:
        """Queue an executed count for the webhook (sent by one background thread)."""
        if self.platform is not None:
            self.platform.send(decision.target, decision.timestamp, decision.reason)

    def _clamp(self, now: float) -> float:
        # The API's clock and the sampler's tick times may interleave by a few ms.
        self._last_now = max(self._last_now, now)
        return self._last_now

    # ---- forecasting (foresight/live/forecast_choice.py) -------------------------------
    @property
    def forecast_source(self) -> str | None:
        """The forecast in use: "series" (live models), "engine" or None (none yet)."""
        return self.forecasts.source

    def quality(self) -> float | None:
        """Forecast MAE at the boot lag / MAE of assuming no change; None until 20 known."""
        return self.forecasts.quality()

    def forecast_waiting(self) -> str | None:
        """What the forecast in use still waits for (None: it is measured, or the series')."""
        return self.forecasts.waiting()

    @property
    def last_forecast(self) -> DemandForecast | None:
        return self.forecasts.last

    @property
    def size_advice(self) -> ScalingDecision | None:
        """The vertical policy's latest instance-size decision."""
        return self.vertical.size_advice

    # ---- API helpers -------------------------------------------------------------------
    def set_mode(self, mode: str, now: float | None = None) -> EngineMode:
        """Set the mode (it then wins over SCALING_MODE, across restarts, until set again)."""
        try:
            value = EngineMode(mode)
        except ValueError:
            raise InputError(
                f"mode must be one of {', '.join(m.value for m in EngineMode)} (got {mode!r})"
            ) from None
        with self.lock:
            now = self._clamp(self._last_now if now is None else now)
            self.engine.mode, self.mode_set_at = value, now
            self._save_engine(now)
        logger.info("scaling mode set to %s", value.value)
        return value

    def override(
        self, instances: int, now: float, hold_s: float = OVERRIDE_HOLD_S
    ) -> ScalingDecision:
        """Set the count by hand; automatic decisions resume after ``hold_s`` seconds."""
        with self.lock:
            now = self._clamp(now)
            decision = self.engine.override(instances, now, hold_s=hold_s)
            self.hold_instances = instances if self.engine.hold_until is not None else None
            self._save_engine(now)
            self._save_pool(now)
            self._mirror(decision)
            return decision

    def fail_instance(self, instance_id: int, now: float) -> dict:
        """Inject a fault: the instance fails its next health check and is replaced."""
        with self.lock:
            now = self._clamp(now)
            self.pool.mark_failed(instance_id, now)
            self.pool.tick(now)
            self._save_pool(now)
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
        """The engine's state; ``mode_source`` and ``restored`` say what a restart kept."""
        doc = views.status(self, now)
        doc["mode_source"] = "settings" if self.mode_set_at is None else "api"
        doc["restored"] = None if self.restored is None else self.restored.to_dict()
        return doc

    def history(self, limit: int, since: float | None = None) -> dict:
        """Capacity points and decisions, newest ``limit`` (or those after ``since``)."""
        return views.history(self, limit, since)

    def resources(self, now: float) -> dict:
        return views.resources(self, now)
