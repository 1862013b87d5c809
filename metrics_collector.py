"""Sources of samples (psutil, HTTP probe, SQL probes, connections) and the sampling job.

The probes (the HTTP request, the connection counts) live in ``foresight.host.probes``
and the sampling job with its tick statistics in ``foresight.host.ticks``; their public
names are importable from here as before.

Every psutil call in Foresight lives in this module or in ``foresight.host`` (the
memory split, per-device counters and filesystems, the top processes, the connection
counts). Rates come from
counter deltas between ticks: the first tick only primes them, and a counter that goes backwards
(reboot, interface reset, wrap) re-primes instead of producing a negative rate.
CPU utilisation is computed from ``cpu_times`` deltas kept here rather than from
``psutil.cpu_percent(interval=None)``, whose process-global baseline any other caller
(e.g. the verification endpoint) would silently reset.

Active connections (``foresight.host.probes.connection_counts``) are read every
``connections_every_s`` and the last counts repeated in between.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

import psutil

from foresight.core.catalog import load_score_percent
from foresight.host.probes import LOOPBACK_HOSTS, HttpProbe, connection_counts
from foresight.host.processes import ProcessSampler
from foresight.host.system import (
    DeviceSampler,
    is_slow_metric,
    memory_totals,
    memory_values,
    rate_name,
)
from foresight.host.ticks import (
    PROCESSES_JOB_ID,
    SAMPLE_JOB_ID,
    TickStats,
    make_scheduler,
    schedule_processes,
    schedule_sampling,
)
from foresight.store.metric_store import MetricStore

if TYPE_CHECKING:
    from foresight.core.sql_engine import DbProbe

logger = logging.getLogger(__name__)

__all__ = [  # the names moved to foresight.host.probes and .ticks are re-exported
    "LOOPBACK_HOSTS",
    "PROCESSES_JOB_ID",
    "SAMPLE_JOB_ID",
    "Collector",
    "HttpProbe",
    "MetricsCollector",
    "Sample",
    "TickStats",
    "connection_counts",
    "cpu_count",
    "fresh_reading",
    "host_facts",
    "make_scheduler",
    "memory_total_gb",
    "schedule_processes",
    "schedule_sampling",
]
# The per-device series (memory split, filesystem space, per-disk and per-interface rates,
# averaged over the beat) come every 5 s: every stored series costs the anomaly scorer,
# the alert rules and the store on each sample, and the totals stay per tick.
SLOW_EVERY_S = 5.0
# The HTTP probe of the monitor's own health endpoint (the default probe) is timed this
# often: each one costs the monitor both ends of the request (the client, and waitress and
# Flask answering it), about a sixth of the whole monitor when it ran every tick. A user's
# own FORESIGHT_PROBE_URL is still timed every tick (only the client side is ours).
SELF_PROBE_EVERY_S = 5.0
VALUE_DECIMALS = 4  # values are rounded to this many decimals, timestamps to 1 ms


@dataclass(frozen=True, slots=True)
class Sample:
    """One collector tick: epoch-seconds timestamp and ``{metric: value}`` in catalog units.

    ``held``: the newest reading of a source on a slower beat than the tick that was not
    read this tick (the HTTP probe every ``probe_every_s``; the memory split and the
    per-device values every ``SLOW_EVERY_S``), as Prometheus' rules read a series' last
    scrape: never stored, charted or scored again, only for what judges the current state
    each tick (alert rules, the failure-risk model, ``current`` values). ``held_at``: when
    each held reading was taken.
    """

    timestamp: float
    values: Mapping[str, float]
    stored: bool = True  # False: the store write failed; the sample is only in memory
    held: Mapping[str, float] = field(default_factory=dict)
    held_at: Mapping[str, float] = field(default_factory=dict)  # {metric: epoch s}

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        object.__setattr__(self, "held", MappingProxyType(dict(self.held)))
        object.__setattr__(self, "held_at", MappingProxyType(dict(self.held_at)))

    def current(self) -> dict[str, float]:
        """The values with the held readings under them: each metric's newest reading."""
        return {**self.held, **self.values} if self.held else dict(self.values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"timestamp": self.timestamp, "values": dict(self.values)}
        if not self.stored:  # only then, so the usual payload stays as it was
            out["stored"] = False
        return out


