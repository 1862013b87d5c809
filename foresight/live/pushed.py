"""Pushed samples get anomaly scores and alerts, off the request path.

``POST /api/samples`` stores a batch in one transaction and hands it here; one
background thread feeds it, timestamp by timestamp, through the same per-series
stages as the cycle's sample: the anomaly detectors (``AnomalyStage.score_pushed``)
and the alert rules about a series' own values (``LiveAlerts.evaluate_pushed``).
Each series' points are taken in timestamp order and once each (points at or before
the last one a stage saw are skipped). The request waits only for the store and the
hand-over; a queue that is full (pushes faster than they can be scored) drops the
batch's scoring, not its storage, and counts it (``status``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

EXTRAS_KEY = "pushed_scoring"
MAX_QUEUED_BATCHES = 100  # at most 10,000 samples each: a million points behind
CLOSE_WAIT_S = 60.0  # close() waits this long for the row being scored (one row is ms)
Rows = list[tuple[float, dict[str, float]]]


class PushedScoring:
    """One thread that scores and alerts on pushed batches in arrival order."""

    def __init__(self, anomaly: Any | None, alerts: Any | None) -> None:
        self.anomaly = anomaly  # an AnomalyStage (live_models), or None
        self.alerts = alerts  # a LiveAlerts, or None
        self._queue: queue.Queue[Rows | None] = queue.Queue(MAX_QUEUED_BATCHES)
        self._cond = threading.Condition()
        self._pending = 0  # batches queued or being processed
        self.batches = self.points = self.dropped_batches = self.errors = 0
        self._thread: threading.Thread | None = None  # started by the first batch
        self._stop = threading.Event()  # close(): stop between two timestamps

    def submit(self, rows: Mapping[float, Mapping[str, float]]) -> bool:
        """Queue a stored batch ``{timestamp: {series key: value}}``; False if dropped."""
        batch = sorted((float(ts), dict(values)) for ts, values in rows.items())
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="foresight-pushed", daemon=True
                )
                self._thread.start()
            try:
                self._queue.put_nowait(batch)
            except queue.Full:
                self.dropped_batches += 1
                logger.warning("pushed batch of %d timestamps stored but not scored", len(batch))
                return False
            self._pending += 1
        return True

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None or self._stop.is_set():
                return
            try:
                self.process(batch)
            except Exception:  # logged with its traceback and counted; the next batch runs
                with self._cond:
                    self.errors += 1
                logger.exception("scoring a pushed batch failed")
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def process(self, batch: Rows) -> None:
        """Score then alert on each timestamp of ``batch`` (oldest first)."""
        for done, row in enumerate(batch):
            if self._stop.is_set():  # closing: the rest stays stored, unscored
                logger.info("closing: %d pushed timestamps left unscored", len(batch) - done)
                break
            if self.anomaly is not None:
                self.anomaly.score_pushed([row])
            if self.alerts is not None:
                self.alerts.evaluate_pushed([row])
        with self._cond:
            self.batches += 1
            self.points += sum(len(values) for _, values in batch)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every queued batch is processed (tests, shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout_s)

    def status(self) -> dict[str, int]:
        with self._cond:
            return {
                "batches": self.batches,
                "points": self.points,
                "queued_batches": self._queue.qsize(),
                "dropped_batches": self.dropped_batches,
                "errors": self.errors,
            }

    def close(self) -> None:
        """Stop the thread between two timestamps and wait for it (idempotent): the store
        is closed after this, so nothing may still be writing to it."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._stop.set()
            try:
                self._queue.put_nowait(None)  # wakes a thread waiting for a batch
            except queue.Full:
                pass  # the thread is busy: it sees the stop flag at its next timestamp
            thread.join(timeout=CLOSE_WAIT_S)
            if thread.is_alive():
                logger.error("pushed scoring still running %.0f s after close", CLOSE_WAIT_S)
