"""The seeds' LSTM among the live candidates (``FORESIGHT_LSTM=1``), on its own cadence and budget.

One LSTM fit costs 10-20 CPU-s here with Keras on JAX, most of it XLA compiling the
training step (the other candidates' fits take milliseconds), and an
*LSTM round* (a selection with the LSTM among the candidates: three validation fits, and
the final fit when it wins) tens of seconds. Following the others' hourly reselection
would cost far more than the refit target (every metric, tier and candidate within 2 CPU-s
per minute of monitor time, ``bench/bench_refit.py``). So:

* a round is the same selection as every other (``choose_served`` with ``LSTM_NAMES``,
  in the fit worker): the LSTM is validated on the same origins as the others, its
  score sits beside theirs in ``GET /api/models`` and the chart note, and it is served
  only when it wins;
* one round at a time, for the model whose last round is oldest, at most once per
  ``refit_s`` per model (again after the tier's reselection time when the history was
  still too short for the LSTM to be fitted);
* a CPU budget, a token bucket in CPU-seconds: credit grows by ``cpu_s_per_min`` per
  minute (capped at an hour's worth), the worker's measured CPU for a round is charged
  when it comes back, and no round starts while the credit is below zero, so the
  average over any window is the rate plus at most one round;
* a served LSTM is not refitted in between: its weights are kept (as arrays) and its
  forecast is re-anchored at every job run with numpy's forward pass
  (``foresight.models.numpy_lstm``); its next round chooses again among all candidates.
  The hourly reselections of other models leave the LSTM out.

Keras (on JAX) is imported only in the fit worker; the monitor checks that both are
installed without importing them (``importlib.util.find_spec``).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from foresight.core.errors import InputError
from foresight.evaluation.selection import DEFAULT_CANDIDATES
from foresight.live.forecasting import reselect_s
from foresight.live.tiers import Tier

logger = logging.getLogger(__name__)

LSTM_NAMES: tuple[str, ...] = (*DEFAULT_CANDIDATES, "lstm")
SAVED_CREDIT_MIN = 60.0  # unspent budget is kept for at most this many minutes' worth
Key = tuple[str, str]


LSTM_MODULES = ("keras", "jax")
NOT_INSTALLED = (
    "Keras 3 and JAX (the optional lstm extra) are not installed: pip install -e .[lstm]"
)


def lstm_installed() -> bool:
    """True when Keras and JAX (the lstm extra) can be imported; found without importing them."""
    for name in LSTM_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except ValueError:  # a module of that name without a spec
            return False
    return True


def require_lstm(source: str) -> None:
    """Raise InputError when ``source`` (a flag or variable) asks for the LSTM without it."""
    if not lstm_installed():
        raise InputError(
            f"{source} adds the LSTM to the live candidates, but Keras 3 and JAX (the lstm "
            "extra) are not installed: pip install -e .[lstm], or leave the LSTM off"
        )


class LstmRounds:
    """Which model gets the next LSTM round, and whether the CPU budget allows it now."""

    def __init__(self, refit_s: float, cpu_s_per_min: float) -> None:
        if refit_s <= 0 or cpu_s_per_min <= 0:
            raise ValueError(
                f"refit_s and cpu_s_per_min must be > 0 (got {refit_s}, {cpu_s_per_min})"
            )
        self.refit_s = refit_s
        self.cpu_s_per_min = cpu_s_per_min
        self._lock = threading.Lock()
        self._credit_s = 0.0
        self._credit_at: float | None = None
        self._tried: dict[Key, float] = {}
        self._inflight: Key | None = None
        self._stats: dict[str, Any] = {"rounds": 0, "cpu_s": 0.0, "lstm_chosen": 0}

    def _refill(self, now: float) -> None:
        if self._credit_at is not None and now > self._credit_at:
            cap = self.cpu_s_per_min * SAVED_CREDIT_MIN
            gained = self.cpu_s_per_min * (now - self._credit_at) / 60.0
            self._credit_s = min(self._credit_s + gained, cap)
        if self._credit_at is None or now > self._credit_at:
            self._credit_at = now

    def remember(self, key: Key, tried_at: float) -> None:
        """Record an earlier round (a saved model whose candidates include the LSTM)."""
        with self._lock:
            self._tried[key] = max(tried_at, self._tried.get(key, -math.inf))

    def forget(self, key: Key) -> None:
        """Make ``key``'s round due now (a refit was asked for), budget permitting."""
        with self._lock:
            self._tried.pop(key, None)

    def wait_s(self, tier: Tier, scored: bool) -> float:
        """Seconds between rounds of one model: ``refit_s``, or the tier's reselection
        time when the LSTM could not be fitted yet (``scored`` False: too short)."""
        return self.refit_s if scored else min(self.refit_s, reselect_s(tier))

    def take(self, now: float, candidates: list[tuple[Key, float]]) -> Key | None:
        """Start the round of the most overdue of ``candidates`` ((key, wait_s) pairs) if
        none is running and the budget is not overdrawn; returns its key, or None."""
        with self._lock:
            self._refill(now)
            if self._inflight is not None or self._credit_s < 0:
                return None
            due = [
                (self._tried.get(key, -math.inf), key)
                for key, wait in candidates
                if now - self._tried.get(key, -math.inf) >= wait
            ]
            if not due:
                return None
            key = min(due)[1]
            self._inflight = key
            return key

    def finished(self, key: Key, now: float, cpu_s: float, chosen: bool) -> None:
        """Charge a round's CPU-s (0 when it never ran) and free the slot."""
        with self._lock:
            self._refill(now)
            self._credit_s -= max(cpu_s, 0.0)
            self._tried[key] = now
            if self._inflight == key:
                self._inflight = None
            self._stats["rounds"] += 1
            self._stats["cpu_s"] += max(cpu_s, 0.0)
            self._stats["lstm_chosen"] += int(chosen)
        logger.info(
            "LSTM round for %s at %s: %.1f CPU-s, %s",
            key[0],
            key[1],
            cpu_s,
            "the LSTM is served" if chosen else "another candidate won",
        )

    def stats(self) -> dict:
        """Rounds run, their CPU-s, how often the LSTM won, the credit left (CPU-s)."""
        with self._lock:
            return {
                **self._stats,
                "cpu_s": round(float(self._stats["cpu_s"]), 3),
                "credit_s": round(self._credit_s, 3),
                "running": None if self._inflight is None else "@".join(self._inflight),
            }


