"""The scaling engine: run a policy against the pool, and the vertical tier.

The policies and the records they exchange live in ``foresight/scaling/``
(``records``, ``forecast``, ``limits``, ``policies``, ``predictive``, ``scale_in``) and
are re-exported here, so callers import everything scaling from this module. Time is
passed in as ``now`` (epoch seconds), never read.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from foresight.core.errors import InputError
from foresight.pool.execution import Executor
from foresight.pool.records import SIZES
from foresight.scaling.forecast import DemandForecast, prob_exceeds
from foresight.scaling.limits import observed_inputs
from foresight.scaling.policies import ReactivePolicy, ThresholdPolicy
from foresight.scaling.predictive import POLICIES, HybridPolicy, PredictivePolicy, make_policy
from foresight.scaling.records import (
    EngineMode,
    Policy,
    ScalingAction,
    ScalingDecision,
    ScalingState,
)
from foresight.scaling.scale_in import ScaleInGuard, ScaleInRule
from foresight.scaling.signals import explain
from resource_manager import ResourcePool, SimulatedExecutor

logger = logging.getLogger(__name__)

__all__ = [
    "POLICIES",
    "DemandForecast",
    "EngineMode",
    "HybridPolicy",
    "Policy",
    "PredictivePolicy",
    "ReactivePolicy",
    "ScaleInGuard",
    "ScaleInRule",
    "ScalingAction",
    "ScalingDecision",
    "ScalingEngine",
    "ScalingState",
    "ThresholdPolicy",
    "VerticalPolicy",
    "make_policy",
    "prob_exceeds",
]


class ScalingEngine:
    """Run a policy against a pool: decide, then act (auto), record (dry-run) or idle.

    Non-hold decisions and manual overrides go to ``history`` (newest last); the latest
    decision of any kind is ``last_decision``.
    """

    def __init__(
        self,
        policy: Policy,
        pool: ResourcePool,
        *,
        executor: Executor | None = None,
        mode: EngineMode = EngineMode.AUTO,
        history: int = 1000,
        on_record: Callable[[ScalingDecision], None] | None = None,
    ) -> None:
        self.policy, self.pool, self.mode = policy, pool, mode
        self.on_record = on_record  # called with every decision put in ``history``
        self.executor = executor or SimulatedExecutor(pool)
        self.history: deque[ScalingDecision] = deque(maxlen=history)
        self.last_decision: ScalingDecision | None = None
        self.hold_until: float | None = None  # a manual override holds until then

    def step(
        self,
        now: float,
        demand: float,
        forecast: DemandForecast | None = None,
        *,
        signals: Mapping[str, float] | None = None,
    ) -> ScalingDecision:
        """Decide for ``demand`` (units; NaN = gap) at ``now`` and act per the mode.

        ``signals`` (name -> units, e.g. cpu and memory) are what ``demand`` was
        combined from (``foresight.scaling.signals.combine``): the decision's inputs
        carry them and its reason names the one that drove it.
        """
        state = ScalingState.from_pool(self.pool.state(now), demand)
        if self.mode is EngineMode.PAUSED:
            decision = ScalingDecision(
                now,
                self.policy.name,
                ScalingAction.HOLD,
                state.current,
                state.current,
                "engine paused: no automatic decisions",
                "paused",
                1.0,
                observed_inputs(state),
                EngineMode.PAUSED,
            )
            self.last_decision = decision
            return decision
        if self.hold_until is not None and now < self.hold_until:
            decision = ScalingDecision(
                now,
                self.policy.name,
                ScalingAction.HOLD,
                state.current,
                state.current,
                f"a manual override holds the pool at {state.current} for "
                f"{self.hold_until - now:.0f} s more; automatic decisions resume then",
                "manual-hold",
                1.0,
                {**observed_inputs(state), "hold_until": self.hold_until},
                self.mode,
            )
            self.last_decision = decision
            return decision
        decision = self.policy.decide(state, forecast, now)
        if signals is not None:
            decision = explain(decision, signals)
        if self.mode is EngineMode.DRY_RUN:
            decision = replace(decision, mode=EngineMode.DRY_RUN)
        elif decision.action is not ScalingAction.HOLD:
            result = self.executor.apply(decision.target, now, decision.reason)
            decision = replace(decision, execution=result)
        if decision.action is not ScalingAction.HOLD:
            self._record(decision)
        self.last_decision = decision
        return decision

    def _record(self, decision: ScalingDecision) -> None:
        self.history.append(decision)
        if self.on_record is not None:
            self.on_record(decision)

    def apply_vertical(self, decision: ScalingDecision, now: float) -> ScalingDecision:
        """Carry out a VerticalPolicy decision (auto mode only) and record it."""
        if decision.action is ScalingAction.HOLD:
            return decision
        if self.mode is not EngineMode.AUTO:
            decision = replace(decision, mode=self.mode)
        elif decision.action is ScalingAction.GROW_STORAGE:
            self.pool.grow_storage(decision.target, now, decision.reason)
        elif decision.action is ScalingAction.RESIZE_UP:
            size = next(n for n, s in SIZES.items() if s.capacity_units == decision.target)
            self.pool.resize(size, now, decision.reason)
        self._record(decision)
        return decision

    def override(
        self, instances: int, now: float, reason: str = "manual override", hold_s: float = 0.0
    ) -> ScalingDecision:
        """Set the count by hand and hold it ``hold_s`` seconds; InputError outside
        [min, max]. While the hold lasts, automatic steps record a "manual-hold"."""
        if not 0.0 <= hold_s <= 86_400.0:
            raise InputError(f"hold_s must be from 0 to 86400 seconds (got {hold_s})")
        pool = self.pool
        if not pool.min_instances <= instances <= pool.max_instances:
            raise InputError(
                f"instances must be between {pool.min_instances} and "
                f"{pool.max_instances} (got {instances})"
            )
        state = pool.state(now)
        action = ScalingAction.between(state.desired, instances)
        result = self.executor.apply(instances, now, reason)
        self.hold_until = now + hold_s if hold_s > 0 else None
        decision = ScalingDecision(
            now,
            "manual",
            action,
            state.desired,
            instances,
            reason,
            "manual-override",
            1.0,
            {"requested": instances, "hold_s": hold_s},
            self.mode,
            result,
        )
        self._record(decision)
        self.last_decision = decision
        return decision


class VerticalPolicy:
    """The vertical tier: grow storage ahead of a full disk; upsize when count is capped.

    Storage grows when the disk-usage forecast (percent of the current storage) crosses
    ``critical_percent`` anywhere within its horizon, to a size that puts the forecast
    peak back at ``warning_percent`` (rounded up to ``round_gb``). The instance size goes
    up one step when the horizontal policy wanted more than ``max_instances``.
    """

    name = "vertical"

    def __init__(
        self,
        *,
        warning_percent: float = 80.0,
        critical_percent: float = 90.0,
        round_gb: float = 10.0,
    ) -> None:
        if not 0 < warning_percent < critical_percent <= 100:
            raise InputError(
                f"need 0 < warning < critical <= 100 (got {warning_percent}, {critical_percent})"
            )
        self.warning, self.critical, self.round_gb = (warning_percent, critical_percent, round_gb)

    def decide_storage(
        self, storage_gb: float, disk_forecast_percent: np.ndarray | None, now: float
    ) -> ScalingDecision:
        """GROW_STORAGE when the forecast crosses critical within its horizon, else HOLD."""
        current = round(storage_gb)
        if (
            disk_forecast_percent is None
            or not len(disk_forecast_percent)
            or not np.all(np.isfinite(disk_forecast_percent))
        ):
            return ScalingDecision(
                now,
                self.name,
                ScalingAction.HOLD,
                current,
                current,
                "no complete disk forecast: storage unchanged",
                "missing-data",
                0.0,
                {"storage_gb": storage_gb},
            )
        peak = float(np.max(disk_forecast_percent))
        steps = int(np.argmax(np.asarray(disk_forecast_percent) >= self.critical))
        inputs = {"storage_gb": storage_gb, "forecast_peak_percent": round(peak, 2)}
        if peak < self.critical:
            return ScalingDecision(
                now,
                self.name,
                ScalingAction.HOLD,
                current,
                current,
                f"disk forecast peaks at {peak:.1f} %, below critical {self.critical:.0f} %",
                "disk-ok",
                1.0,
                inputs,
            )
        new_gb = math.ceil(storage_gb * peak / self.warning / self.round_gb) * self.round_gb
        return ScalingDecision(
            now,
            self.name,
            ScalingAction.GROW_STORAGE,
            current,
            int(new_gb),
            f"disk forecast reaches {peak:.1f} % (critical {self.critical:.0f} %) "
            f"{steps + 1} step(s) ahead: grow storage to {new_gb:g} GB so the peak is "
            f"{self.warning:.0f} %",
            "disk-forecast-critical",
            1.0,
            inputs,
        )

    def decide_size(
        self,
        size: str,
        horizontal: ScalingDecision | None,
        max_instances: int,
        now: float,
        *,
        instance_cores: float = 1.0,
        instance_memory_gb: float | None = None,
    ) -> ScalingDecision:
        """RESIZE_UP when ``horizontal`` was capped by max instances and a size is left.

        ``instance_cores`` / ``instance_memory_gb`` are what one capacity unit stands
        for: the inputs then say the CPU and memory of the current and the chosen size.
        """
        names = list(SIZES)
        index = names.index(size)
        units = int(SIZES[size].capacity_units)
        wanted = None if horizontal is None else horizontal.inputs.get("unlimited_target")

        def shape(name: str) -> dict:
            per = SIZES[name].capacity_units
            memory = None if instance_memory_gb is None else round(per * instance_memory_gb, 3)
            return {"size": name, "cpu_cores": per * instance_cores, "memory_gb": memory}

        if wanted is None or wanted <= max_instances or index == len(names) - 1:
            return ScalingDecision(
                now,
                self.name,
                ScalingAction.HOLD,
                units,
                units,
                f"instance size {size} is enough"
                if wanted is None or wanted <= max_instances
                else f"{size} is the largest size: {wanted} instances wanted, max {max_instances}",
                "size-ok" if wanted is None or wanted <= max_instances else "size-largest",
                1.0,
                {**shape(size), "recommended": shape(size)},
            )
        bigger = names[index + 1]
        assert horizontal is not None  # ``wanted`` came from it
        return ScalingDecision(
            now,
            self.name,
            ScalingAction.RESIZE_UP,
            units,
            int(SIZES[bigger].capacity_units),
            f"{horizontal.policy} wanted {wanted} instances but max is {max_instances}: "
            f"use {bigger} instances from now on",
            "count-capped",
            1.0,
            {**shape(size), "wanted_instances": wanted, "recommended": shape(bigger)},
        )
