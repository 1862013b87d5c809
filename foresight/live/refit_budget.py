"""The CPU the model job's refits may spend: a share of one core, accrued over time.

A fleet of 1,000 series has 4,000 models; refitting each every ``FORECAST_REFIT_S`` would
take more than a core. So refits draw on a credit of CPU seconds that grows by
``core_share`` per second of (passed-in) time, up to ``burst_s``, and is spent by what
each refit actually cost: the job's own reading of the history (``time.thread_time``)
and the fit worker's CPU for the fit (``FitOutcome.cpu_s``). The job sends the stalest
models first while there is credit, so with many series every model is refit in turn,
as often as the share allows; forecasts are re-anchored every run in between with the
models already fitted. The fit worker answers after the job has sent its fits, so the
credit can go below zero by at most what is in flight (``max_inflight`` fits).
"""

from __future__ import annotations

import math
import threading

DEFAULT_MAX_INFLIGHT = 64  # fits sent to the worker and not back yet, at most
BURST_S = 60.0  # seconds of the share that may be saved up


class RefitBudget:
    """CPU-s credit for refits (thread-safe); ``core_share=None``: no limit."""

    def __init__(
        self,
        core_share: float | None,
        *,
        burst_s: float = BURST_S,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
    ) -> None:
        if core_share is not None and not core_share > 0:
            raise ValueError(f"core_share must be > 0 (got {core_share})")
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1 (got {max_inflight})")
        self.core_share = core_share
        self.max_inflight = max_inflight
        self.limit_s = math.inf if core_share is None else core_share * burst_s
        self._lock = threading.Lock()
        self._credit_s = self.limit_s  # a start (or restart) may begin at once
        self._last_now: float | None = None
        self._spent_s = 0.0
        self._refits = 0

    def accrue(self, now: float) -> None:
        """Add the share for the time since the last call (``now`` in epoch seconds)."""
        with self._lock:
            if self._last_now is not None and self.core_share is not None:
                elapsed = max(now - self._last_now, 0.0)
                self._credit_s = min(self._credit_s + self.core_share * elapsed, self.limit_s)
            self._last_now = now if self._last_now is None else max(now, self._last_now)

    def spend(self, cpu_s: float) -> None:
        """Charge ``cpu_s`` CPU seconds that a refit (or part of one) cost."""
        with self._lock:
            self._spent_s += cpu_s
            if self.core_share is not None:
                self._credit_s -= cpu_s

    def count(self) -> None:
        """Count one refit sent (or done in-process)."""
        with self._lock:
            self._refits += 1

    def allows(self, inflight: int) -> bool:
        """True while there is credit and fewer than ``max_inflight`` fits are out
        (always, without a share: every due model is sent at once)."""
        if self.core_share is None:
            return True
        with self._lock:
            return self._credit_s > 0 and inflight < self.max_inflight

    @property
    def credit_s(self) -> float:
        """CPU seconds left to spend (inf without a share)."""
        with self._lock:
            return self._credit_s

    def to_dict(self) -> dict:
        """The share, the credit left, the CPU-s spent and refits so far (health, bench)."""
        with self._lock:
            return {
                "core_share": self.core_share,
                "credit_cpu_s": None if self.core_share is None else round(self._credit_s, 3),
                "spent_cpu_s": round(self._spent_s, 3),
                "refits": self._refits,
                "max_inflight": self.max_inflight,
            }