class Collector(Protocol):
    """What the live cycle needs of a source: this host's collector or ``foresight.sources``.

    ``prime()`` once before the first tick; ``collect(now)`` once per tick returns the
    tick's sample (empty: nothing new), whose keys are series keys
    (``foresight.core.series``: ``NAME@TARGET`` for other targets); ``take_backlog()``
    the older samples read with it, oldest first, for the cycle to store; ``problems(now)``
    why readings are missing (health's reasons); ``counters`` raw byte counters for
    ``/metrics``.
    """

    counters: dict[str, float]

    def prime(self) -> None: ...

    def collect(self, now: float) -> Sample: ...

    def take_backlog(self) -> list[Sample]: ...

    def problems(self, now: float) -> list[str]: ...

    def close(self) -> None: ...


def _clamp_percent(value: float) -> float:
    return min(100.0, max(0.0, float(value)))


def _busy_idle(times: Any) -> tuple[float, float]:
    """Return (total, idle) seconds of one ``cpu_times`` record, psutil's way."""
    fields = times._asdict()
    total = sum(fields.values())
    # On Linux guest time is already counted in user/nice.
    total -= fields.get("guest", 0.0) + fields.get("guest_nice", 0.0)
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    return total, idle


def _rates(
    counters: dict[str, float], previous: dict[str, float], then: float | None, now: float
) -> dict[str, float]:
    """Per-second rates of the byte counters since ``then`` (a counter that went
    backwards is skipped: it re-primes)."""
    if then is None or now <= then:
        return {}
    return {
        rate_name(name): (value - previous[name]) / (now - then)
        for name, value in counters.items()
        if name in previous and value >= previous[name]
    }


