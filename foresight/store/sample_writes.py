"""The write side of ``MetricStore``: appends (one tick, or many in one transaction), the
rollups they keep up to date, and retention.

A mixin of ``foresight.store.metric_store.MetricStore``, which opens the connections and
owns the attributes declared below. Non-finite values are gaps and are never stored.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Iterable, Mapping

logger = logging.getLogger(__name__)

ROLLUP_RESOLUTIONS_S: tuple[int, ...] = (60, 3600)
Row = tuple[float, Mapping[str, float]]

_INSERT_RAW = "INSERT OR IGNORE INTO sample (metric_id, ts, value) VALUES (?, ?, ?)"
# Adds one raw value to its rollup bucket (used by the per-tick append path).
_ROLLUP_ADD = """
INSERT INTO rollup (res_s, metric_id, ts, n, total, ts_total, lo, hi)
VALUES (?, ?, ?, 1, ?, ?, ?, ?)
ON CONFLICT (res_s, metric_id, ts) DO UPDATE SET
    n = n + 1, total = total + excluded.total, ts_total = ts_total + excluded.ts_total,
    lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)
"""

# Recomputes rollup buckets from the raw rows (used after bulk appends; idempotent).
_ROLLUP_RECOMPUTE = """
INSERT INTO rollup (res_s, metric_id, ts, n, total, ts_total, lo, hi)
SELECT :res, metric_id, CAST(ts / :res AS INTEGER) * :res AS bucket,
       COUNT(*), SUM(value), SUM(ts), MIN(value), MAX(value)
FROM sample WHERE ts >= :lo AND ts < :hi
GROUP BY metric_id, bucket
ON CONFLICT (res_s, metric_id, ts) DO UPDATE SET
    n = excluded.n, total = excluded.total, ts_total = excluded.ts_total,
    lo = excluded.lo, hi = excluded.hi
"""


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class SampleWrites:
    """Appends and retention; the attributes below are ``MetricStore``'s."""

    retention_days: float
    minute_retention_days: float
    hour_retention_days: float
    _write_lock: threading.Lock
    _ids: dict[str, int]

    def _conn(self) -> sqlite3.Connection:
        raise NotImplementedError

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        """Roll back if a transaction is open (after SQLITE_FULL at COMMIT it is not)."""
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def _rollback_ids(self, conn: sqlite3.Connection) -> None:
        """Roll back a write that may have added metrics: an id given inside the
        rolled-back transaction is free again, so the id map is read afresh."""
        self._rollback(conn)
        self._ids = dict(conn.execute("SELECT name, id FROM metric").fetchall())

    def _metric_id(self, conn: sqlite3.Connection, name: str) -> int:
        """Return the id of ``name``, creating it (caller holds the write lock)."""
        mid = self._ids.get(name)
        if mid is None:
            conn.execute("INSERT OR IGNORE INTO metric (name) VALUES (?)", (name,))
            mid = conn.execute("SELECT id FROM metric WHERE name = ?", (name,)).fetchone()[0]
            self._ids[name] = mid
        return mid

    def append(self, timestamp: float, values: Mapping[str, float]) -> int:
        """Store one tick in one transaction; return how many values were new.

        Non-finite values (NaN, inf) are gaps and are skipped; a value already stored
        for the same metric and timestamp is kept (first write wins).

        The tick's rows go in as one ``executemany`` and their rollups as another: a
        statement per value was most of the append's CPU. When some value was already
        stored (a repeated tick: rare), the transaction is rolled back and redone row by
        row, so that only the new values reach the rollups (a savepoint instead cost more
        on every tick than the statements it saved).
        """
        ts = float(timestamp)
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._tick_rows(conn, ts, values)
                if self._insert_raw(conn, rows) != len(rows):
                    self._rollback_ids(conn)
                    conn.execute("BEGIN IMMEDIATE")
                    rows = [
                        row
                        for row in self._tick_rows(conn, ts, values)
                        if conn.execute(_INSERT_RAW, row).rowcount == 1
                    ]
                conn.executemany(
                    _ROLLUP_ADD,
                    [
                        (res, mid, float(int(ts // res) * res), value, ts, value, value)
                        for res in ROLLUP_RESOLUTIONS_S
                        for mid, _, value in rows
                    ],
                )
                conn.execute("COMMIT")
            except BaseException:
                self._rollback_ids(conn)
                raise
        return len(rows)

    def _tick_rows(
        self, conn: sqlite3.Connection, ts: float, values: Mapping[str, float]
    ) -> list[tuple[int, float, float]]:
        """``(metric_id, ts, value)`` of the finite values (caller holds the write lock)."""
        return [
            (self._metric_id(conn, name), ts, float(value))
            for name, value in values.items()
            if _finite(value)
        ]

    def append_many(self, rows: Iterable[Row]) -> int:
        """Store many ticks in one transaction (bulk load, import); return values added.

        Rollups for every bucket the batch touches are recomputed from the raw rows,
        so the result is the same as appending tick by tick.
        """
        conn = self._conn()
        added = 0
        lo, hi = math.inf, -math.inf
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                batch: list[tuple[int, float, float]] = []
                for timestamp, values in rows:
                    ts = float(timestamp)
                    for name, value in values.items():
                        if _finite(value):
                            batch.append((self._metric_id(conn, name), ts, float(value)))
                    lo, hi = min(lo, ts), max(hi, ts)
                    if len(batch) >= 50_000:
                        added += self._insert_raw(conn, batch)
                        batch = []
                added += self._insert_raw(conn, batch)
                if lo <= hi:
                    for res in ROLLUP_RESOLUTIONS_S:
                        conn.execute(
                            _ROLLUP_RECOMPUTE,
                            {
                                "res": res,
                                "lo": math.floor(lo / res) * res,
                                "hi": (math.floor(hi / res) + 1) * res,
                            },
                        )
                conn.execute("COMMIT")
            except BaseException:
                self._rollback_ids(conn)
                raise
        return added

    @staticmethod
    def _insert_raw(conn: sqlite3.Connection, batch: list[tuple[int, float, float]]) -> int:
        before = conn.total_changes
        conn.executemany(_INSERT_RAW, batch)
        return conn.total_changes - before

    def apply_retention(self, now: float) -> dict[str, int]:
        """Drop raw values and rollups older than their tier's retention; return counts.

        Cut-offs are aligned to whole hours so every remaining rollup bucket is complete.
        """
        cuts = {
            "raw": (self.retention_days, "DELETE FROM sample WHERE ts < ?"),
            "minute": (
                self.minute_retention_days,
                "DELETE FROM rollup WHERE res_s = 60 AND ts < ?",
            ),
            "hour": (self.hour_retention_days, "DELETE FROM rollup WHERE res_s = 3600 AND ts < ?"),
        }
        deleted: dict[str, int] = {}
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for tier, (days, sql) in cuts.items():
                    cutoff = math.floor((now - days * 86400.0) / 3600.0) * 3600.0
                    deleted[tier] = conn.execute(sql, (cutoff,)).rowcount
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT "
                        "(key) DO UPDATE SET value = max(value, excluded.value)",
                        (f"{tier}_since", cutoff),
                    )
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
        if any(deleted.values()):
            logger.info("retention removed %s", deleted)
        return deleted
