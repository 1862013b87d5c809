"""``GET /metrics``: the latest sample in Prometheus exposition format, base units.

Names follow node_exporter where one exists (the per-core label is ``cpu``); byte
rates are left to Prometheus (``rate()`` of the ``*_bytes_total`` counters). Foresight's
own results (forecasts, anomaly scores, alerts, scaling) come from
``foresight.web.prometheus_results``; ``process_*`` and ``python_info`` from
prometheus_client's process and platform collectors.

A custom Collector reads the newest sample when scraped (nothing is copied per tick),
registered in a CollectorRegistry created per app — never the global default registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from foresight.live import scaling as live_scaling
from foresight.live.risk import EXTRAS_KEY as RISK_KEY
from foresight.live.services import Services
from foresight.web.prometheus_results import ResultsCollector
from metrics_collector import MetricsCollector

# catalog metric -> (prometheus name, help, factor from catalog unit to base unit)
_GAUGES: dict[str, tuple[str, str, float]] = {
    "cpu_percent": ("foresight_cpu_utilisation_ratio", "CPU utilisation, all cores", 0.01),
    "memory_percent": ("foresight_memory_utilisation_ratio", "Physical memory in use", 0.01),
    "swap_percent": ("foresight_swap_utilisation_ratio", "Swap in use", 0.01),
    "disk_percent": (
        "foresight_disk_utilisation_ratio",
        "Space used on the data directory's filesystem",
        0.01,
    ),
    "disk_used_gb": (
        "foresight_disk_used_bytes",
        "Bytes used on the data directory's filesystem",
        1e9,
    ),
    "load1": ("foresight_load1", "1-minute load average", 1.0),
    "process_count": ("foresight_processes", "Number of processes", 1.0),
    "api_response_ms": ("foresight_api_probe_seconds", "HTTP probe response time", 0.001),
    "api_success": ("foresight_api_probe_success", "HTTP probe succeeded (1) or not (0)", 1.0),
    "db_query_ms": ("foresight_db_probe_seconds", "SQL probe query time", 0.001),
}
_COUNTERS: dict[str, tuple[str, str]] = {
    "net_recv_bytes": ("foresight_network_receive_bytes", "Bytes received, all interfaces"),
    "net_sent_bytes": ("foresight_network_transmit_bytes", "Bytes sent, all interfaces"),
    "disk_read_bytes": ("foresight_disk_read_bytes", "Bytes read, all disks"),
    "disk_write_bytes": ("foresight_disk_written_bytes", "Bytes written, all disks"),
}
# Rates Prometheus derives itself from the counters above (rate(..._bytes_total[1m])).
_RATES = frozenset(
    {
        "disk_read_bytes_per_s",
        "disk_write_bytes_per_s",
        "net_recv_bytes_per_s",
        "net_sent_bytes_per_s",
    }
)
_CORE = re.compile(r"^cpu_core(\d+)_percent$")


class ForesightCollector(Collector):
    """Expose the newest sample and the sampler's own counters."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        svc = self.services
        latest = svc.latest()
        # with the held readings (the last HTTP probe between probes): a gauge per scrape
        values = latest.current() if latest is not None else {}
        cores = GaugeMetricFamily(
            "foresight_cpu_core_utilisation_ratio",
            "CPU utilisation per logical core",
            labels=["cpu"],
        )
        other = GaugeMetricFamily(
            "foresight_metric_value",
            "Metrics without a dedicated name, in catalog units",
            labels=["metric"],
        )
        gauges: list[Metric] = []
        for name, value in sorted(values.items()):
            if name in _GAUGES:
                prom, doc, scale = _GAUGES[name]
                gauges.append(GaugeMetricFamily(prom, doc, value=value * scale))
            elif name in _RATES:
                continue
            elif (match := _CORE.match(name)) is not None:
                cores.add_metric([match.group(1)], value / 100.0)
            else:
                other.add_metric([name], value)
        yield from gauges
        yield cores
        yield other
        counters = svc.collector.counters if isinstance(svc.collector, MetricsCollector) else {}
        for key, value in sorted(counters.items()):
            prom, doc = _COUNTERS[key]
            yield CounterMetricFamily(prom, doc, value=value)
        stats = svc.tick_stats
        yield CounterMetricFamily(
            "foresight_sampler_ticks", "Sampling ticks run", value=stats.ticks
        )
        yield CounterMetricFamily(
            "foresight_sampler_missed_ticks",
            "Sampling ticks skipped because a tick ran late",
            value=stats.missed,
        )
        yield CounterMetricFamily(
            "foresight_sampler_errors", "Sampling ticks that failed", value=stats.errors
        )
        yield CounterMetricFamily(
            "foresight_stage_errors", "Cycle stages that raised", value=svc.stage_errors
        )
        jitter = Metric(
            "foresight_sampler_jitter_seconds",
            "Tick start minus scheduled time (quantiles over the recent ticks)",
            "summary",
        )
        for q, ms in stats.jitter_ms().items():
            if ms is not None and q != "max":
                quantile = {"p50": "0.5", "p99": "0.99"}[q]
                jitter.add_sample(jitter.name, {"quantile": quantile}, ms / 1000)
        jitter.add_sample(jitter.name + "_count", {}, stats.ticks)
        jitter.add_sample(jitter.name + "_sum", {}, stats.jitter_sum_s)
        yield jitter
        yield GaugeMetricFamily(
            "foresight_sampler_interval_seconds",
            "Configured seconds between ticks",
            value=svc.settings.interval_s,
        )
        if latest is not None:
            yield GaugeMetricFamily(
                "foresight_last_sample_timestamp_seconds",
                "Epoch time of the newest sample",
                value=latest.timestamp,
            )
        yield GaugeMetricFamily(
            "foresight_store_size_bytes", "SQLite history on disk", value=svc.store.size_bytes()
        )
        yield GaugeMetricFamily(
            "foresight_uptime_seconds",
            "Seconds since the monitor started",
            value=max(0.0, svc.clock() - svc.started_at),
        )
        yield from _scaling_families(svc)
        yield from risk_gauges(svc)


