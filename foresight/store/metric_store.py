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

The class is composed of mixins: ``foresight.store.sample_writes`` (appends, rollups,
retention) and ``foresight.store.sample_reads`` (metric lookup, range and grid reads,
stats); reads go on through ``foresight.store.query`` (tier choice, bucket means), JSON
files through ``foresight.store.json_io``. Threads: one connection per thread
(foresight.store.connections; reads run concurrently under WAL); writes are serialised
by a lock. Timestamps are epoch seconds (UTC) as floats.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from foresight.core.errors import InputError
from foresight.store.connections import Connections
from foresight.store.faults import free_space_note
from foresight.store.sample_reads import SampleReads
from foresight.store.sample_writes import SampleWrites

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2

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


class MetricStore(SampleReads, SampleWrites):
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

    def counts(self) -> dict[str, int]:
        """Values recorded and metrics: ``stats()``'s two counts without its newest-ts
        lookups (one query per metric), for the health request the probe makes each tick."""
        conn = self._conn()
        values = conn.execute("SELECT SUM(n) FROM rollup WHERE res_s = 3600").fetchone()[0]
        metrics = conn.execute("SELECT COUNT(*) FROM metric").fetchone()[0]
        return {"values": int(values or 0), "metrics": int(metrics)}

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run one read-only query on this thread's connection."""
        return self._conn().execute(sql, params).fetchall()
