"""The live engine's link to a real platform: the webhook, off the sampling path, and
the count the platform reports back (drift between what was asked and what runs).

One background thread sends every executed count (``send``) and, with a status URL,
reads the platform's count once a decision (``poll``), so a slow or dead platform never
holds up sampling. Readings come from the webhook's answer when it carries a count,
else from the status URL (``foresight.scaling.webhook``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque

from foresight.scaling.webhook import Readback, WebhookExecutor
from resource_manager import ExecutionResult

logger = logging.getLogger(__name__)

KEEP = 50  # results and readings kept for the API


class PlatformLink:
    """Send counts to the webhook and keep what the platform said it runs; thread-safe."""

    def __init__(self, webhook: WebhookExecutor) -> None:
        self.webhook = webhook
        self.results: deque[ExecutionResult] = deque(maxlen=KEEP)
        self.readings: deque[Readback] = deque(maxlen=KEEP)
        self._outbox: queue.SimpleQueue[tuple[str, int, float, str]] = queue.SimpleQueue()
        self._sender: threading.Thread | None = None
        self._lock = threading.Lock()
        self._poll_pending = False
        self._drift_since: float | None = None
        self._done = threading.Condition(self._lock)
        self._queued = self._handled = 0

    def send(self, target: int, at: float, reason: str) -> None:
        """Queue an executed count for the webhook (``at``: the decision's time)."""
        self._put(("apply", target, at, reason))

    def poll(self, desired: int, at: float) -> None:
        """Queue one status-URL reading (none without a status URL, or one pending)."""
        if self.webhook.status_url is None:
            return
        with self._lock:
            if self._poll_pending:
                return
            self._poll_pending = True
        self._put(("poll", desired, at, ""))

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until everything queued so far is handled (True) or ``timeout_s`` passes."""
        with self._done:
            return self._done.wait_for(lambda: self._handled >= self._queued, timeout_s)

    def _put(self, item: tuple[str, int, float, str]) -> None:
        with self._lock:
            self._queued += 1
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._run, daemon=True, name="scaling-webhook"
                )
                self._sender.start()
        self._outbox.put(item)

    def _run(self) -> None:
        while True:
            kind, count, at, reason = self._outbox.get()
            try:
                if kind == "apply":
                    self._apply(count, at, reason)
                else:
                    with self._lock:
                        self._poll_pending = False
                    self._note(self.webhook.read_status(count, at))
            except Exception as exc:  # one bad answer must not end the sender
                logger.exception("scaling webhook: %s of %d failed", kind, count)
                error = f"{type(exc).__name__}: {exc}"
                if kind == "apply":
                    self.results.append(
                        ExecutionResult(self.webhook.name, count, ok=False, error=error)
                    )
                source = "response" if kind == "apply" else "status_url"
                self._note(Readback(at, count, None, source, error))
            finally:
                with self._done:
                    self._handled += 1
                    self._done.notify_all()

    def _apply(self, target: int, at: float, reason: str) -> None:
        result = self.webhook.apply(target, at, reason)
        self.results.append(result)
        if result.actual is not None:
            self._note(Readback(at, target, result.actual, "response"))
        elif result.ok and self.webhook.status_url is not None:
            self._note(self.webhook.read_status(target, at))
        elif not result.ok:
            self._note(Readback(at, target, None, "response", result.error))

    def _note(self, reading: Readback) -> None:
        with self._lock:
            self.readings.append(reading)
            if reading.actual is None:
                return  # a failed reading says nothing about drift: keep the last one
            if reading.actual == reading.desired:
                self._drift_since = None
            elif self._drift_since is None:
                self._drift_since = reading.timestamp
        if reading.actual != reading.desired:
            logger.info(
                "platform runs %d instances, %d asked (%s)",
                reading.actual,
                reading.desired,
                reading.source,
            )

    def drift(self, now: float) -> dict:
        """The latest reading: asked, actual, their difference and since when it lasts."""
        with self._lock:
            readings = list(self.readings)
            since = self._drift_since
        good = next((r for r in reversed(readings) if r.actual is not None), None)
        latest = readings[-1] if readings else None
        drift = None if good is None or good.actual is None else good.desired - good.actual
        return {
            "source": None if good is None else good.source,
            "status_url": self.webhook.status_url,
            "desired_instances": None if good is None else good.desired,
            "actual_instances": None if good is None else good.actual,
            "drift_instances": drift,
            "checked_at": None if good is None else good.timestamp,
            "drift_since": since,
            "drift_for_s": None if since is None else max(0.0, now - since),
            "error": None if latest is None else latest.error,
        }
