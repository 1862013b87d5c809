"""The metric catalog: each metric's unit, description and warning/critical levels."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from enum import Enum


class Level(str, Enum):
    """How a current value compares with its metric's thresholds."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """What a metric means: its unit, a sentence, and warning/critical thresholds."""

    name: str
    unit: str
    description: str
    warning: float | None = None
    critical: float | None = None
    # The smallest change that means anything, in the metric's unit: the anomaly
    # detector treats smaller moves as no change (0: every change counts).
    min_change: float = 0.0

    def level(self, value: float | None) -> Level:
        """Classify ``value`` against the thresholds (higher is worse)."""
        if value is None or value != value:  # None or NaN
            return Level.UNKNOWN
        if self.critical is not None and value >= self.critical:
            return Level.CRITICAL
        if self.warning is not None and value >= self.warning:
            return Level.WARNING
        return Level.OK

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "unit": self.unit,
            "description": self.description,
            "warning": self.warning,
            "critical": self.critical,
            "min_change": self.min_change,
        }


def _m(
    name: str,
    unit: str,
    description: str,
    warning: float | None = None,
    critical: float | None = None,
    *,
    min_change: float,
) -> MetricInfo:
    return MetricInfo(name, unit, description, warning, critical, min_change)


KIB_PER_S = 1024.0  # byte rates: a change under 1 KiB/s is noise on any host

# Minimum meaningful changes: 1 point for a percentage, 1 ms for a latency, 1 for a
# count, 1 GB of disk, 0.1 of load, 1 KiB/s of a byte rate, half of a 0/1 flag.
# Seed thresholds from the user's brief: CPU 80/90 %, disk 80/90 %, API 150/200 ms,
# DB 200/300 ms. Per-core CPU metrics (cpu_core<N>_percent) are added at run time.
# Load is judged per logical CPU, as Glances does (careful 0.7, warning 1.0, critical 5.0
# per CPU): 4.74 is critical on one CPU and fine on eight.
LOAD_WARNING_PER_CPU = 1.0
LOAD_CRITICAL_PER_CPU = 5.0
CPUS = os.cpu_count() or 1
METRIC_CATALOG: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _m("cpu_percent", "%", "CPU utilisation, all cores", 80, 90, min_change=1.0),
        _m("memory_percent", "%", "Physical memory in use", 85, 95, min_change=1.0),
        _m("swap_percent", "%", "Swap in use", 50, 80, min_change=1.0),
        _m(
            "disk_percent",
            "%",
            "Disk space used on the data directory's filesystem",
            80,
            90,
            min_change=1.0,
        ),
        _m(
            "disk_used_gb",
            "GB",
            "Disk space used on the data directory's filesystem",
            min_change=1.0,
        ),
        _m("disk_read_bytes_per_s", "B/s", "Disk read throughput, all disks", min_change=KIB_PER_S),
        _m(
            "disk_write_bytes_per_s",
            "B/s",
            "Disk write throughput, all disks",
            min_change=KIB_PER_S,
        ),
        _m(
            "net_recv_bytes_per_s",
            "B/s",
            "Network bytes received, all interfaces",
            min_change=KIB_PER_S,
        ),
        _m(
            "net_sent_bytes_per_s",
            "B/s",
            "Network bytes sent, all interfaces",
            min_change=KIB_PER_S,
        ),
        _m(
            "load1",
            "",
            f"1-minute load average ({CPUS} CPUs: warning from {LOAD_WARNING_PER_CPU:g}, "
            f"critical from {LOAD_CRITICAL_PER_CPU:g} per CPU)",
            LOAD_WARNING_PER_CPU * CPUS,
            LOAD_CRITICAL_PER_CPU * CPUS,
            min_change=0.1,
        ),
        _m("process_count", "", "Number of processes", min_change=1.0),
        _m("api_response_ms", "ms", "HTTP probe response time", 150, 200, min_change=1.0),
        _m("api_success", "", "HTTP probe succeeded (1) or failed (0)", min_change=0.5),
        _m("db_query_ms", "ms", "SQL probe query time against the store", 200, 300, min_change=1.0),
    )
}

# Metrics the local host does not produce (so the dashboard draws no empty charts for
# them), known when they arrive: pushed, or from another source.
OTHER_METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        # seed 003's pushed single reading (POST /api/samples), stored under these names
        _m("cpu_usage", "%", "CPU usage (pushed)", 80, 90, min_change=1.0),
        _m("memory_usage", "%", "Memory usage (pushed)", 85, 95, min_change=1.0),
        _m("network_latency", "ms", "Network latency (pushed)", 150, 200, min_change=1.0),
        _m("error_rate", "%", "Error rate (pushed)", 1, 5, min_change=0.1),
        # a source of other targets (Prometheus): 1 while it answers, 0 while it does not
        _m("source_up", "", "The metrics source answered (1) or failed (0)", min_change=0.5),
        _m("source_query_ms", "ms", "Time the metrics source took to answer", min_change=1.0),
    )
}

# Units of metrics outside the catalog (pushed, or read from Prometheus), from the unit
# suffix of their name: house style and Prometheus' naming both put the unit there.
# Longest suffix first.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_bytes_per_s", "B/s"),
    ("_per_second", "/s"),
    ("_per_s", "/s"),
    ("_percent", "%"),
    ("_seconds", "s"),
    ("_bytes", "B"),
    ("_ratio", ""),
    ("_ms", "ms"),
    ("_gb", "GB"),
    ("_s", "s"),
)


def metric_info(name: str) -> MetricInfo:
    """Return the catalog entry for ``name`` (a metric or a series key ``NAME@TARGET``).

    A series of another target shares its metric's entry (units and thresholds) under
    its own name. Metrics outside the catalog get their unit from their name's suffix
    (``_percent``, ``_ms``, ``_bytes``, ``_per_s``, ...), and no thresholds; a name
    without one gets a unit-less entry.
    """
    metric, _, target = name.partition("@")
    info = _metric_info(metric)
    return info if not target else replace(info, name=name)


def _metric_info(name: str) -> MetricInfo:
    if name in METRIC_CATALOG:
        return METRIC_CATALOG[name]
    if name in OTHER_METRICS:
        return OTHER_METRICS[name]
    if name.startswith("cpu_core") and name.endswith("_percent"):
        core = name[len("cpu_core") : -len("_percent")]
        return MetricInfo(name, "%", f"CPU utilisation, core {core}", 80, 90, min_change=1.0)
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return MetricInfo(name, unit, name)
    return MetricInfo(name, "", name)
