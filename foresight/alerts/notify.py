"""Notifications: Alertmanager's ``POST /api/v2/alerts`` and its webhook payload format.

``Notifier.submit`` only puts a batch on a bounded queue (the oldest batch is dropped
when it is full), so evaluation in the sampling cycle never waits on the network. One
background thread, started on the first batch, sends each batch to every target with
retries and exponential backoff; what failed is counted and shown by ``status`` (and
``/api/system/health``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from foresight.store.alert_log import AlertRecord

logger = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end" in webhook payloads
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fingerprint(labels: Mapping[str, str]) -> str:
    text = "\xff".join(f"{k}\xfe{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One alert as notified: its record, and until when a firing alert is valid."""

    record: AlertRecord
    valid_until: float  # endsAt of a firing alert (re-sent before then); ignored if resolved

    @property
    def resolved(self) -> bool:
        return self.record.state == "resolved"

    def starts_at(self) -> float:
        return self.record.fired_at or self.record.since

    def ends_at(self) -> float:
        if self.resolved and self.record.resolved_at is not None:
            return self.record.resolved_at
        return self.valid_until


def alertmanager_body(batch: Sequence[Outgoing], generator_url: str) -> list[dict[str, Any]]:
    """The JSON list Alertmanager's ``POST /api/v2/alerts`` takes (postableAlerts)."""
    return [
        {
            "labels": o.record.all_labels(),
            "annotations": dict(o.record.annotations),
            "startsAt": rfc3339(o.starts_at()),
            "endsAt": rfc3339(o.ends_at()),
            "generatorURL": generator_url,
        }
        for o in batch
    ]


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def webhook_body(
    batch: Sequence[Outgoing], generator_url: str, external_url: str
) -> dict[str, Any]:
    """Alertmanager's webhook payload (version 4) for one batch."""
    alerts: list[dict[str, Any]] = []
    for o in batch:
        labels = o.record.all_labels()
        alerts.append(
            {
                "status": "resolved" if o.resolved else "firing",
                "labels": labels,
                "annotations": dict(o.record.annotations),
                "startsAt": rfc3339(o.starts_at()),
                "endsAt": rfc3339(o.ends_at()) if o.resolved else ZERO_TIME,
                "generatorURL": generator_url,
                "fingerprint": fingerprint(labels),
            }
        )
    common = _common([a["labels"] for a in alerts])
    return {
        "version": "4",
        "groupKey": "{}:{" + ",".join(f'{k}="{v}"' for k, v in sorted(common.items())) + "}",
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "foresight",
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


class Target:
    """One destination and its delivery counters."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind  # "alertmanager" | "webhook"
        self.url = url
        self.sent = 0
        self.failed_attempts = 0
        self.dropped = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_sent_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "sent": self.sent,
            "failed_attempts": self.failed_attempts,
            "dropped": self.dropped,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "last_sent_at": self.last_sent_at,
        }


class Notifier:
    """Send alert batches to Alertmanager and/or a webhook from a background thread."""

    def __init__(
        self,
        *,
        alertmanager_url: str | None = None,
        webhook_url: str | None = None,
        external_url: str = "http://127.0.0.1:5000",
        attempts: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 5.0,
        queue_size: int = 256,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.targets: list[Target] = []
        if alertmanager_url:
            self.targets.append(
                Target("alertmanager", alertmanager_url.rstrip("/") + "/api/v2/alerts")
            )
        if webhook_url:
            self.targets.append(Target("webhook", webhook_url))
        self.external_url = external_url
        self.generator_url = external_url.rstrip("/") + "/#alerts"
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.clock = clock
        self._queue: queue.Queue[list[Outgoing]] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.targets)

    def submit(self, batch: list[Outgoing]) -> None:
        """Queue a batch for sending (never blocks; drops the oldest batch when full)."""
        if not batch or not self.targets or self._stop.is_set():
            return
        self._ensure_thread()
        while True:
            try:
                self._queue.put_nowait(list(batch))
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    continue
                with self._lock:
                    for target in self.targets:
                        target.dropped += 1

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="foresight-alert-notifier", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            for target in self.targets:
                self._deliver(target, batch)
            self._queue.task_done()

    def _body(self, target: Target, batch: list[Outgoing]) -> bytes:
        if target.kind == "alertmanager":
            payload: Any = alertmanager_body(batch, self.generator_url)
        else:
            payload = webhook_body(batch, self.generator_url, self.external_url)
        return json.dumps(payload).encode()

    def _deliver(self, target: Target, batch: list[Outgoing]) -> bool:
        body = self._body(target, batch)
        host = urllib.parse.urlsplit(target.url).hostname or ""
        handlers = [urllib.request.ProxyHandler({})] if host in LOOPBACK else []
        opener = urllib.request.build_opener(*handlers)
        for attempt in range(self.attempts):
            request = urllib.request.Request(
                target.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "foresight"},
            )
            try:
                with opener.open(request, timeout=self.timeout_s) as response:
                    response.read()
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code} from {target.url}: {exc.read()[:200]!r}"
                exc.close()
            except (urllib.error.URLError, OSError) as exc:
                error = f"{target.url}: {getattr(exc, 'reason', exc)}"
            else:
                with self._lock:
                    target.sent += 1
                    target.last_sent_at = self.clock()
                return True
            with self._lock:
                target.failed_attempts += 1
                target.last_error, target.last_error_at = error, self.clock()
            logger.warning("alert notification attempt %d failed: %s", attempt + 1, error)
            delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
            if attempt + 1 < self.attempts and self._stop.wait(delay):
                break
        with self._lock:
            target.dropped += 1
        return False

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued batch was handled (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "queued": self._queue.qsize(),
                "targets": [t.to_dict() for t in self.targets],
            }
