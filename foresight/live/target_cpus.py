"""Each target's logical CPU count, for the load thresholds judged per CPU.

The local host's count is this host's. Another target's comes from its own
``cpu_count`` series (``catalog.CPU_COUNT_METRIC``): a Prometheus query named so, e.g.
``cpu_count=count(node_cpu_seconds_total{mode="idle"}) by (instance)``, or a pushed
sample ``{"target": "web-1", "metric": "cpu_count", "value": 16}``. A count's target
serves every target whose labels include all of its own (``instance="a:9100"`` serves
``instance="a:9100",job="node"``), the most specific first. A target without a count
gets no per-CPU threshold: this host's count would make a 16-CPU server's normal load
look critical.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Iterable, Mapping

from foresight.core.catalog import CPU_COUNT_METRIC, PER_CPU_METRICS
from foresight.core.series import SEPARATOR, split_key, target_labels

logger = logging.getLogger(__name__)

REFRESH_S = 60.0
PREFIX = CPU_COUNT_METRIC + SEPARATOR
# The newest raw value of every cpu_count series of another target. The metric table
# drives the loop (a few rows) and each series' newest sample is one primary-key seek:
# written as a join, SQLite scanned the whole sample table (0.14 s of CPU a minute on
# 6 h of 1-s history, growing with retention).
LATEST_COUNTS_SQL = (
    "SELECT name, value FROM (SELECT m.name AS name, (SELECT s.value FROM sample s "
    "WHERE s.metric_id = m.id ORDER BY s.ts DESC LIMIT 1) AS value "
    "FROM metric m WHERE substr(m.name, 1, ?) = ?) WHERE value IS NOT NULL"
)


class TargetCpus:
    """``cores(target)``: a target's CPU count, None when unknown (thread-safe)."""

    def __init__(self, store, host_cpus: int, refresh_s: float = REFRESH_S) -> None:
        self.store = store
        self.host_cpus = host_cpus
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._labels: dict[str, dict[str, str] | None] = {}
        self._read_at = -math.inf

    def refresh(self, now: float) -> None:
        """Read every target's newest count from the store (at most every ``refresh_s``)."""
        if now - self._read_at < self.refresh_s:
            return
        self._read_at = now
        try:
            rows = self.store.read(LATEST_COUNTS_SQL, (len(PREFIX), PREFIX))
        except sqlite3.Error as exc:  # a store fault: keep the counts known so far
            logger.debug("CPU counts not read: %s", exc)
            return
        self.note({name: value for name, value in rows})

    def note(self, values: Mapping[str, float]) -> None:
        """Take the counts among a sample's (or a push's) values at once."""
        found = {
            split_key(key)[1]: count
            for key, value in values.items()
            if key.startswith(PREFIX) and (count := _count(value)) is not None
        }
        if not found:
            return
        with self._lock:
            self._counts.update(found)
            for target in found:
                self._labels.setdefault(target, target_labels(target))

    def cores(self, target: str) -> int | None:
        """``target``'s logical CPUs: this host's for the local target (""), the target's
        own count, or the count of the most specific target whose labels it includes."""
        if not target:
            return self.host_cpus
        with self._lock:
            if target in self._counts:
                return self._counts[target]
            labels = target_labels(target)
            if labels is None:
                return None
            best: tuple[int, set[int]] = (0, set())
            for other, count in self._counts.items():
                own = self._labels.get(other)
                if not own or any(labels.get(k) != v for k, v in own.items()):
                    continue
                if len(own) > best[0]:
                    best = (len(own), {count})
                elif len(own) == best[0]:
                    best[1].add(count)
        # Two equally specific counts that disagree: no count rather than a guess.
        return next(iter(best[1])) if len(best[1]) == 1 else None

    def unknown(self, keys: Iterable[str]) -> list[str]:
        """The targets among ``keys`` with a per-CPU metric (load) and no CPU count."""
        targets = {
            target
            for key in keys
            for metric, target in (split_key(key),)
            if target and metric in PER_CPU_METRICS
        }
        return sorted(t for t in targets if self.cores(t) is None)

    def to_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


def _count(value: float) -> int | None:
    """A usable CPU count (a positive whole number), else None."""
    if not math.isfinite(value) or value < 1:
        return None
    return round(value)
