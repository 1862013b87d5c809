"""The read side of ``MetricStore``: metric names and ids, the newest values, raw rows,
downsampled range reads and regular grids, cheap totals and the latency probe.

A mixin of ``foresight.store.metric_store.MetricStore``, which opens the connections; the
tier choice and bucket means are in ``foresight.store.query``.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from foresight.core.errors import InputError
from foresight.store.query import Points, bucket_means, first_timestamp, grid_means

ID_LOOKUP_MAX = 100  # metric ids looked up by name up to this many at once


class SampleReads:
    """Reads of the metric history; ``_conn`` and ``path`` are ``MetricStore``'s."""

    path: Path
    _ids: dict[str, int]

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    def metric_names(self) -> list[str]:
        """Every metric name that has been stored, sorted."""
        return sorted(r[0] for r in self._conn().execute("SELECT name FROM metric"))

    def _known_ids(self, metrics: Iterable[str] | None) -> dict[str, int]:
        if metrics is None:
            return dict(self._conn().execute("SELECT name, id FROM metric").fetchall())
        wanted = list(dict.fromkeys(metrics))
        if len(wanted) > ID_LOOKUP_MAX:  # many: one scan beats many lookups
            known = dict(self._conn().execute("SELECT name, id FROM metric").fetchall())
            return {m: known[m] for m in wanted if m in known}
        # A few (one series' read, 4,000 a minute for a fleet): ids never change once
        # given (the id map is reloaded whenever the file is opened again), so the ones
        # this process knows are answered from memory and only the others are looked
        # up, so a read costs the same with 10 metrics stored or 10,000.
        found = {m: self._ids[m] for m in wanted if m in self._ids}
        missing = [m for m in wanted if m not in found]
        if missing:
            marks = ",".join("?" * len(missing))
            found.update(
                self._conn()
                .execute(f"SELECT name, id FROM metric WHERE name IN ({marks})", missing)
                .fetchall()
            )
        return {m: found[m] for m in wanted if m in found}

    def latest(self) -> dict[str, tuple[float, float]]:
        """The newest stored ``(timestamp, value)`` of every metric."""
        conn = self._conn()
        out: dict[str, tuple[float, float]] = {}
        for name, mid in sorted(self._known_ids(None).items()):
            row = conn.execute(
                "SELECT ts, value FROM sample WHERE metric_id = ? ORDER BY ts DESC LIMIT 1", (mid,)
            ).fetchone()
            if row is not None:
                out[name] = (row[0], row[1])
        return out

    def newest(self, metric: str) -> tuple[float, float] | None:
        """``latest().get(metric)``: one metric's newest stored ``(timestamp, value)``
        with one indexed read, not one per metric (a model install anchors one
        forecast)."""
        ids = self._known_ids([metric])
        if not ids:
            return None
        row = (
            self._conn()
            .execute(
                "SELECT ts, value FROM sample WHERE metric_id = ? ORDER BY ts DESC LIMIT 1",
                (ids[metric],),
            )
            .fetchone()
        )
        return None if row is None else (row[0], row[1])

    def raw_rows(self, since: float, until: float) -> list[tuple[float, dict[str, float]]]:
        """Raw ticks with ``since < ts <= until``, oldest first, as ``(ts, values)``."""
        names = {mid: name for name, mid in self._known_ids(None).items()}
        rows: dict[float, dict[str, float]] = {}
        for mid, ts, value in self._conn().execute(
            "SELECT metric_id, ts, value FROM sample WHERE ts > ? AND ts <= ?", (since, until)
        ):
            rows.setdefault(ts, {})[names.get(mid, str(mid))] = value
        return sorted(rows.items())

    def tier_coverage(self) -> dict[str, float]:
        """Since when each tier (raw, minute, hour) holds values: a change means reads of
        the same range may now come from another tier."""
        return self._tier_since()

    def _tier_since(self) -> dict[str, float]:
        meta = dict(self._conn().execute("SELECT key, value FROM meta").fetchall())
        return {t: meta.get(f"{t}_since", -math.inf) for t in ("raw", "minute", "hour")}

    def query(
        self,
        metrics: list[str] | None,
        since: float,
        until: float,
        limit: int = 1000,
        step_s: float | None = None,
    ) -> dict[str, Points]:
        """Return ``{metric: [(ts, value), ...]}`` with at most ``limit`` points each.

        Values are bucket means over ``step_s`` seconds (widened to
        ``(until - since) / limit`` when needed); 1-point buckets are the raw values.
        Only values in ``[since, until]`` count (a chart's range: the last bucket may be
        cut short at ``until``, unlike ``series``'s). Unknown metrics have no points.
        """
        if not until >= since:
            raise InputError(f"since must be <= until (got since={since}, until={until})")
        if limit < 1:
            raise InputError(f"limit must be >= 1 (got {limit})")
        step = self.effective_step(since, until, limit, step_s)
        names = list(metrics) if metrics is not None else self.metric_names()
        ids = self._known_ids(names)
        points = bucket_means(self._conn(), self._tier_since(), ids, since, until, step, limit - 1)
        return {name: points.get(name, []) for name in names}

    def data_since(self, metrics: list[str] | None = None) -> float | None:
        """The oldest timestamp still held for ``metrics`` (all: None), None when empty."""
        return first_timestamp(self._conn(), self._known_ids(metrics))

    def effective_step(self, since: float, until: float, limit: int, step_s: float | None) -> float:
        """The bucket width ``query`` uses for these arguments, in seconds."""
        return max(step_s or 0.0, (until - since) / max(limit, 1), 1e-6)

    def series(
        self, metric: str, since: float, until: float, step_s: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return a regular grid ``(timestamps, values)`` for one metric, NaN for gaps.

        ``timestamps[i] = since + i*step_s`` (bucket starts, the last one at or before
        ``until``); ``values[i]`` is the mean of the values in
        ``[timestamps[i], timestamps[i]+step_s)``, the last bucket included whole: values
        past ``until`` in it count (``until`` only sets how many buckets), so a bucket's
        mean is the same whatever the read's bounds. To read up to ``until`` and no
        further, end it on a bucket's end (``until = last_start + step_s*(1 - 1e-6)``).
        This is how the forecasting, alerting and risk-training code reads history.
        """
        if not step_s > 0:
            raise InputError(f"step_s must be > 0 (got {step_s})")
        if not until >= since:
            raise InputError(f"since must be <= until (got since={since}, until={until})")
        n = math.floor((until - since) / step_s + 1e-9) + 1
        timestamps = since + step_s * np.arange(n, dtype=float)
        ids = self._known_ids([metric])
        if not ids:
            return timestamps, np.full(n, np.nan)
        return timestamps, grid_means(
            self._conn(), self._tier_since(), ids[metric], since, step_s, n
        )

    def stats(self) -> dict[str, float | int | None]:
        """Cheap totals: values recorded (from the hourly rollups), metrics, newest raw ts."""
        conn = self._conn()
        total = conn.execute("SELECT SUM(n), MIN(ts) FROM rollup WHERE res_s = 3600").fetchone()
        last = [
            conn.execute("SELECT MAX(ts) FROM sample WHERE metric_id = ?", (mid,)).fetchone()[0]
            for mid in self._known_ids(None).values()
        ]
        last = [t for t in last if t is not None]
        return {
            "values": int(total[0] or 0),
            "metrics": len(self._known_ids(None)),
            "first_hour_ts": total[1],
            "last_ts": max(last) if last else None,
        }

    def probe(self, now: float, window_s: float = 60.0) -> int:
        """Run the SQL latency probe: a real indexed range read; return rows seen."""
        ids = list(self._known_ids(None).values())[:1] or [0]
        return (
            self._conn()
            .execute(
                "SELECT COUNT(*) FROM sample WHERE metric_id = ? AND ts > ?",
                (ids[0], now - window_s),
            )
            .fetchone()[0]
        )

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check``: "ok" when the file is sound."""
        return self._conn().execute("PRAGMA integrity_check").fetchone()[0]

    def size_bytes(self) -> int:
        """Bytes on disk: the database file plus its WAL."""
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
