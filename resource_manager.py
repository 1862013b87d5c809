"""The simulated resource pool the scaling engine drives, and its default executor.

Instances move ``pending -> booting -> ready -> draining -> terminated``. Only *ready*
instances serve demand; every instance that is not terminated is billed (cloud
providers bill from launch, not from readiness). Time is passed in as ``now`` (epoch
seconds); the pool never reads a clock, so replay, the demo and the live monitor share
one code path. A real platform plugs in through an ``Executor``
(``foresight.pool.execution``): the simulated pool is the default;
``foresight.scaling.webhook.WebhookExecutor`` POSTs the desired count to a URL. What the
pool reports (states, sizes, snapshots, events) is in ``foresight.pool.records``.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from foresight.core.errors import InputError
from foresight.pool.execution import ExecutionResult, Executor
from foresight.pool.records import (
    SIZES,
    InstanceInfo,
    InstanceSize,
    InstanceState,
    PoolEvent,
    PoolState,
)

logger = logging.getLogger(__name__)

# The executor interface is part of this module's contract (DESIGN.md's file table): a
# platform integration imports it from here.
__all__ = [
    "DAY_S",
    "DEFAULT_DAILY_BUDGET",
    "DEFAULT_MAX_INSTANCES",
    "SIZES",
    "ExecutionResult",
    "Executor",
    "InstanceInfo",
    "InstanceSize",
    "InstanceState",
    "PoolEvent",
    "PoolState",
    "ResourcePool",
    "SimulatedExecutor",
]

DAY_S = 86_400.0
DEFAULT_BOOT_S = 300.0
DEFAULT_PENDING_S = 30.0  # part of the boot lag spent waiting for a host
DEFAULT_DRAIN_S = 60.0  # connection draining before an instance stops
DEFAULT_STORAGE_GB = 100.0
SAVED_EVENTS = 50  # the newest pool events a snapshot keeps for a restart (the API's 50)


@dataclass(slots=True)
class _Instance:
    """Mutable bookkeeping for one instance (internal; see InstanceInfo for output)."""

    id: int
    size: InstanceSize
    state: InstanceState
    launched_s: float
    booting_at_s: float
    ready_at_s: float
    end_s: float = float("inf")  # billing stops here (end of draining / failure)
    healthy: bool = True


DEFAULT_MAX_INSTANCES = 10  # MAX_INSTANCES's default (Settings)
DEFAULT_DAILY_BUDGET = 25.0  # COST_THRESHOLD's default: USD/day, above 10 x $0.10 x 24 h


class ResourcePool:
    """A simulated pool of instances with boot lag, draining, health checks and cost.

    ``boot_s`` is the time from launch to ready (``pending_s`` of it pending, the rest
    booting); ``drain_s`` is how long a removed ready instance keeps billing while it
    drains. ``initial`` instances start ready at ``start_s``. Call :meth:`tick` with a
    non-decreasing ``now`` to advance the lifecycle and the bill.
    """

    def __init__(
        self,
        *,
        start_s: float,
        min_instances: int = 1,
        max_instances: int | None = None,
        initial: int | None = None,
        boot_s: float = DEFAULT_BOOT_S,
        pending_s: float = DEFAULT_PENDING_S,
        drain_s: float = DEFAULT_DRAIN_S,
        size: str = "standard",
        daily_budget: float | None = None,
        storage_gb: float = DEFAULT_STORAGE_GB,
        max_events: int = 10_000,
    ) -> None:
        max_instances = DEFAULT_MAX_INSTANCES if max_instances is None else max_instances
        if min_instances < 0:
            raise InputError(f"min instances must be >= 0 (got {min_instances})")
        if max_instances < max(1, min_instances):
            raise InputError(
                f"max instances must be >= max(1, min instances) "
                f"(got max {max_instances}, min {min_instances})"
            )
        if not boot_s >= 0 or not drain_s >= 0:
            raise InputError(f"boot and drain times must be >= 0 s (got {boot_s}, {drain_s})")
        if size not in SIZES:
            raise InputError(f"unknown instance size {size!r} (known: {', '.join(SIZES)})")
        self.min_instances = int(min_instances)
        self.max_instances = int(max_instances)
        self.boot_s = float(boot_s)
        self.pending_s = min(float(pending_s), self.boot_s)
        self.drain_s = float(drain_s)
        self.size = SIZES[size]
        self.daily_budget = DEFAULT_DAILY_BUDGET if daily_budget is None else daily_budget
        self.storage_gb = float(storage_gb)
        self.events: deque[PoolEvent] = deque(maxlen=max_events)
        self._ids = itertools.count(1)
        self.last_id = 0  # the highest instance id given (a restart continues after it)
        self._live: list[_Instance] = []
        self._last_s = float(start_s)
        self._day = int(start_s // DAY_S)
        self.cost_total = 0.0
        self._cost_at_day_start = 0.0
        self.instance_seconds = 0.0
        count = self.min_instances if initial is None else int(initial)
        for _ in range(min(max(count, self.min_instances), self.max_instances)):
            inst = self._launch(start_s, "initial capacity")
            inst.state, inst.booting_at_s, inst.ready_at_s = (InstanceState.READY, start_s, start_s)

    # ---- lifecycle -------------------------------------------------------------------
    def _launch(self, now: float, reason: str) -> _Instance:
        inst = _Instance(
            next(self._ids),
            self.size,
            InstanceState.PENDING,
            now,
            now + self.pending_s,
            now + self.boot_s,
        )
        self.last_id = max(self.last_id, inst.id)
        self._live.append(inst)
        self.events.append(PoolEvent(now, "launch", inst.id, reason))
        return inst

    def _end(self, inst: _Instance, now: float, end_s: float, kind: str, detail: str) -> None:
        """Stop ``inst`` billing at ``end_s``: draining until then, or terminated now."""
        inst.end_s = end_s
        inst.state = InstanceState.DRAINING if end_s > now else InstanceState.TERMINATED
        self.events.append(PoolEvent(now, kind, inst.id, detail))

    def tick(self, now: float) -> None:
        """Advance instance states and the bill to ``now`` (epoch s), and run health checks."""
        if now < self._last_s:
            raise ValueError(f"time went backwards: {now} < {self._last_s}")
        last = self._last_s
        day = int(now // DAY_S)
        midnight = day * DAY_S
        since_midnight = 0.0  # USD of this tick's bill after 00:00 UTC of ``now``'s day
        keep: list[_Instance] = []
        for inst in self._live:
            # Bill the overlap of [launched, end) with [last, now).
            billed = min(now, inst.end_s) - max(last, inst.launched_s)
            if billed > 0:
                self.cost_total += billed / 3600.0 * inst.size.price_per_hour
                self.instance_seconds += billed
                today = min(now, inst.end_s) - max(last, inst.launched_s, midnight)
                since_midnight += max(0.0, today) / 3600.0 * inst.size.price_per_hour
            if inst.end_s <= now:
                if inst.state is not InstanceState.TERMINATED:
                    inst.state = InstanceState.TERMINATED
                    self.events.append(PoolEvent(inst.end_s, "terminated", inst.id, ""))
                continue
            if inst.state is InstanceState.PENDING and now >= inst.booting_at_s:
                inst.state = InstanceState.BOOTING
            if inst.state is InstanceState.BOOTING and now >= inst.ready_at_s:
                inst.state = InstanceState.READY
                self.events.append(PoolEvent(inst.ready_at_s, "ready", inst.id, ""))
            keep.append(inst)
        self._live = keep
        self._last_s = now
        if day != self._day:  # a tick across midnight: only its part after it is today's
            self._day, self._cost_at_day_start = day, self.cost_total - since_midnight
        self._health_check(now)

    def _health_check(self, now: float) -> None:
        """Replace every failed instance: stop billing it now and launch a successor.

        A draining instance was already on its way out: it ends, and nothing replaces it
        (a successor would leave the pool above the count the engine asked for).
        """
        for inst in [i for i in self._live if not i.healthy and i.end_s > now]:
            if inst.state is InstanceState.DRAINING:
                self._end(inst, now, now, "failed", "health check failed while draining")
                continue
            self._end(inst, now, now, "failed", "health check failed; replacing")
            self._launch(now, f"replacement for instance {inst.id}")
        self._live = [i for i in self._live if i.end_s > now]

    def mark_failed(self, instance_id: int, now: float) -> None:
        """Make ``instance_id`` fail its next health check (simulated fault)."""
        for inst in self._live:
            if inst.id == instance_id:
                inst.healthy = False
                self.events.append(PoolEvent(now, "unhealthy", inst.id, "fault injected"))
                return
        raise InputError(f"no live instance with id {instance_id}")

    # ---- scaling ---------------------------------------------------------------------
    def _active(self) -> list[_Instance]:
        return [
            i
            for i in self._live
            if i.state in (InstanceState.PENDING, InstanceState.BOOTING, InstanceState.READY)
        ]

    def scale_to(self, target: int, now: float, reason: str = "") -> int:
        """Launch or remove instances so ``target`` are ready or on their way.

        ``target`` is clamped to [min, max]; the clamped value is returned. Removal
        cancels not-yet-ready instances first (newest first, billing stops at once),
        then drains the newest ready ones for ``drain_s``.
        """
        self.tick(now)
        target = max(self.min_instances, min(self.max_instances, int(target)))
        active = self._active()
        if target > len(active):
            for _ in range(target - len(active)):
                self._launch(now, reason)
        elif target < len(active):
            surplus = len(active) - target
            not_ready = [i for i in active if i.state is not InstanceState.READY]
            ready = [i for i in active if i.state is InstanceState.READY]
            for inst in sorted(not_ready, key=lambda i: -i.launched_s)[:surplus]:
                self._end(inst, now, now, "cancel", reason)
                surplus -= 1
            for inst in sorted(ready, key=lambda i: -i.ready_at_s)[:surplus]:
                self._end(inst, now, now + self.drain_s, "drain", reason)
            self._live = [i for i in self._live if i.end_s > now]
        return target

    def resize(self, size: str, now: float, reason: str = "") -> None:
        """Use instance size ``size`` for instances launched from now on (vertical tier)."""
        if size not in SIZES:
            raise InputError(f"unknown instance size {size!r} (known: {', '.join(SIZES)})")
        self.tick(now)
        self.size = SIZES[size]
        self.events.append(PoolEvent(now, "resize", None, f"{size}: {reason}"))

    def grow_storage(self, storage_gb: float, now: float, reason: str = "") -> None:
        """Grow attached storage to ``storage_gb`` (vertical tier; storage never shrinks)."""
        if not storage_gb > self.storage_gb:
            raise InputError(
                f"storage can only grow (have {self.storage_gb} GB, asked {storage_gb} GB)"
            )
        self.tick(now)
        self.events.append(
            PoolEvent(
                now, "grow_storage", None, f"{self.storage_gb:g} -> {storage_gb:g} GB: {reason}"
            )
        )
        self.storage_gb = float(storage_gb)

    # ---- restart ---------------------------------------------------------------------
    def snapshot(self) -> dict:
        """What a restart restores (``restore``), as of the last tick: JSON-ready."""
        return {
            "at": self._last_s,
            "instances": len(self._active()),
            "size": self.size.name,
            "storage_gb": self.storage_gb,
            "cost_total": self.cost_total,
            "cost_today": self.cost_total - self._cost_at_day_start,
            "last_id": self.last_id,
            "events": [e.to_dict() for e in list(self.events)[-SAVED_EVENTS:]],
        }

    def restore(
        self,
        *,
        instances: int | None = None,
        size: str | None = None,
        storage_gb: float | None = None,
        cost_total: float = 0.0,
        cost_today: float = 0.0,
        last_id: int = 0,
        events: Sequence[PoolEvent] = (),
    ) -> int | None:
        """Start from saved state instead of the settings' (call before the first tick).

        ``instances`` (clamped to [min, max]; the clamped count is returned) replace the
        initial ones, ready at once: they kept serving while the monitor was down. The
        bill resumes at ``cost_total``, ``cost_today`` of it today's; the time the monitor
        was down is not billed (nothing was simulated then). Instance ids continue after
        ``last_id`` (the highest saved, or in ``events``), and the saved ``events`` (the
        newest ``SAVED_EVENTS`` before the restart) open the event log again.
        """
        if size is not None:
            if size not in SIZES:
                raise InputError(f"unknown instance size {size!r} (known: {', '.join(SIZES)})")
            self.size = SIZES[size]
        if storage_gb is not None:
            self.storage_gb = float(storage_gb)
        self.cost_total = float(cost_total)
        self._cost_at_day_start = self.cost_total - min(float(cost_today), self.cost_total)
        known = [e.instance_id for e in events if e.instance_id is not None]
        first = max([int(last_id), *known]) + 1
        if instances is None:  # the initial instances stay, numbered after the saved ones
            self._ids = itertools.count(first)
            ids: dict[int | None, int | None] = {}
            for inst in self._live:
                old, inst.id = inst.id, next(self._ids)
                ids[old] = self.last_id = inst.id
            mine = [
                replace(e, instance_id=ids.get(e.instance_id, e.instance_id)) for e in self.events
            ]
            self.events = deque([*events, *mine], maxlen=self.events.maxlen)
            return None
        now = self._last_s
        count = max(self.min_instances, min(self.max_instances, int(instances)))
        self._live, self._ids, self.last_id = [], itertools.count(first), first - 1
        # the initial launches it replaces never served: the saved events come back instead
        self.events = deque(events, maxlen=self.events.maxlen)
        for _ in range(count):
            inst = self._launch(now, "restored after a restart")
            inst.state, inst.booting_at_s, inst.ready_at_s = (InstanceState.READY, now, now)
        return count

    # ---- views -----------------------------------------------------------------------
    def counts(self) -> dict[InstanceState, int]:
        """Instances by state as of the last tick (terminated ones are not kept)."""
        out = {s: 0 for s in InstanceState}
        for inst in self._live:
            out[inst.state] += 1
        return out

    def state(self, now: float) -> PoolState:
        """Tick to ``now`` and return the engine's view of the pool."""
        self.tick(now)
        ready = booting = draining = 0
        for inst in self._live:
            if inst.state is InstanceState.READY:
                ready += 1
            elif inst.state is InstanceState.DRAINING:
                draining += 1
            else:
                booting += 1
        return PoolState(
            now,
            ready,
            booting,
            draining,
            self.min_instances,
            self.max_instances,
            self.size,
            self.cost_total,
            self.cost_total - self._cost_at_day_start,
            self.daily_budget,
            self.storage_gb,
            self.boot_s,
        )

    def ready_count(self) -> int:
        """Ready instances as of the last tick (the replay's per-step hot path)."""
        return sum(1 for i in self._live if i.state is InstanceState.READY)

    def ready_capacity(self) -> float:
        """Demand units served by ready instances as of the last tick."""
        return sum(i.size.capacity_units for i in self._live if i.state is InstanceState.READY)

    def instances(self) -> list[InstanceInfo]:
        """Snapshots of the live (not terminated) instances, oldest first."""
        return [
            InstanceInfo(i.id, i.size.name, i.state, i.launched_s, i.ready_at_s, i.healthy)
            for i in self._live
        ]


@dataclass(slots=True)
class SimulatedExecutor:
    """The default executor: applies the desired count to a :class:`ResourcePool`."""

    pool: ResourcePool
    name: str = field(default="simulated")

    def apply(self, desired: int, now: float, reason: str) -> ExecutionResult:
        applied = self.pool.scale_to(desired, now, reason)
        return ExecutionResult(self.name, desired, True, applied)
