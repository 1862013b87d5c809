"""The records every scaling policy exchanges: what it sees, what it decides, and how.

``ScalingState`` is the pool's counts and money with the measured demand (capacity units;
NaN is a data gap); ``ScalingDecision`` is one explained answer; ``Policy`` is the
``decide(state, forecast, now)`` every policy implements. Time is passed in, never read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from foresight.core.errors import InputError
from foresight.pool.execution import ExecutionResult
from foresight.pool.records import PoolState
from foresight.scaling.forecast import DemandForecast


class ScalingAction(str, Enum):
    """What a decision asks for."""

    SCALE_UP = "scale_up"
    SCALE_DOWN = "scale_down"
    HOLD = "hold"
    GROW_STORAGE = "grow_storage"
    RESIZE_UP = "resize_up"

    @classmethod
    def between(cls, current: int, target: int) -> ScalingAction:
        """SCALE_UP, SCALE_DOWN or HOLD: what going from ``current`` to ``target`` is."""
        if target > current:
            return cls.SCALE_UP
        return cls.SCALE_DOWN if target < current else cls.HOLD


class EngineMode(str, Enum):
    """auto acts; dry-run records decisions without acting; paused does neither."""

    AUTO = "auto"
    DRY_RUN = "dry-run"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class ScalingState:
    """What a policy sees: the pool's counts and money, and the measured demand.

    ``demand`` is in capacity units over the last interval; NaN means a data gap.
    """

    ready: int
    current: int  # ready + booting: what the pool is heading for
    demand: float
    min_instances: int
    max_instances: int
    capacity_per_instance: float = 1.0
    boot_s: float = 300.0
    cost_today: float = 0.0  # USD
    daily_budget: float = math.inf  # USD per day; <= 0 or inf: no budget
    price_per_hour: float = 0.10  # USD per instance-hour

    @classmethod
    def from_pool(cls, pool: PoolState, demand: float) -> ScalingState:
        """Combine a pool snapshot with the measured demand (units, NaN for a gap)."""
        return cls(
            pool.ready,
            pool.desired,
            float(demand),
            pool.min_instances,
            pool.max_instances,
            pool.size.capacity_units,
            pool.boot_s,
            pool.cost_today,
            pool.daily_budget,
            pool.size.price_per_hour,
        )

    @property
    def utilisation(self) -> float:
        """Demand / ready capacity (0-1+); inf with no ready instance, NaN on a gap."""
        cap = self.ready * self.capacity_per_instance
        return self.demand / cap if cap > 0 else math.inf


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    """One explained decision: action, counts, the rule that fired, why, and inputs."""

    timestamp: float
    policy: str
    action: ScalingAction
    current: int
    target: int
    reason: str
    rule: str
    confidence: float
    inputs: dict = field(default_factory=dict)
    mode: EngineMode = EngineMode.AUTO
    execution: ExecutionResult | None = None

    def to_dict(self) -> dict:
        return {
            "timestamp": self.timestamp,
            "policy": self.policy,
            "action": self.action.value,
            "current": self.current,
            "target": self.target,
            "reason": self.reason,
            "rule": self.rule,
            "confidence": round(self.confidence, 4),
            "inputs": dict(self.inputs),
            "mode": self.mode.value,
            "execution": None if self.execution is None else self.execution.to_dict(),
        }


class Policy(Protocol):
    name: str

    def decide(
        self, state: ScalingState, forecast: DemandForecast | None, now: float
    ) -> ScalingDecision: ...


DEFAULT_CONFIDENCE = 0.7  # CONFIDENCE_THRESHOLD's default (Settings)


def check_confidence(confidence: float) -> float:
    """``confidence`` as a float; InputError unless it is a probability in [0, 1]."""
    if not 0.0 <= confidence <= 1.0:  # NaN fails too
        raise InputError(f"confidence threshold must be from 0 to 1 (got {confidence})")
    return float(confidence)