def _scaling_families(svc: Services) -> Iterator[Metric]:
    """The scaling engine's answer, for the Prometheus adapter or KEDA's prometheus scaler."""
    live = svc.extras.get(live_scaling.EXTRAS_KEY)
    if live is None:
        return
    desired = live.desired(svc.clock())
    yield GaugeMetricFamily(
        "foresight_desired_instances",
        "Instances the scaling engine wants running now (dry run: its recommendation)",
        value=desired["desired_instances"],
    )
    yield GaugeMetricFamily(
        "foresight_ready_instances", "Instances ready to serve", value=desired["ready_instances"]
    )
    drift = live.status(svc.clock())["platform"]
    if drift is not None and drift["actual_instances"] is not None:
        yield GaugeMetricFamily(
            "foresight_actual_instances",
            "Instances the platform reported running at the last read-back",
            value=drift["actual_instances"],
        )
        yield GaugeMetricFamily(
            "foresight_scaling_drift_instances",
            "Instances asked for minus those the platform runs, at the last read-back",
            value=drift["drift_instances"],
        )


def risk_gauges(svc: Services) -> Iterator[Metric]:
    """The latest cycle's crash-risk score and, with a model, failure probability."""
    live = svc.extras.get(RISK_KEY)
    if live is None:
        return
    crash, failure = live.latest()
    if crash is not None:
        yield GaugeMetricFamily(
            "foresight_crash_risk_score",
            "Chance that a forecast crosses a crash level within 1 h (0-1)",
            value=crash.score,
        )
    if failure is not None:
        yield GaugeMetricFamily(
            "foresight_failure_probability",
            "Trained model's probability of an incident now or within its horizon (0-1)",
            value=failure["failure_probability"],
        )


def make_registry(services: Services) -> CollectorRegistry:
    """A fresh registry: this app's collectors plus the process and platform ones."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ForesightCollector(services))
    registry.register(ResultsCollector(services))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry
