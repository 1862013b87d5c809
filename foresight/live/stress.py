"""A real, bounded, cancellable CPU burn in worker processes (POST /api/stress-test).

Workers are started with the "spawn" method: forking a process that runs server and
scheduler threads can deadlock on locks held by those threads. Each worker stops by
itself at its deadline even if this process dies; ``cancel``/``stop`` terminate early.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import multiprocessing.process
import threading
import time
from dataclasses import dataclass
from typing import Any

from foresight.core.errors import InputError
from metrics_collector import cpu_count

logger = logging.getLogger(__name__)

MAX_SECONDS = 120.0
DEFAULT_SECONDS = 30.0
COOLDOWN_S = 10.0  # after a run ends or is cancelled, before the next may start


class StressBusyError(RuntimeError):
    """A stress test is already running (HTTP 409)."""


class StressCooldownError(RuntimeError):
    """The last stress test ended less than the cooldown ago (HTTP 429)."""

    def __init__(self, retry_after_s: float, cooldown_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"a stress test ended less than {cooldown_s:g} s ago; "
            f"try again in {math.ceil(retry_after_s)} s"
        )

    def retry_header(self) -> str:
        """The ``Retry-After`` value: whole seconds, rounded up."""
        return str(max(1, math.ceil(self.retry_after_s)))


def burn(seconds: float) -> None:
    """Keep one core busy for ``seconds`` (runs in a worker process)."""
    deadline = time.monotonic() + seconds
    x = 0.0
    while time.monotonic() < deadline:
        for i in range(10_000):
            x += i * i * 1e-9


@dataclass(frozen=True, slots=True)
class StressStatus:
    """Where the stress test is: running or not, its size and time left (seconds)."""

    running: bool
    seconds: float | None
    cores: int | None
    started_at: float | None
    remaining_s: float
    max_seconds: float
    max_cores: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "seconds": self.seconds,
            "cores": self.cores,
            "started_at": self.started_at,
            "remaining_s": round(self.remaining_s, 3),
            "max_seconds": self.max_seconds,
            "max_cores": self.max_cores,
        }


def validate_request(body: Any, max_cores: int) -> tuple[float, int]:
    """Check a ``{"seconds", "cores"}`` body; return (seconds, cores) or raise InputError."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InputError('the body must be a JSON object like {"seconds": 30, "cores": 1}')
    unknown = sorted(set(body) - {"seconds", "cores"})
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(unknown)}; allowed: seconds, cores")
    seconds = body.get("seconds", DEFAULT_SECONDS)
    cores = body.get("cores", 1)
    if isinstance(cores, float) and cores.is_integer():
        cores = int(cores)  # 2.0 is a whole number in JSON
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 < seconds <= MAX_SECONDS
    ):
        raise InputError(f"seconds must be a number > 0 and <= {MAX_SECONDS:g} (got {seconds!r})")
    if isinstance(cores, bool) or not isinstance(cores, int) or not 1 <= cores <= max_cores:
        raise InputError(f"cores must be a whole number from 1 to {max_cores} (got {cores!r})")
    return float(seconds), cores


class StressController:
    """Start, report and cancel one CPU burn at a time, at most one per cooldown.

    Spawning the workers is the expensive part, so a start within ``cooldown_s`` of the
    previous run's end (its deadline, or the cancel) is refused: rapid start/cancel
    cycles cannot keep the host busy spawning processes. Times are the ``now`` passed in
    (epoch seconds).
    """

    def __init__(self, max_cores: int | None = None, cooldown_s: float = COOLDOWN_S) -> None:
        self.max_cores = max_cores or cpu_count()
        self.cooldown_s = cooldown_s
        self._ended_at: float | None = None  # when the last run was cancelled
        self._lock = threading.Lock()
        self._workers: list[multiprocessing.process.BaseProcess] = []
        self._seconds: float | None = None
        self._cores: int | None = None
        self._started_at: float | None = None
        self._started_mono = 0.0

    def _alive(self) -> bool:
        return any(w.is_alive() for w in self._workers)

    def _last_end(self) -> float | None:
        """When the previous run ended: its cancel, else its deadline (None: no run)."""
        if self._started_at is None or self._seconds is None:
            return None
        deadline = self._started_at + self._seconds
        return deadline if self._ended_at is None else min(deadline, self._ended_at)

    def start(self, seconds: float, cores: int, now: float) -> StressStatus:
        """Burn ``cores`` cores for ``seconds``.

        Raises StressBusyError if one is running, StressCooldownError within the
        cooldown after the previous one.
        """
        with self._lock:
            if self._alive():
                raise StressBusyError(
                    "a stress test is already running; DELETE /api/stress-test cancels it"
                )
            ended = self._last_end()
            if ended is not None and now < ended + self.cooldown_s:
                raise StressCooldownError(ended + self.cooldown_s - now, self.cooldown_s)
            self._reap()
            ctx = multiprocessing.get_context("spawn")
            self._workers = [
                ctx.Process(target=burn, args=(seconds,), daemon=True, name=f"foresight-stress-{i}")
                for i in range(cores)
            ]
            for worker in self._workers:
                worker.start()
            self._seconds, self._cores, self._started_at = seconds, cores, now
            self._ended_at = None
            self._started_mono = time.monotonic()
            logger.info("stress test: %d core(s) for %g s", cores, seconds)
            return self._status()

    def _status(self) -> StressStatus:
        running = self._alive()
        remaining = 0.0
        if running and self._seconds is not None:
            remaining = max(0.0, self._seconds - (time.monotonic() - self._started_mono))
        return StressStatus(
            running,
            self._seconds,
            self._cores,
            self._started_at,
            remaining,
            MAX_SECONDS,
            self.max_cores,
        )

    def status(self) -> StressStatus:
        """The current (or last) stress test."""
        with self._lock:
            return self._status()

    def _reap(self, timeout_s: float = 2.0) -> None:
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
        for worker in self._workers:
            worker.join(timeout_s)
            if worker.is_alive():
                worker.kill()
                worker.join(timeout_s)
            worker.close()
        self._workers = []

    def cancel(self, now: float) -> StressStatus:
        """Stop the running burn at ``now`` (no-op when none); return the status afterwards."""
        with self._lock:
            was_running = self._alive()
            self._reap()
            if was_running:
                self._ended_at = now if self._ended_at is None else min(self._ended_at, now)
                logger.info("stress test cancelled")
            return self._status()

    def stop(self) -> None:
        """Terminate any workers (on shutdown)."""
        with self._lock:
            self._reap()