class LstmCandidate:
    """``LiveModels``' side of the LSTM rounds (a mixin; the attributes are LiveModels')."""

    lstm: LstmRounds | None
    worker: Any
    _lock: threading.Lock
    _models: dict[Key, Any]
    _inflight: set[Key]
    _tiers_by_name: dict[str, Tier]
    metrics: Callable[[], list[str]]

    def _submit(
        self, metric: str, tier: Tier, now: float, names: tuple[str, ...] | None = None
    ) -> bool:
        raise NotImplementedError

    def refit(
        self, metric: str, tier: Tier, now: float, names: tuple[str, ...] | None = None
    ) -> Any:
        raise NotImplementedError

    def lstm_held(self, key: Key) -> bool:
        """True when ``key`` serves the LSTM and LSTM rounds are on: only a round refits it."""
        with self._lock:
            served = self._models.get(key)
        return self.lstm is not None and served is not None and served.name == "lstm"

    def _lstm_round(self, now: float) -> int:
        """Start one LSTM round if one is due and the budget allows (1 if started)."""
        if self.lstm is None:
            return 0
        wanted = set(self.metrics())
        with self._lock:
            models = [
                (key, served)
                for key, served in self._models.items()
                if key not in self._inflight
                and not served.fast_start
                and key[0] in wanted
                and key[1] in self._tiers_by_name
            ]
        candidates = [
            (key, self.lstm.wait_s(self._tiers_by_name[key[1]], "lstm" in served.candidates))
            for key, served in models
        ]
        key = self.lstm.take(now, candidates)
        if key is None:
            return 0
        tier = self._tiers_by_name[key[1]]
        if self.worker is not None:
            if not self._submit(key[0], tier, now, names=LSTM_NAMES):
                self.lstm.finished(key, now, 0.0, False)  # still warming up, or closed
            return 1
        started = time.process_time()
        state = self.refit(key[0], tier, now, names=LSTM_NAMES)
        self.lstm.finished(key, now, time.process_time() - started, state.model == "lstm")
        return 1

    def lstm_stats(self) -> dict | None:
        """The LSTM rounds' counters, None when the LSTM is off."""
        return None if self.lstm is None else self.lstm.stats()
