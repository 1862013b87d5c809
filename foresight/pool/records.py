"""What the simulated pool reports: instance states and sizes, snapshots, events, state.

Plain frozen records (with ``to_dict()`` for JSON) shared by the pool
(``resource_manager.ResourcePool``), the policies that read its state and the API views.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class InstanceState(str, Enum):
    """Lifecycle of one simulated instance."""

    PENDING = "pending"
    BOOTING = "booting"
    READY = "ready"
    DRAINING = "draining"
    TERMINATED = "terminated"


@dataclass(frozen=True, slots=True)
class InstanceSize:
    """An instance type: capacity in demand units and price per instance-hour (USD)."""

    name: str
    capacity_units: float
    price_per_hour: float

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "capacity_units": self.capacity_units,
            "price_per_hour": self.price_per_hour,
        }


# One "standard" instance at 100 % serves one demand unit (DESIGN.md, "Scaling model").
SIZES: dict[str, InstanceSize] = {
    s.name: s
    for s in (
        InstanceSize("standard", 1.0, 0.10),
        InstanceSize("large", 2.0, 0.20),
        InstanceSize("xlarge", 4.0, 0.40),
    )
}


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """A read-only snapshot of one instance."""

    id: int
    size: str
    state: InstanceState
    launched_s: float
    ready_at_s: float
    healthy: bool

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "size": self.size,
            "state": self.state.value,
            "launched_s": self.launched_s,
            "ready_at_s": self.ready_at_s,
            "healthy": self.healthy,
        }


@dataclass(frozen=True, slots=True)
class PoolEvent:
    """One entry of the pool's event log (launch, ready, drain, terminate, fail, ...)."""

    timestamp: float
    kind: str
    instance_id: int | None
    detail: str

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "kind": self.kind,
            "instance_id": self.instance_id,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class PoolState:
    """What the engine sees of the pool at ``timestamp`` (counts, capacity, money)."""

    timestamp: float
    ready: int
    booting: int  # pending + booting: launched, not yet serving
    draining: int
    min_instances: int
    max_instances: int
    size: InstanceSize
    cost_total: float  # USD since the pool was created
    cost_today: float  # USD since 00:00 UTC of ``timestamp``'s day
    daily_budget: float  # USD per day (COST_THRESHOLD)
    storage_gb: float
    boot_s: float

    @property
    def desired(self) -> int:
        """Instances that are serving or will serve (ready + booting)."""
        return self.ready + self.booting

    @property
    def ready_capacity(self) -> float:
        """Demand units the ready instances serve at 100 % utilisation."""
        return self.ready * self.size.capacity_units

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "ready": self.ready,
            "booting": self.booting,
            "draining": self.draining,
            "desired": self.desired,
            "min_instances": self.min_instances,
            "max_instances": self.max_instances,
            "size": self.size.to_dict(),
            "cost_total": round(self.cost_total, 6),
            "cost_today": round(self.cost_today, 6),
            "daily_budget": self.daily_budget,
            "storage_gb": self.storage_gb,
            "boot_s": self.boot_s,
        }
