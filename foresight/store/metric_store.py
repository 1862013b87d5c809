"""MetricStore: the SQLite history (WAL, batched appends, downsampled reads, retention).

Layout (schema version 2, ``PRAGMA user_version``; version 2 added the alert tables):

- ``metric(id, name)`` — one row per metric name.
- ``sample(metric_id, ts, value)`` — raw values, ``WITHOUT ROWID`` keyed on
  ``(metric_id, ts)`` so a range read for one metric is one index range scan.
- ``rollup(res_s, metric_id, ts, n, total, ts_total, lo, hi)`` — 1-minute and 1-hour
  aggregates kept up to date on every append (not only at retention time): wide range
  reads (24 h, 7 d) bucket a few thousand rollup rows instead of millions of raw ones.
- ``meta(key, value)`` — where each tier's history starts after retention.
- ``alert`` and ``silence`` — alert episodes and silences, read and written by
  ``foresight.store.alert_log`` through ``transaction``/``reader``.
- ``episode(id, start_ts, end_ts, peak_score, closed, body)`` — anomaly episodes
  (version 2; ``foresight.store.episodes`` reads and writes them, ``body`` is JSON).
  A version-1 file is upgraded in place on open (the table is only added).

Durability: WAL with ``synchronous=NORMAL`` survives a process crash (``kill -9``) with
every committed transaction intact; one tick is one transaction, so a crash loses at most
the tick in flight. (Only a power cut can lose the last few commits in this mode.)

Faults (foresight.store.faults): the WAL checkpoints after fewer pages on a small
filesystem; ``ensure_file`` notices a deleted or replaced database file and opens a
fresh one; a failed transaction is rolled back only while one is still open (SQLite
ends it by itself after some errors, e.g. a full disk at COMMIT).

Reads go through storage_query (tier choice, bucket means), JSON files through
storage_json. Threads: one connection per thread (foresight.store.connections; reads
run concurrently under WAL); writes are serialised by a lock. Timestamps are epoch
seconds (UTC) as floats.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from foresight.core.errors import InputError
from foresight.store.connections import Connections
from foresight.store.faults import free_space_note
from foresight.store.query import Points, bucket_means, first_timestamp, grid_means

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
ROLLUP_RESOLUTIONS_S: tuple[int, ...] = (60, 3600)
Row = tuple[float, Mapping[str, float]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metric (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS sample (
    metric_id INTEGER NOT NULL, ts REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (metric_id, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup (
    res_s INTEGER NOT NULL, metric_id INTEGER NOT NULL, ts REAL NOT NULL,
    n INTEGER NOT NULL, total REAL NOT NULL, ts_total REAL NOT NULL,
    lo REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (res_s, metric_id, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alert (
    id INTEGER PRIMARY KEY, rule TEXT NOT NULL, metric TEXT NOT NULL,
    severity TEXT NOT NULL, state TEXT NOT NULL, value REAL, threshold REAL,
    since REAL NOT NULL, fired_at REAL, resolved_at REAL, updated_at REAL NOT NULL,
    labels TEXT NOT NULL, annotations TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_by_state ON alert (state, since);
CREATE TABLE IF NOT EXISTS silence (
    id INTEGER PRIMARY KEY, matchers TEXT NOT NULL, starts_at REAL NOT NULL,
    ends_at REAL NOT NULL, created_by TEXT NOT NULL, comment TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS episode (
    id INTEGER PRIMARY KEY, start_ts REAL NOT NULL, end_ts REAL NOT NULL,
    peak_score REAL NOT NULL, closed INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS episode_end ON episode (end_ts);
"""

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


