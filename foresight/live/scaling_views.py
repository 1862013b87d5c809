"""What the live scaling engine shows: the API's status, history, resources, KEDA's
``desired`` answer and the HPA-style conditions (``foresight.live.scaling_stage`` delegates).

Each function takes the engine's lock itself (``conditions`` and ``hold_until`` run
inside callers that hold it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from foresight.pool.records import InstanceState
from foresight.scaling.records import EngineMode

if TYPE_CHECKING:
    from foresight.live.scaling_stage import LiveScaling


@dataclass(frozen=True, slots=True)
class CapacityPoint:
    """One decision tick for the capacity chart: demand, instances, the forecast used."""

    timestamp: float
    demand_units: float | None
    ready: int
    booting: int
    target: int
    forecast_units: float | None  # forecast demand at timestamp + boot lag
    forecast_upper: float | None
    cpu_units: float | None = None  # the signals demand_units is the highest of
    memory_units: float | None = None

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "demand_units": self.demand_units,
            "ready": self.ready,
            "booting": self.booting,
            "target": self.target,
            "forecast_units": self.forecast_units,
            "forecast_upper": self.forecast_upper,
            "cpu_units": self.cpu_units,
            "memory_units": self.memory_units,
        }


def _units(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


DECISIONS_PAGE = 100  # most decisions one history answer carries
TARGET_UTILISATION = 0.8  # make_policy's default: what the HPA-style rule sizes for


def desired(live: LiveScaling, now: float) -> dict:
    """KEDA's metrics-api answer: the count to run now (a dry run recommends)."""
    with live.lock:
        now = live._clamp(now)
        state = live.pool.state(now)
        last = live.engine.last_decision
        desired = state.desired
        if live.engine.mode is EngineMode.DRY_RUN and last is not None:
            desired = last.target
        return {
            "desired_instances": int(desired),
            "ready_instances": state.ready,
            "min_instances": state.min_instances,
            "max_instances": state.max_instances,
            "mode": live.engine.mode.value,
            "policy": live.engine.policy.name,
            "timestamp": now,
            "override_until": hold_until(live, now),
        }


def hold_until(live: LiveScaling, now: float) -> float | None:
    until = live.engine.hold_until
    return until if until is not None and until > now else None


def conditions(live: LiveScaling) -> list[dict]:
    """HPA-style conditions a user should see: why the engine can't do what it would."""
    out = []
    if live.max_reachable < live.max_configured:
        bound = (
            f"{live.host_memory_gb:.1f} GB of memory at {live.instance_memory_gb:.1f} GB"
            if live.host.bound_by() == "memory"
            else f"{live.host_cores} cores at {live.instance_cores:g} core(s)"
        )
        out.append(
            {
                "type": "ScalingLimited",
                "status": True,
                "reason": "HostCapacity",
                "message": (
                    f"max instances clamped from {live.max_configured} to "
                    f"{live.max_reachable}: this host's {bound} per instance never "
                    f"need more at {TARGET_UTILISATION:.0%} utilisation"
                ),
            }
        )
    drift = None if live.platform is None else live.platform.drift(live._last_now)
    if drift is not None and drift["drift_instances"]:
        out.append(
            {
                "type": "PlatformInSync",
                "status": False,
                "reason": "Drift",
                "message": (
                    f"the platform runs {drift['actual_instances']} instance(s), "
                    f"{drift['desired_instances']} asked ({drift['source']})"
                ),
            }
        )
    if live.engine.mode is not EngineMode.AUTO:
        out.append(
            {
                "type": "AbleToScale",
                "status": False,
                "reason": "DryRun" if live.engine.mode is EngineMode.DRY_RUN else "Paused",
                "message": f"mode is {live.engine.mode.value}: decisions are not carried out",
            }
        )
    return out


def status(live: LiveScaling, now: float) -> dict:
    with live.lock:
        now = live._clamp(now)
        state = live.pool.state(now)
        counts = {
            s.value: n for s, n in live.pool.counts().items() if s is not InstanceState.TERMINATED
        }
        last = live.engine.last_decision
        budget = state.daily_budget
        return {
            "policy": live.engine.policy.name,
            "mode": live.engine.mode.value,
            "interval_s": live.interval_s,
            "boot_s": live.boot_s,
            "instances": counts,
            "desired": state.desired,
            "min_instances": state.min_instances,
            "max_instances": state.max_instances,
            "capacity_units": state.ready_capacity,
            "demand_units": None if not live.points else live.points[-1].demand_units,
            "instance_cores": live.instance_cores,
            "host_cores": live.host_cores,
            "storage_gb": state.storage_gb,
            "instance_size": state.size.name,
            "cost": {
                "total_usd": round(state.cost_total, 4),
                "today_usd": round(state.cost_today, 4),
                "daily_budget_usd": budget,
                "budget_used_ratio": (
                    round(state.cost_today / budget, 4) if 0 < budget < math.inf else None
                ),
                "price_per_instance_hour_usd": state.size.price_per_hour,
            },
            "forecast_quality": live.quality(),
            "forecast_waiting": live.forecast_waiting(),
            "override_until": hold_until(live, now),
            "max_instances_configured": live.max_configured,
            "conditions": conditions(live),
            "last_decision": None if last is None else last.to_dict(),
            **_signal_status(live),
            "instance_memory_gb": round(live.instance_memory_gb, 3),
            "size_recommendation": _size_status(live),
            "platform": None if live.platform is None else live.platform.drift(now),
        }


