"""Records that must survive a restart (scaling decisions, ...), in the metric store's file.

One table, ``record(kind, ts, body)``: ``kind`` names the stream, ``ts`` is epoch
seconds, ``body`` a JSON object. Reads page by time (``since`` is exclusive, so a client
passes the last timestamp it has and gets only what is new). Writes are one short
transaction each, under the store's write lock, like a sample tick.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from foresight.store.metric_store import MetricStore

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS record (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, ts REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS record_kind_ts ON record (kind, ts);
"""


class RecordLog:
    """Append and page JSON records of one ``kind`` in ``store``'s database."""

    def __init__(self, store: MetricStore, kind: str, *, keep: int = 100_000) -> None:
        if not kind:
            raise ValueError("kind must be a non-empty name")
        self.store, self.kind, self.keep = store, kind, int(keep)
        with store._write_lock:
            store._conn().executescript(_SCHEMA)
        self._added = 0

    def add(self, timestamp: float, body: dict[str, Any]) -> None:
        """Store one record (JSON; non-finite numbers become null)."""
        self.add_many([(timestamp, body)])

    def add_many(self, records: list[tuple[float, dict[str, Any]]]) -> None:
        """Store ``(timestamp, body)`` records in one transaction (all or none)."""
        if not records:
            return
        rows = [
            (
                self.kind,
                float(ts),
                json.dumps(_finite(body), separators=(",", ":"), allow_nan=False),
            )
            for ts, body in records
        ]
        conn = self.store._conn()
        with self.store._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT INTO record (kind, ts, body) VALUES (?, ?, ?)", rows)
                added = self._added + len(rows)
                if added // 1000 != self._added // 1000:  # keep the newest ``keep`` of this kind
                    conn.execute(
                        "DELETE FROM record WHERE kind = ? AND id <= (SELECT id FROM record "
                        "WHERE kind = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                        (self.kind, self.kind, self.keep),
                    )
                conn.execute("COMMIT")
                self._added = added
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def page(self, since: float | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Records newer than ``since`` (all when None), oldest first, at most ``limit``:
        the newest ``limit`` when no cursor is given, else the oldest ``limit`` after it."""
        conn = self.store._conn()
        if since is None:
            rows = conn.execute(
                "SELECT body FROM (SELECT id, ts, body FROM record WHERE kind = ? "
                "ORDER BY ts DESC, id DESC LIMIT ?) ORDER BY ts, id",
                (self.kind, int(limit)),
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT body FROM record WHERE kind = ? AND ts > ? ORDER BY ts, id LIMIT ?",
                (self.kind, float(since), int(limit)),
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def count(self) -> int:
        return int(
            self.store._conn()
            .execute("SELECT COUNT(*) FROM record WHERE kind = ?", (self.kind,))
            .fetchone()[0]
        )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
