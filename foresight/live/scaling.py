"""The scaling engine in ``--monitor``: build it from the settings, install its stage.

The engine itself is ``LiveScaling`` (``scaling_stage.py``, re-exported here).
Installed by ``foresight.live.services.build_services``: a stage collects ``cpu_percent``
and ``memory_percent`` from each sample and every ``SCALING_INTERVAL`` seconds (default
15, the HPA's sync period) turns them into demand, refits the demand forecaster
(``demand_forecast.py``) now and then, and runs one engine step.

Demand is "measured utilisation x ready instances" with utilisation taken the HPA way,
against the instances' CPU request (``SCALING_INSTANCE_CORES``, default 1 core) and
memory request (``SCALING_INSTANCE_MEMORY_GB``): see ``host_demand.py``. A one-core
stress test is one unit of demand on any host, and the pool settles (adding an instance
lowers the utilisation it reports) instead of running away to max. With
``SCALING_DEMAND_METRIC`` one series (a service's request rate) is the demand instead,
and its own live forecast is preferred (``forecast_choice.py``).

Settings (``foresight.core.settings``): the SCALING_* variables, MIN_INSTANCES,
MAX_INSTANCES, COST_THRESHOLD (USD/day), CONFIDENCE_THRESHOLD, and SCALING_WEBHOOK_URL
(+ SCALING_WEBHOOK_TOKEN): also POST every executed count there, from a background
thread so retries never hold up sampling (``platform.py``), reading back the count the
platform runs from its answer or SCALING_STATUS_URL; results show in /api/resources,
drift in /api/scaling/status and to the alert rules (``alert_values``). The boot lag
defaults to 60 s so that a live demo shows instances becoming ready within a stress
test.

The vertical tier runs on the disk-usage forecast of ``live_models`` (when installed):
``scaling_vertical.py``. What the API shows is built in ``scaling_views.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from foresight.core.errors import InputError
from foresight.core.settings import Settings
from foresight.live import models as live_models
from foresight.live.demand_metric import SeriesDemand, SeriesForecast, live_series_forecast
from foresight.live.scaling_stage import LiveScaling
from foresight.scaling.webhook import WebhookExecutor
from foresight.store.metric_store import MetricStore
from scaling_engine import EngineMode

__all__ = ["EXTRAS_KEY", "LiveScaling", "from_settings", "install"]

EXTRAS_KEY = "live_scaling"


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
    saved: list[bool] = []

    def save_on_stop() -> None:  # before the store closes; once (stop is idempotent)
        if not saved:
            saved.append(True)
            live.save(services.clock())

    services.closers.append(save_on_stop)
