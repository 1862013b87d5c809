"""Several demand signals (CPU, memory, ...) combined the way the HPA combines metrics.

The HPA computes one recommendation per metric and runs the highest. Every signal
here is already in capacity units against the same target utilisation, and the
HPA's ``ceil(demand / (capacity x target))`` is monotone in demand, so the highest
recommendation is the recommendation for the highest demand: the policies see one
demand figure, and the decision says which signal it came from. A missing signal
(NaN) is left out; with every signal missing the demand is a gap (NaN), on which no
policy scales in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import replace

from foresight.scaling.records import ScalingDecision

logger = logging.getLogger(__name__)

SIGNAL_NAMES = ("cpu", "memory")


def combine(signals: Mapping[str, float]) -> tuple[float, str | None]:
    """(the highest finite demand in units, the signal it came from); (NaN, None) if none."""
    best, name = math.nan, None
    for key, value in signals.items():
        if math.isfinite(value) and (name is None or value > best):
            best, name = float(value), key
    return best, name


def explain(decision: ScalingDecision, signals: Mapping[str, float]) -> ScalingDecision:
    """Add the per-signal demands to ``decision.inputs`` and say which one drove it.

    With one signal (or one measured) only the inputs change; with more, the reason
    ends with the driving signal and the others' figures.
    """
    demand, driver = combine(signals)
    values = {k: (round(v, 4) if math.isfinite(v) else None) for k, v in signals.items()}
    inputs = {**decision.inputs, "signals": values, "signal": driver}
    measured = [k for k, v in signals.items() if math.isfinite(v)]
    reason = decision.reason
    if driver is not None and len(measured) > 1:
        others = ", ".join(f"{k} {signals[k]:.2f}" for k in measured if k != driver)
        reason = f"{reason} [driven by {driver}: {demand:.2f} units; {others}]"
    missing = [k for k, v in signals.items() if not math.isfinite(v)]
    if missing and measured:
        inputs["signals_missing"] = missing
    return replace(decision, reason=reason, inputs=inputs)