def existing_dir(path: Path) -> Path:
    """The nearest existing directory at or above ``path`` (for ``disk_usage``)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class MetricsCollector:
    """Read this host and the probes; ``collect(now)`` returns one ``Sample``.

    ``probe_url`` None skips the HTTP probe; ``store`` None skips the SQL probe.
    """

    def __init__(
        self,
        data_dir: Path,
        probe_url: str | None,
        store: MetricStore | None = None,
        *,
        probe_timeout_s: float = 1.0,
        db_probe_url: str | None = None,
        connections_port: int | None = None,
        connections_every_s: float = 30.0,
        probe_every_s: float = 0.0,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.probe_url = probe_url
        self.store = store
        self.probe_timeout_s = probe_timeout_s
        self.db_probe: DbProbe | None = None
        if db_probe_url is not None:  # SQLAlchemy is imported only when it is needed
            from foresight.core.sql_engine import DbProbe

            self.db_probe = DbProbe(db_probe_url, probe_timeout_s)
        self.connections_port = connections_port or None  # 0 or None: not counted
        self.connections_every_s = connections_every_s
        self._connections: tuple[float, dict[str, float]] | None = None  # (read at, counts)
        self._probe: HttpProbe | None = None  # built for probe_url on the first tick
        self.probe_every_s = probe_every_s  # 0 (or at most the interval): every tick
        self._probe_at: float | None = None  # when the HTTP probe last ran ...
        self._probe_values: dict[str, float] = {}  # ... and what it read (held in between)
        self._probe_values_at: float | None = None
        self._cpu_times: list[tuple[float, float]] | None = None
        self._counters: dict[str, float] = {}
        self._counters_at: float | None = None
        self._lock = threading.Lock()  # collect() from the scheduler and from tests/CLI
        self.counters: dict[str, float] = {}  # latest raw byte totals (for /metrics)
        self.devices = DeviceSampler()  # per-disk, per-interface, per-filesystem
        self.processes = ProcessSampler()  # top processes, on their own slower job
        self._slow_at: float | None = None  # last tick with the slowly-changing values
        self.slow_values: dict[str, float] = {}  # ... and those values (for /api/devices)
        self._device_counters: dict[str, float] = {}  # per-device counters at _device_at
        self._device_at: float | None = None

    # -- psutil sources --------------------------------------------------------------
    def prime(self) -> None:
        """Take the first CPU and counter readings so the next ``collect`` has rates."""
        with self._lock:
            self._cpu_sample()
            self._counter_rates(time.time())

    def _cpu_sample(self) -> dict[str, float]:
        per_core = [_busy_idle(t) for t in psutil.cpu_times(percpu=True)]
        previous, self._cpu_times = self._cpu_times, per_core
        if previous is None or len(previous) != len(per_core):
            return {}
        out: dict[str, float] = {}
        busy_sum = total_sum = 0.0
        for core, ((total, idle), (total0, idle0)) in enumerate(
            zip(per_core, previous, strict=False)
        ):
            d_total, d_idle = total - total0, idle - idle0
            if d_total < 0 or d_idle < 0:  # counters went backwards: re-prime
                return {}
            busy_sum += max(d_total - d_idle, 0.0)
            total_sum += d_total
            out[f"cpu_core{core}_percent"] = (
                _clamp_percent(100.0 * (d_total - d_idle) / d_total) if d_total > 0 else 0.0
            )
        out["cpu_percent"] = _clamp_percent(100.0 * busy_sum / total_sum) if total_sum > 0 else 0.0
        return out

    def _counter_rates(self, now: float, slow: bool = True) -> dict[str, float]:
        # Totals every tick; per-device rates on the slow beat, averaged over it (each
        # series costs the scorer, alerts and store per sample). Network totals leave
        # loopback out (issue 12).
        counters = self.devices.counters(now)
        totals = {k: v for k, v in counters.items() if ":" not in k}
        self.counters = totals
        rates = _rates(totals, self._counters, self._counters_at, now)
        self._counters, self._counters_at = totals, now
        if slow:
            per_device = {k: v for k, v in counters.items() if ":" in k}
            rates.update(_rates(per_device, self._device_counters, self._device_at, now))
            self._device_counters, self._device_at = per_device, now
        return rates

    def _slow_due(self, now: float) -> bool:
        """Whether the slowly-changing values are due at ``now`` (every SLOW_EVERY_S)."""
        last = self._slow_at
        if last is None or now < last or now - last >= SLOW_EVERY_S - 1e-3:
            self._slow_at = now
            return True
        return False

    def _host(self, now: float, slow: bool) -> dict[str, float]:
        out: dict[str, float] = {}
        memory = psutil.virtual_memory()
        out["memory_percent"] = _clamp_percent(memory.percent)
        if slow:  # used / cached / buffers / available bytes
            out.update(memory_values(memory))
        out["swap_percent"] = _clamp_percent(psutil.swap_memory().percent)
        usage = psutil.disk_usage(str(existing_dir(self.data_dir)))
        out["disk_percent"] = _clamp_percent(usage.percent)
        out["disk_used_gb"] = usage.used / 1e9
        out["load1"] = float(psutil.getloadavg()[0])
        out["process_count"] = float(len(psutil.pids()))
        if slow:
            out.update(self.devices.filesystem_values(now))  # fs_used_percent:<mount>
        return out

    # -- application probes ------------------------------------------------------------
    def _probe_due(self, now: float) -> bool:
        """Whether the HTTP probe runs at ``now`` (every ``probe_every_s``; a changed URL
        or a clock that went back runs it at once)."""
        last = self._probe_at
        due = (
            last is None
            or self._probe is None
            or self._probe.url != self.probe_url
            or now < last
            or now - last >= self.probe_every_s - 1e-3
        )
        if due:
            self._probe_at = now
        return due

    def _http_probe(self, now: float) -> tuple[dict[str, float], dict[str, float]]:
        """(this tick's probe reading, the held one): one of them is empty."""
        url = self.probe_url
        if not url:
            return {}, {}
        if not self._probe_due(now):
            return {}, self._probe_values
        self._probe_values, self._probe_values_at = self._read_probe(url), now
        return self._probe_values, {}

    def _read_probe(self, url: str) -> dict[str, float]:
        probe = self._probe
        if probe is None or probe.url != url:  # monitor.py sets it after binding
            if probe is not None:
                probe.close()
            probe = self._probe = HttpProbe(url, self.probe_timeout_s)
        return probe.read()

    def _sql_probe(self, now: float) -> dict[str, float]:
        if self.store is None:
            return {}
        started = time.perf_counter()
        try:
            self.store.probe(now)
        except (sqlite3.Error, OSError) as exc:  # the store's fault is reported by the cycle
            logger.debug("SQL probe of %s failed: %s", self.store.path, exc)
            return {}  # no answer: no latency to report
        return {"db_query_ms": (time.perf_counter() - started) * 1000.0}

    def _connection_counts(self, now: float) -> dict[str, float]:
        if self.connections_port is None:
            return {}
        last = self._connections
        if last is None or not 0 <= now - last[0] < self.connections_every_s:
            own_port = None if self._probe is None else self._probe.local_port
            own = () if own_port is None else (own_port,)
            last = self._connections = (now, connection_counts(self.connections_port, own))
        return dict(last[1])

    def take_backlog(self) -> list[Sample]:
        """Nothing: every reading of this host is the tick's own."""
        return []

    def problems(self, now: float) -> list[str]:
        """Why a probe gives no reading (the HTTP probe's failures are its metric)."""
        return [] if self.db_probe is None else self.db_probe.problems(now)

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
        if self.db_probe is not None:
            self.db_probe.close()

    def collect(self, now: float) -> Sample:
        """Read every source once; the timestamp is ``now`` (epoch seconds, to 1 ms)."""
        with self._lock:
            if self._cpu_times is None:
                self._cpu_sample()  # first tick primes: no CPU values yet
                values: dict[str, float] = {}
            else:
                values = self._cpu_sample()
            slow = self._slow_due(now)
            values.update(self._host(now, slow))
            values.update(self._counter_rates(now, slow))
            if slow:  # what the slow beat stored (/api/devices lists it between beats)
                self.slow_values = {k: v for k, v in values.items() if is_slow_metric(k)}
            # ... and held in between, read at the last beat (_slow_at)
            held = {} if slow else {k: v for k, v in self.slow_values.items() if k not in values}
            held_at: dict[str, float | None] = dict.fromkeys(held, self._slow_at)
        probed, probe_held = self._http_probe(now)
        held.update(probe_held)
        held_at.update(dict.fromkeys(probe_held, self._probe_values_at))
        values.update(probed)
        values.update(self._sql_probe(now))
        if self.db_probe is not None:
            values.update(self.db_probe.read(now))
        values.update(self._connection_counts(now))
        score = load_score_percent(values)
        if score is not None:
            values["load_score_percent"] = score
        # Rounded well below measurement noise: shorter JSON on every API response.
        return Sample(
            round(now, 3),
            {k: round(v, VALUE_DECIMALS) for k, v in values.items() if math.isfinite(v)},
            held={k: round(v, VALUE_DECIMALS) for k, v in held.items() if math.isfinite(v)},
            held_at={k: round(t, 3) for k, t in held_at.items() if t is not None},
        )


def fresh_reading() -> dict[str, float]:
    """A reading taken now, independent of the collector (for /api/verification).

    CPU is measured over a 0.1 s window with its own baseline.
    """
    return {
        "cpu_percent": _clamp_percent(psutil.cpu_percent(interval=0.1)),
        "memory_percent": _clamp_percent(psutil.virtual_memory().percent),
        "swap_percent": _clamp_percent(psutil.swap_memory().percent),
        "load1": float(psutil.getloadavg()[0]),
        "process_count": float(len(psutil.pids())),
    }


def host_facts() -> dict[str, Any]:
    """Facts about this host and process, for the dashboard and the health endpoint."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": psutil.cpu_count(logical=True) or os.cpu_count() or 1,
        "boot_time": psutil.boot_time(),
        "python": sys.version.split()[0],
        "psutil_version": psutil.__version__,
        "pid": os.getpid(),
        **memory_totals(),  # memory_total_bytes, swap_total_bytes
    }


def memory_total_gb() -> float:
    """This host's physical memory in GB (10**9 bytes)."""
    return psutil.virtual_memory().total / 1e9


def cpu_count() -> int:
    """Logical CPUs on this host (at least 1)."""
    return psutil.cpu_count(logical=True) or os.cpu_count() or 1
