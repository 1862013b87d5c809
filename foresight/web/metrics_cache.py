"""The hot path of ``GET /api/metrics``: encoded bodies kept until the next tick, and
the ring buffer's points as ready JSON text (see ``foresight.web.monitor_api``).

Most requests for the default windows neither query SQLite nor encode JSON: the body
comes from ``TickCache`` (keyed by query string, valid until the newest sample changes)
or is spliced from ``PointFragments`` encoded once per sample.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from foresight.core.catalog import MetricInfo
from foresight.live.services import Services
from metrics_collector import Sample


class TickCache:
    """Encoded responses valid until the next tick (bounded, thread-safe)."""

    def __init__(self, max_entries: int = 128) -> None:
        self.max_entries = max_entries
        self._tick: float | None = None
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.compute_lock = threading.Lock()

    def get(self, tick: float | None, key: bytes) -> bytes | None:
        with self._lock:
            if tick != self._tick:
                return None
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, tick: float | None, key: bytes, body: bytes) -> None:
        with self._lock:
            if tick != self._tick:
                self._tick, self._entries = tick, OrderedDict()
            self._entries[key] = body
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


class PointFragments:
    """The JSON text ``[t,v]`` of each ring-buffer sample's values, encoded once.

    Re-encoding 300 samples x all metrics on every tick costs ~10 ms of GIL time, which
    stalls every other request thread; joining cached fragments costs ~1 ms.
    """

    def __init__(self) -> None:
        self._by_ts: dict[float, dict[str, str]] = {}
        self._lock = threading.Lock()

    def of(self, sample: Sample) -> dict[str, str]:
        fragments = self._by_ts.get(sample.timestamp)
        if fragments is None:
            t = repr(float(sample.timestamp))
            fragments = {
                name: f"[{t},{float(v)!r}]" for name, v in sample.values.items() if math.isfinite(v)
            }
            self._by_ts[sample.timestamp] = fragments
        return fragments

    def prune(self, oldest_ts: float, max_entries: int) -> None:
        """Forget samples older than ``oldest_ts`` once the cache outgrows the buffer."""
        if len(self._by_ts) > max_entries:
            with self._lock:
                self._by_ts = {t: f for t, f in self._by_ts.items() if t >= oldest_ts}


def from_buffer(
    svc: Services,
    fragments: PointFragments,
    names: list[str],
    since: float,
    until: float,
    limit: int,
) -> dict[str, str] | None:
    """Raw points (as JSON text) from the ring buffer when it holds the whole range
    within ``limit``; None sends the query to the store."""
    recent = list(svc.recent)
    if not recent:
        return None
    complete_from = svc.recent_complete_from
    if len(recent) == svc.recent.maxlen:  # full: older samples have rotated out
        complete_from = max(complete_from, recent[0].timestamp)
    if since < complete_from:
        return None
    window = [fragments.of(s) for s in recent if since <= s.timestamp <= until]
    if len(window) > limit:
        return None
    fragments.prune(recent[0].timestamp, 2 * len(recent) + 10)
    return {name: ",".join(f[name] for f in window if name in f) for name in names}


def encode_metrics(
    header: dict[str, Any],
    names: list[str],
    current: dict[str, float],
    tick: float | None,
    points_json: dict[str, str],
    infos: dict[str, MetricInfo],
    stamps: Mapping[str, float | None] | None = None,
) -> bytes:
    """The /api/metrics body, with each metric's points spliced in as ready JSON text.

    ``stamps``: the time of a current value that is not the tick's (a held probe)."""
    parts = [json.dumps(header, separators=(",", ":"))[:-1], ',"metrics":{']
    for index, name in enumerate(names):
        info = infos[name]
        value = current.get(name)
        meta = json.dumps(
            {
                "unit": info.unit,
                "description": info.description,
                "warning": info.warning,
                "critical": info.critical,
                "current": {
                    "timestamp": None
                    if value is None
                    else tick
                    if stamps is None
                    else stamps.get(name, tick),
                    "value": value,
                    "level": info.level(value).value,
                },
            },
            separators=(",", ":"),
        )
        parts.append(
            f'{"," if index else ""}{json.dumps(name)}:{meta[:-1]},"points":[{points_json[name]}]}}'
        )
    parts.append("}}")
    return "".join(parts).encode()
