"""Named state that must survive a restart (the scaling mode, the pool), in the store's file.

One table, ``state(name, ts, body)``: one row per ``name`` (replaced on every save),
``ts`` the epoch seconds it was saved at, ``body`` a JSON object. A save is one short
transaction under the store's write lock (SQLite commits it whole or not at all, so a
crash never leaves half a row). A row whose body is not a JSON object (a file edited
or damaged by hand) loads as "nothing saved", with one log line naming it: the caller
then starts from its settings.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from foresight.store.metric_store import MetricStore
from foresight.store.records import _finite

logger = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS state "
    "(name TEXT PRIMARY KEY, ts REAL NOT NULL, body TEXT NOT NULL) WITHOUT ROWID"
)


class StateTable:
    """Save and load JSON objects by name in ``store``'s database."""

    def __init__(self, store: MetricStore) -> None:
        self.store = store
        with store.transaction() as conn:
            conn.execute(_SCHEMA)

    def save(self, name: str, timestamp: float, body: dict[str, Any]) -> None:
        """Store ``body`` (JSON; non-finite numbers become null) as ``name``'s state."""
        text = json.dumps(_finite(body), separators=(",", ":"), allow_nan=False)
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO state (name, ts, body) VALUES (?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET ts = excluded.ts, body = excluded.body",
                (name, float(timestamp), text),
            )

    def load(self, name: str) -> tuple[float, dict[str, Any]] | None:
        """``(saved at, body)`` of ``name``, or None: never saved, or unreadable (logged)."""
        try:
            row = (
                self.store.reader()
                .execute("SELECT ts, body FROM state WHERE name = ?", (name,))
                .fetchone()
            )
        except sqlite3.Error as exc:
            logger.warning(
                "saved %s state not readable (%s): starting from the settings", name, exc
            )
            return None
        if row is None:
            return None
        try:
            body = json.loads(row[1])
            if not isinstance(body, dict):
                raise ValueError(f"a JSON {type(body).__name__}, not an object")
            return float(row[0]), body
        except (TypeError, ValueError) as exc:
            logger.warning(
                "saved %s state is damaged (%s): ignored, starting from the settings", name, exc
            )
            return None

    def delete(self, name: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM state WHERE name = ?", (name,))