ID_LOOKUP_MAX = 100  # metric ids looked up by name up to this many at once


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class MetricStore:
    """The metric history in one SQLite file; see the module docstring for the layout.

    ``retention_days`` keeps raw values that long; 1-minute rollups are kept for
    ``minute_retention_days`` and 1-hour rollups for ``hour_retention_days``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        retention_days: float = 7.0,
        *,
        minute_retention_days: float = 90.0,
        hour_retention_days: float = 3650.0,
    ) -> None:
        if not retention_days > 0:
            raise InputError(f"retention_days must be > 0 (got {retention_days})")
        self.path = Path(path)
        self.retention_days = float(retention_days)
        self.minute_retention_days = max(float(minute_retention_days), self.retention_days)
        self.hour_retention_days = max(float(hour_retention_days), self.minute_retention_days)
        self._pool = Connections(self.path)
        self._write_lock = self._pool.write_lock
        self._ids: dict[str, int] = {}
        try:
            self._open()
        except (OSError, sqlite3.Error) as exc:  # unwritable dir, not a database, ...
            self.close()
            raise InputError(
                f"cannot open the history store {self.path}: {exc}{free_space_note(self.path)}"
            ) from None
        except InputError:
            self.close()
            raise

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        with self._write_lock:
            self._prepare(conn)
        self._pool.note_open_file()

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Check the schema version, create the tables, load the metric ids."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InputError(
                f"store {self.path} has schema version {version}; this "
                f"Foresight reads up to version {SCHEMA_VERSION}"
            )
        conn.executescript(_SCHEMA)
        if version != SCHEMA_VERSION:  # no needless write (a full disk may refuse it)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._ids = dict(conn.execute("SELECT name, id FROM metric").fetchall())

    # -- connections -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        return self._pool.get()

    @property
    def wal_autocheckpoint_pages(self) -> int:
        """The WAL checkpoint threshold in use (smaller on a small filesystem)."""
        return self._pool.wal_autocheckpoint_pages

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        """Roll back if a transaction is open (after SQLITE_FULL at COMMIT it is not)."""
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close every connection this store opened (from any thread)."""
        self._pool.close()

    def ensure_file(self) -> str | None:
        """Reopen if the database file was deleted or replaced; say what happened.

        One ``stat`` when nothing changed (cheap enough for every tick). Otherwise every
        connection to the lost file is closed and the file now at ``path`` is opened (a
        fresh one, with its directory, when it was deleted); returns a sentence saying
        what changed and what was opened (also logged). Raises
        ``sqlite3.Error``/``OSError``/``InputError`` when that cannot be opened, and
        tries again on the next call.
        """
        change = self._pool.change()
        if change is None:
            return None
        existed = self.path.exists()
        try:
            self._pool.replace(self._prepare)
        except (sqlite3.Error, OSError) as exc:  # health and the log then say both
            raise type(exc)(f"{change}, and opening that failed: {exc}") from exc
        opened = "the new file was opened" if existed else "a fresh database was opened there"
        logger.warning("%s; %s", change, opened)
        return f"{change}; {opened}"

    def checkpoint(self) -> dict[str, int]:
        """Copy the WAL into the database and truncate it to 0 bytes.

        ``PRAGMA wal_checkpoint(TRUNCATE)``; returns SQLite's ``busy`` (1 when a reader
        kept it from finishing), ``wal_frames`` and ``checkpointed`` frame counts.
        """
        conn = self._conn()
        with self._write_lock:
            busy, frames, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return {"busy": busy, "wal_frames": frames, "checkpointed": done}

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a failed COMMIT (disk full) has already ended it
                    conn.execute("ROLLBACK")
                raise

    def reader(self) -> sqlite3.Connection:
        """This thread's connection, for reads of the other tables."""
        return self._conn()

    def __enter__(self) -> MetricStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _metric_id(self, conn: sqlite3.Connection, name: str) -> int:
        """Return the id of ``name``, creating it (caller holds the write lock)."""
        mid = self._ids.get(name)
        if mid is None:
            conn.execute("INSERT OR IGNORE INTO metric (name) VALUES (?)", (name,))
            mid = conn.execute("SELECT id FROM metric WHERE name = ?", (name,)).fetchone()[0]
            self._ids[name] = mid
        return mid

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run one read-only query on this thread's connection."""
        return self._conn().execute(sql, params).fetchall()

    # -- writes ------------------------------------------------------------------
    def append(self, timestamp: float, values: Mapping[str, float]) -> int:
        """Store one tick in one transaction; return how many values were new.

        Non-finite values (NaN, inf) are gaps and are skipped; a value already stored
        for the same metric and timestamp is kept (first write wins).
        """
        ts = float(timestamp)
        conn = self._conn()
        added = 0
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for name, value in values.items():
                    if not _finite(value):
                        continue
                    mid = self._metric_id(conn, name)
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO sample (metric_id, ts, value) VALUES (?, ?, ?)",
                        (mid, ts, float(value)),
                    )
                    if cur.rowcount != 1:
                        continue
                    added += 1
                    for res in ROLLUP_RESOLUTIONS_S:
                        bucket = float(int(ts // res) * res)
                        conn.execute(
                            _ROLLUP_ADD,
                            (res, mid, bucket, float(value), ts, float(value), float(value)),
                        )
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
        return added

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
                self._rollback(conn)
                self._ids = dict(conn.execute("SELECT name, id FROM metric").fetchall())
                raise
        return added

    @staticmethod
    def _insert_raw(conn: sqlite3.Connection, batch: list[tuple[int, float, float]]) -> int:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO sample (metric_id, ts, value) VALUES (?, ?, ?)", batch
        )
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

    # -- reads -------------------------------------------------------------------
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
        # A few (one series' read, 4,000 a minute for a fleet): look up only those, so
        # a read costs the same with 10 metrics stored or 10,000.
        marks = ",".join("?" * len(wanted))
        found = dict(
            self._conn()
            .execute(f"SELECT name, id FROM metric WHERE name IN ({marks})", wanted)
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

    def raw_rows(self, since: float, until: float) -> list[tuple[float, dict[str, float]]]:
        """Raw ticks with ``since < ts <= until``, oldest first, as ``(ts, values)``."""
        names = {mid: name for name, mid in self._known_ids(None).items()}
        rows: dict[float, dict[str, float]] = {}
        for mid, ts, value in self._conn().execute(
            "SELECT metric_id, ts, value FROM sample WHERE ts > ? AND ts <= ?", (since, until)
        ):
            rows.setdefault(ts, {})[names.get(mid, str(mid))] = value
        return sorted(rows.items())

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
        Unknown metrics are returned with no points.
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

        ``timestamps[i] = since + i*step_s`` (bucket starts, up to ``until``);
        ``values[i]`` is the mean of the values in ``[timestamps[i], timestamps[i]+step_s)``.
        This is how the forecasting and scaling code reads history.
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
            self._conn(), self._tier_since(), ids[metric], since, until, step_s, n
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