def _signal_status(live: LiveScaling) -> dict:
    if live.demand is not None:  # SCALING_DEMAND_METRIC: one series drives demand
        values = {
            k: (round(v, 4) if math.isfinite(v) else None) for k, v in live.last_signals.items()
        }
        return {
            "demand_signals": values,
            "demand_signal": live.demand.key,
            "demand_metric": live.demand.status(),
            "forecast_source": live.forecast_source,
        }
    point = live.points[-1] if live.points else None
    values = {
        "cpu": None if point is None else point.cpu_units,
        "memory": None if point is None else point.memory_units,
    }
    values = {k: v for k, v in values.items() if k in live.signals}
    measured = {k: v for k, v in values.items() if v is not None}
    return {
        "demand_signals": values,
        "demand_signal": max(measured, key=lambda k: measured[k]) if measured else None,
        "demand_metric": None,
        "forecast_source": live.forecast_source,
    }


def _size_status(live: LiveScaling) -> dict:
    advice = live.size_advice
    size = live.pool.size
    current = {
        "size": size.name,
        "cpu_cores": size.capacity_units * live.instance_cores,
        "memory_gb": round(size.capacity_units * live.instance_memory_gb, 3),
    }
    if advice is None:
        return {**current, "current": dict(current), "rule": None, "reason": None}
    recommended = advice.inputs.get("recommended", current)
    return {
        **recommended,
        "current": current,
        "rule": advice.rule,
        "reason": advice.reason,
    }


def history(live: LiveScaling, limit: int, since: float | None = None) -> dict:
    """Capacity points and decisions, newest ``limit`` (or those after ``since``)."""
    with live.lock:
        points = [p for p in live.points if since is None or p.timestamp > since]
        page = min(limit, DECISIONS_PAGE)
        if since is None:  # the newest of each
            points = points[-limit:]
            if live.decision_log is not None:
                decisions = live.decision_log.page(None, page)
            else:
                decisions = [d.to_dict() for d in list(live.engine.history)[-page:]]
        else:  # the oldest after the cursor, one more of each to see whether either is cut
            points = points[: limit + 1]
            if live.decision_log is not None:
                decisions = live.decision_log.page(since, page + 1)
            else:
                after = [d for d in live.engine.history if d.timestamp > since]
                decisions = [d.to_dict() for d in after[: page + 1]]
            # The next page starts after the cursor (the newest timestamp returned): both
            # lists stop before the first item either had to leave out, or what lies
            # between would never be seen.
            unseen = [points[limit].timestamp] if len(points) > limit else []
            if len(decisions) > page:
                unseen.append(decisions[page]["timestamp"])
            points, decisions = points[:limit], decisions[:page]
            if unseen:
                points, decisions = _before(min(unseen), points, decisions)
        stamps = [p.timestamp for p in points] + [d["timestamp"] for d in decisions]
        return {
            "interval_s": live.interval_s,
            "boot_s": live.boot_s,
            "cursor": max(stamps, default=since),
            "points": [p.to_dict() for p in points],
            "decisions": decisions,
        }


def _before(
    edge: float, points: list[CapacityPoint], decisions: list[dict]
) -> tuple[list[CapacityPoint], list[dict]]:
    """The points and decisions before ``edge``; those at it too when none is before.

    Only a page of one instant's ties (``limit`` decisions at one timestamp) has nothing
    before its edge: some of them beat an empty page, which would end the paging.
    """
    early = (
        [p for p in points if p.timestamp < edge],
        [d for d in decisions if d["timestamp"] < edge],
    )
    if early[0] or early[1]:
        return early
    return (
        [p for p in points if p.timestamp <= edge],
        [d for d in decisions if d["timestamp"] <= edge],
    )


def resources(live: LiveScaling, now: float) -> dict:
    with live.lock:
        state = live.pool.state(live._clamp(now))
        webhook = (
            None
            if live.webhook is None
            else {
                "url": live.webhook.url,
                "results": [r.to_dict() for r in list(live.webhook_results)[-20:]],
            }
        )
        return {
            "pool": state.to_dict(),
            "executor": live.engine.executor.name,
            "webhook": webhook,
            "instances": [i.to_dict() for i in live.pool.instances()],
            "events": [e.to_dict() for e in list(live.pool.events)[-50:]],
        }
