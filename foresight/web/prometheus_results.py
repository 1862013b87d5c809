"""Foresight's own results on ``/metrics``: forecasts, anomaly scores, alerts, scaling.

Read at scrape time from what the live stages computed (nothing is copied per tick).
Values stay in catalog units where they describe a catalog metric (``metric`` label),
as ``foresight_metric_value`` does. ``foresight_alerts`` mirrors Prometheus' own
``ALERTS`` series: one 1-valued series per pending or firing alert.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from foresight.live import alerting as live_alerts
from foresight.live import models as live_models
from foresight.live import scaling as live_scaling
from predictor import BAND_FIELDS

FORECAST_TIERS = (live_models.SHORT_TIER, live_models.TIERS[0])


def package_version() -> str:
    try:
        return version("foresight-monitor")
    except PackageNotFoundError:
        return "unknown"


class ResultsCollector(Collector):
    """Expose build info and the live stages' results."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.version = package_version()

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily(
            "foresight_build_info", "Foresight's version (always 1)", labels=["version"]
        )
        build.add_metric([self.version], 1.0)
        yield build
        extras = self.services.extras
        if live_models.EXTRAS_KEY in extras:
            yield from self._models(extras[live_models.EXTRAS_KEY])
        if live_alerts.EXTRAS_KEY in extras:
            yield from self._alerts(extras[live_alerts.EXTRAS_KEY])
        if live_scaling.EXTRAS_KEY in extras:
            yield from self._scaling(extras[live_scaling.EXTRAS_KEY])

    def _models(self, models: Any) -> Iterator[Metric]:
        forecast = GaugeMetricFamily(
            "foresight_forecast",
            "Forecast at the end of the tier's horizon, per band, in catalog units",
            labels=["metric", "band", "tier"],
        )
        horizon = GaugeMetricFamily(
            "foresight_forecast_horizon_seconds", "How far each tier forecasts", labels=["tier"]
        )
        for tier in FORECAST_TIERS:
            horizon.add_metric([tier.name], tier.horizon_s)
            for metric in self.services.known_metrics():
                made = models.state(metric, tier).forecast
                if made is None:
                    continue
                for band in BAND_FIELDS:
                    value = float(getattr(made, band)[-1])
                    if math.isfinite(value):
                        forecast.add_metric([metric, band, tier.name], value)
        yield forecast
        yield horizon
        scores = GaugeMetricFamily(
            "foresight_anomaly_score",
            "Latest anomaly score per metric (the detector flags from its threshold)",
            labels=["metric"],
        )
        for metric, item in models.scores().items():
            if math.isfinite(item["score"]):
                scores.add_metric([metric], item["score"])
        yield scores

    def _alerts(self, live: Any) -> Iterator[Metric]:
        alerts = GaugeMetricFamily(
            "foresight_alerts",
            "Pending and firing alerts (1 per alert, like Prometheus' ALERTS)",
            labels=["alertname", "alertstate", "severity", "metric"],
        )
        for record in live.engine.active():
            alerts.add_metric([record.rule, record.state, record.severity, record.metric], 1.0)
        yield alerts
        status = live.status()
        yield GaugeMetricFamily(
            "foresight_alert_rules", "Alert rules loaded", value=status["rules"]["rules"]
        )
        failed = CounterMetricFamily(
            "foresight_alert_notification_failures",
            "Failed attempts to send alert notifications",
            labels=["kind"],
        )
        sent = CounterMetricFamily(
            "foresight_alert_notifications", "Alert batches delivered", labels=["kind"]
        )
        for target in (status["notifications"] or {}).get("targets", []):
            failed.add_metric([target["kind"]], target["failed_attempts"])
            sent.add_metric([target["kind"]], target["sent"])
        yield failed
        yield sent

    def _scaling(self, live: Any) -> Iterator[Metric]:
        status = live.status(self.services.clock())
        instances = GaugeMetricFamily(
            "foresight_scaling_instances", "Pool instances by state", labels=["state"]
        )
        for state, count in sorted(status["instances"].items()):
            instances.add_metric([state], count)
        yield instances
        yield GaugeMetricFamily(
            "foresight_scaling_desired_instances",
            "Instances the engine wants",
            value=status["desired"],
        )
        decisions = GaugeMetricFamily(
            "foresight_scaling_recent_decisions",
            "Decisions among the engine's recent history, by action",
            labels=["action"],
        )
        recent = Counter(d["action"] for d in live.history(1)["decisions"])
        for action, count in sorted(recent.items()):
            decisions.add_metric([action], count)
        yield decisions
        cost = status["cost"]
        yield CounterMetricFamily(
            "foresight_scaling_cost_usd", "Pool cost since start", value=cost["total_usd"]
        )
        yield GaugeMetricFamily(
            "foresight_scaling_cost_today_usd", "Pool cost today (UTC)", value=cost["today_usd"]
        )
        budget = cost["daily_budget_usd"]
        if budget is not None and math.isfinite(budget):
            yield GaugeMetricFamily(
                "foresight_scaling_daily_budget_usd", "Daily cost budget", value=budget
            )
