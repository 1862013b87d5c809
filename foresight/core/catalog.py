"""The metric catalog: each metric's unit, description and warning/critical levels."""

from __future__ import annotations

import os
from collections.abc import Mapping
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
MIB = 1024.0**2  # memory and filesystem bytes: a change under 1 MiB is noise

# Minimum meaningful changes: 1 point for a percentage, 1 ms for a latency, 1 for a
# count, 1 GB of disk, 0.1 of load, 1 KiB/s of a byte rate, half of a 0/1 flag.
# Seed thresholds from the user's brief: CPU 80/90 %, disk 80/90 %, API 150/200 ms,
# DB 200/300 ms. Per-core CPU metrics (cpu_core<N>_percent) are added at run time.
# Load is judged per logical CPU, as Glances does (careful 0.7, warning 1.0, critical 5.0
# per CPU): 4.74 is critical on one CPU and fine on eight.
LOAD_WARNING_PER_CPU = 1.0
LOAD_CRITICAL_PER_CPU = 5.0
CPUS = os.cpu_count() or 1  # this host's: the local target's load levels
# Metrics judged per logical CPU: another target's levels need that target's CPU count
# (its ``CPU_COUNT_METRIC`` series), never this host's.
PER_CPU_METRICS = ("load1",)
CPU_COUNT_METRIC = "cpu_count"
# Connections to one port: gunicorn's default worker_connections (1000) as critical.
CONNECTIONS_WARNING = 800.0
CONNECTIONS_CRITICAL = 1000.0
METRIC_CATALOG: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _m("cpu_percent", "%", "CPU utilisation, all cores", 80, 90, min_change=1.0),
        _m("memory_percent", "%", "Physical memory in use", 85, 95, min_change=1.0),
        _m("swap_percent", "%", "Swap in use", 50, 80, min_change=1.0),
        _m("memory_used_bytes", "B", "Memory used by processes", min_change=MIB),
        _m("memory_cached_bytes", "B", "Page cache (freed on demand)", min_change=MIB),
        _m("memory_buffers_bytes", "B", "Kernel buffers", min_change=MIB),
        _m(
            "memory_available_bytes",
            "B",
            "Memory available to new work without swapping",
            min_change=MIB,
        ),
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
            min_change=0.5,  # half a runnable task on average: less is noise
        ),
        _m("process_count", "", "Number of processes", min_change=1.0),
        _m("api_response_ms", "ms", "HTTP probe response time", 150, 200, min_change=1.0),
        _m("api_success", "", "HTTP probe succeeded (1) or failed (0)", min_change=0.5),
        _m("db_query_ms", "ms", "SQL probe query time against the store", 200, 300, min_change=1.0),
        # seed 001's application metrics
        _m(
            "db_probe_ms",
            "ms",
            "SELECT 1 round trip to the user's database (FORESIGHT_DB_PROBE_URL)",
            200,
            300,
            min_change=1.0,
        ),
        _m("db_probe_success", "", "DB probe succeeded (1) or failed (0)", min_change=0.5),
        _m(
            "active_connections",
            "",
            "TCP connections to the configured port, any state but LISTEN (the monitor's own "
            "HTTP probe not counted)",
            CONNECTIONS_WARNING,
            CONNECTIONS_CRITICAL,
            min_change=1.0,
        ),
        _m("connections_established", "", "ESTABLISHED connections to the port", min_change=1.0),
        _m("connections_time_wait", "", "TIME_WAIT connections on the port", min_change=1.0),
        _m("connections_close_wait", "", "CLOSE_WAIT connections on the port", min_change=1.0),
        _m("connections_other", "", "Connections on the port in other states", min_change=1.0),
        _m(
            "load_score_percent",
            "%",
            "Load score: weighted mix of CPU, memory and connections against their critical "
            "levels (README)",
            70,
            90,
            min_change=1.0,
        ),
        # seed 000's SQL table (monitor --source sql): metric names carry the units
        _m(
            "server_load_percent",
            "%",
            "Server load (SQL table column server_load)",
            80,
            90,
            min_change=1.0,
        ),
        _m(
            "db_performance_ms",
            "ms",
            "Database query time (SQL table column db_performance)",
            200,
            300,
            min_change=1.0,
        ),
        _m(
            "api_response_time_ms",
            "ms",
            "API response time (SQL table column api_response_time)",
            150,
            200,
            min_change=1.0,
        ),
        _m(
            "storage_capacity_percent",
            "%",
            "Storage capacity used (SQL table column storage_capacity)",
            80,
            90,
            min_change=1.0,
        ),
    )
}

# Seed 000's SQL table: metric (with its unit, in the catalog above) -> column; the SQL
# source's default mapping (monitor --source sql).
SEED_000_COLUMNS: Mapping[str, str] = {
    "server_load_percent": "server_load",
    "db_performance_ms": "db_performance",
    "api_response_time_ms": "api_response_time",
    "storage_capacity_percent": "storage_capacity",
}

# Metrics that exist only when their probe or source is set up: the API lists them once
# they were seen or stored, not before (no empty charts for a probe that is off).
OPTIONAL_METRICS = frozenset(
    {
        "db_probe_ms",
        "db_probe_success",
        "active_connections",
        "connections_established",
        "connections_time_wait",
        "connections_close_wait",
        "connections_other",
        "load_score_percent",
        "server_load_percent",
        "db_performance_ms",
        "api_response_time_ms",
        "storage_capacity_percent",
    }
)

