"""This host's CPU and memory use as scaling demand, counted the HPA way.

Utilisation is taken against the instances' requests: the pool's CPU utilisation is host
CPU in use / (ready x ``instance_cores``), so demand (utilisation x ready instances) =
host cores in use / request. A one-core stress test is therefore one unit of demand on
any host, and the pool settles instead of running away to max. Memory is the same
against ``instance_memory_gb`` (by default this host's memory per core x the instance's
cores, so a host whose memory is as full as its CPU is busy asks for as many instances
on both). As in the HPA the higher signal drives (``foresight.scaling.signals``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from foresight.core.errors import InputError
from foresight.scaling.signals import SIGNAL_NAMES
from metrics_collector import memory_total_gb

# The sample's metric behind each signal (percent of the host's total, 0-100).
SIGNAL_METRICS = {"cpu": "cpu_percent", "memory": "memory_percent"}


class HostDemand:
    """Accumulate the host's CPU and memory percent; hand out demand units per interval.

    ``host_cores`` and ``host_memory_gb`` default to this host's (``os.cpu_count()``, the
    physical memory in GB); ``instance_cores`` and ``instance_memory_gb`` are one
    instance's requests. ``signals`` names the resources that count (some of
    ``SIGNAL_NAMES``).
    """

    def __init__(
        self,
        *,
        signals: tuple[str, ...] = SIGNAL_NAMES,
        instance_cores: float = 1.0,
        host_cores: int | None = None,
        instance_memory_gb: float | None = None,
        host_memory_gb: float | None = None,
    ) -> None:
        if not instance_cores > 0:
            raise InputError(f"SCALING_INSTANCE_CORES must be > 0 (got {instance_cores})")
        # cpu_percent is over all cores: this many request-sized instances fit the host.
        self.instance_cores = float(instance_cores)
        self.host_cores = int(host_cores or os.cpu_count() or 1)
        unknown = set(signals) - set(SIGNAL_NAMES)
        if unknown or not signals:
            raise InputError(
                f"SCALING_SIGNALS must name some of {', '.join(SIGNAL_NAMES)} (got {signals!r})"
            )
        self.signals = tuple(signals)
        self.host_memory_gb = float(host_memory_gb or memory_total_gb())
        self.instance_memory_gb = float(
            instance_memory_gb or self.host_memory_gb / self.host_cores * self.instance_cores
        )
        if not self.instance_memory_gb > 0:
            raise InputError(
                f"SCALING_INSTANCE_MEMORY_GB must be > 0 (got {self.instance_memory_gb})"
            )
        self._sums = {name: [0.0, 0] for name in SIGNAL_NAMES}  # sum, count

    def per_instance(self) -> dict[str, float]:
        """Demand units of each resource when the host is 100 % used."""
        return {
            "cpu": self.host_cores / self.instance_cores,
            "memory": self.host_memory_gb / self.instance_memory_gb,
        }

    def bound_by(self) -> str:
        """The counted resource (``signals``) whose whole use is the most demand.

        A resource that is not a signal never bounds it: with ``SCALING_SIGNALS=memory``
        the demand is never more than the host's whole memory, whatever its CPU allows.
        """
        full = self.per_instance()
        return max(self.signals, key=lambda name: (full[name], name == "cpu"))

    def peak_units(self) -> float:
        """The most demand this host can ever report: its counted resources' largest."""
        return self.per_instance()[self.bound_by()]

    def add(self, values: Mapping[str, float]) -> None:
        """Count one sample's ``cpu_percent`` and ``memory_percent`` (others ignored)."""
        for name, metric in SIGNAL_METRICS.items():
            value = values.get(metric)
            if value is not None and math.isfinite(value):
                acc = self._sums[name]
                acc[0] += float(value)
                acc[1] += 1

    def take(self) -> dict[str, float]:
        """Demand per signal since the last call (units; NaN when not measured); reset."""
        mean = {k: (s / n / 100.0 if n else math.nan) for k, (s, n) in self._sums.items()}
        self._sums = {name: [0.0, 0] for name in SIGNAL_NAMES}
        # = utilisation (used / (ready x request)) x ready instances, for each resource.
        per_instance = self.per_instance()
        return {name: mean[name] * per_instance[name] for name in self.signals}
