"""The live engine's vertical tier: grow the simulated volume, step the instance size up.

The simulated volume starts at 100 GB standing for the host's disk, and grows when the
disk-usage forecast of ``live_models`` (percent of the host's disk), rescaled to the
grown volume, crosses the critical threshold within the hour; the instance size steps up
when the count is capped at max (``VerticalPolicy.decide_size``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scaling_engine import (
    EngineMode,
    ScalingAction,
    ScalingDecision,
    ScalingEngine,
    VerticalPolicy,
)


class VerticalTier:
    """Run ``VerticalPolicy`` after each horizontal decision of ``engine``.

    ``disk_forecast`` returns the disk-usage forecast in percent of the host's disk (or
    None while there is none); without it storage never grows. ``size_advice`` is the
    policy's latest instance-size decision.
    """

    def __init__(
        self,
        engine: ScalingEngine,
        *,
        instance_cores: float,
        instance_memory_gb: float,
        disk_forecast: Callable[[], np.ndarray | None] | None = None,
    ) -> None:
        self.engine = engine
        self.policy = VerticalPolicy()
        self.instance_cores = instance_cores
        self.instance_memory_gb = instance_memory_gb
        self._base_storage_gb = engine.pool.storage_gb
        self._disk_forecast = disk_forecast
        self.size_advice: ScalingDecision | None = None

    def step(self, now: float, horizontal: ScalingDecision) -> None:
        """Grow storage if the disk forecast asks, then ask for the instance size."""
        self._storage(now)
        self._size(now, horizontal)

    def _storage(self, now: float) -> None:
        """Grow the simulated volume ahead of a full disk (live_models' forecast)."""
        if self._disk_forecast is None:
            return
        percent = self._disk_forecast()
        if percent is None:
            return
        pool = self.engine.pool
        scaled = np.asarray(percent, float) * self._base_storage_gb / pool.storage_gb
        decision = self.policy.decide_storage(pool.storage_gb, scaled, now)
        if decision.action is ScalingAction.GROW_STORAGE:
            self.engine.apply_vertical(decision, now)

    def _size(self, now: float, horizontal: ScalingDecision) -> None:
        """Ask the vertical policy for the instance size; resize (auto) when capped.

        Outside auto mode a changed recommendation is recorded once, not every interval.
        """
        pool = self.engine.pool
        advice = self.policy.decide_size(
            pool.size.name,
            horizontal,
            pool.max_instances,
            now,
            instance_cores=self.instance_cores,
            instance_memory_gb=self.instance_memory_gb,
        )
        previous, self.size_advice = self.size_advice, advice
        if advice.action is ScalingAction.RESIZE_UP and (
            self.engine.mode is EngineMode.AUTO
            or previous is None
            or previous.inputs.get("recommended") != advice.inputs.get("recommended")
        ):
            self.engine.apply_vertical(advice, now)