# psutil's TCP states (its CONN_* strings) with a metric of their own.
CONNECTION_STATES: Mapping[str, str] = {
    "ESTABLISHED": "connections_established",
    "TIME_WAIT": "connections_time_wait",
    "CLOSE_WAIT": "connections_close_wait",
}
# The load score's inputs and weights; each input counts as value / its critical level,
# capped at 1, so the score is 100 when every input is at or past its critical level.
LOAD_SCORE_WEIGHTS: Mapping[str, float] = {
    "cpu_percent": 0.5,
    "memory_percent": 0.3,
    "active_connections": 0.2,
}


def load_score_percent(values: Mapping[str, float]) -> float | None:
    """Seed 001's load score, 0–100: ``100 × Σ wᵢ·min(1, xᵢ/criticalᵢ) / Σ wᵢ``.

    The sum runs over the inputs of ``LOAD_SCORE_WEIGHTS`` present in ``values`` (CPU
    is missing on the first tick, connections when no port is counted); None without
    CPU, so the score never stands for memory alone.
    """
    if "cpu_percent" not in values:
        return None
    total = weights = 0.0
    for name, weight in LOAD_SCORE_WEIGHTS.items():
        critical = METRIC_CATALOG[name].critical
        if name in values and critical:
            total += weight * min(1.0, max(0.0, values[name]) / critical)
            weights += weight
    return round(100.0 * total / weights, 2)


# Per-device metrics are named "<base>:<device>" (foresight.host.system): the base
# gives the unit and levels, the description names the device. Not in METRIC_CATALOG,
# whose names the API lists even before they have data.
DEVICE_SEP = ":"
DEVICE_CATALOG: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _m("disk_read_bytes_per_s", "B/s", "Disk read throughput of {}", min_change=KIB_PER_S),
        _m("disk_write_bytes_per_s", "B/s", "Disk write throughput of {}", min_change=KIB_PER_S),
        _m("net_recv_bytes_per_s", "B/s", "Network bytes received on {}", min_change=KIB_PER_S),
        _m("net_sent_bytes_per_s", "B/s", "Network bytes sent on {}", min_change=KIB_PER_S),
        _m("fs_used_percent", "%", "Space used on the filesystem at {}", 80, 90, min_change=1.0),
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
        # another target's logical CPUs (a Prometheus query or a pushed sample named so):
        # its load levels are per CPU
        _m(
            CPU_COUNT_METRIC,
            "",
            "Logical CPUs of the target (its load thresholds are per CPU)",
            min_change=1.0,
        ),
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


def metric_info(name: str, cpus: int | None = None) -> MetricInfo:
    """Return the catalog entry for ``name`` (a metric or a series key ``NAME@TARGET``).

    A series of another target shares its metric's entry (units and thresholds) under
    its own name, except the per-CPU metrics (``PER_CPU_METRICS``: load): their levels
    are per CPU times ``cpus``, the target's CPU count, and without it there are none
    (this host's count would be wrong for a 16-CPU server). The local host's use this
    host's count. Metrics outside the catalog get their unit from their name's suffix
    (``_percent``, ``_ms``, ``_bytes``, ``_per_s``, ...), and no thresholds; a name
    without one gets a unit-less entry.
    """
    metric, _, target = name.partition("@")
    info = _metric_info(metric)
    if not target:
        return info
    if metric in PER_CPU_METRICS:
        return per_cpu_info(info, name, cpus)
    return replace(info, name=name)


def per_cpu_info(info: MetricInfo, name: str, cpus: int | None) -> MetricInfo:
    """A load metric's entry for a target with ``cpus`` logical CPUs (None: unknown)."""
    if cpus is None or cpus < 1:
        return replace(
            info,
            name=name,
            description=(
                "1-minute load average (this target's CPU count is unknown, so it has no "
                f"per-CPU thresholds: send a {CPU_COUNT_METRIC} series for it)"
            ),
            warning=None,
            critical=None,
        )
    return replace(
        info,
        name=name,
        description=(
            f"1-minute load average ({cpus} CPUs: warning from {LOAD_WARNING_PER_CPU:g}, "
            f"critical from {LOAD_CRITICAL_PER_CPU:g} per CPU)"
        ),
        warning=LOAD_WARNING_PER_CPU * cpus,
        critical=LOAD_CRITICAL_PER_CPU * cpus,
    )


def _metric_info(name: str) -> MetricInfo:
    if name in METRIC_CATALOG:
        return METRIC_CATALOG[name]
    base, sep, device = name.partition(DEVICE_SEP)
    if sep and device and base in DEVICE_CATALOG:
        m = DEVICE_CATALOG[base]
        return MetricInfo(
            name, m.unit, m.description.format(device), m.warning, m.critical, m.min_change
        )
    if name in OTHER_METRICS:
        return OTHER_METRICS[name]
    if name.startswith("cpu_core") and name.endswith("_percent"):
        core = name[len("cpu_core") : -len("_percent")]
        return MetricInfo(name, "%", f"CPU utilisation, core {core}", 80, 90, min_change=1.0)
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return MetricInfo(name, unit, name)
    return MetricInfo(name, "", name)
