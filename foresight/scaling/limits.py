"""The limits every policy's target passes through, and the inputs every decision records.

A policy proposes a target; ``finish_decision`` applies the shared limits (never scale
in on a data gap; [min, max]; the daily budget) and labels the action, saying in the
reason which limit changed the target.
"""

from __future__ import annotations

import math

from foresight.scaling.records import ScalingAction, ScalingDecision, ScalingState
from resource_manager import DAY_S


def finish_decision(
    policy: str,
    state: ScalingState,
    now: float,
    target: int,
    rule: str,
    reason: str,
    confidence: float,
    inputs: dict,
) -> ScalingDecision:
    """Apply the limits every policy shares, then label the action.

    Limits, in order: never scale in on a data gap; [min, max]; the daily budget
    (no scale-up that the rest of today's budget cannot pay for).
    """
    raw = target
    notes = []
    if target < state.current and not math.isfinite(state.demand):
        target, rule = state.current, "missing-data"
        notes.append("no scale-in on a data gap")
    if target > state.max_instances:
        target = state.max_instances
        notes.append(f"limited by max instances {state.max_instances}")
    if target < state.min_instances:
        target = state.min_instances
        notes.append(f"raised to min instances {state.min_instances}")
    if target > state.current and 0 < state.daily_budget < math.inf:
        hours_left = max(1.0 / 60, (DAY_S - now % DAY_S) / 3600.0)
        left = state.daily_budget - state.cost_today
        affordable = math.floor(left / (state.price_per_hour * hours_left)) if left > 0 else 0
        if affordable < target:
            target = max(state.current, affordable)
            rule = "budget"
            notes.append(
                f"budget: ${state.cost_today:.2f} of ${state.daily_budget:.2f} "
                f"spent today, affords {affordable} for the rest of the day"
            )
    if notes:
        reason = f"{reason}; {'; '.join(notes)}"
        inputs = {**inputs, "unlimited_target": raw}
    action = ScalingAction.between(state.current, target)
    return ScalingDecision(
        now, policy, action, state.current, int(target), reason, rule, float(confidence), inputs
    )


def observed_inputs(state: ScalingState) -> dict:
    return {
        "demand_units": None if math.isnan(state.demand) else round(state.demand, 4),
        "ready": state.ready,
        "current": state.current,
        "utilisation": (
            None if not math.isfinite(state.utilisation) else round(state.utilisation, 4)
        ),
    }
