"""Open a history store for reading only: what ``export`` needs, even on read-only media.

``MetricStore`` opens its file for writing (it creates the schema and sets WAL mode), so
it cannot open a store on a read-only filesystem, a read-only file, or a folder the user
may not write to (a backup, a mounted snapshot, another user's data). Reading needs none
of that: ``connect_read_only`` opens the file with SQLite's ``mode=ro``, and when SQLite
cannot create the WAL's ``-shm`` file beside it (a read-only folder) it retries with
``immutable=1``, which tells SQLite that nobody is writing the file — true on read-only
media; on a folder that only *this* user may not write to, a live monitor could still be
writing, and the export may then miss its latest commits (never see half of one).
"""

from __future__ import annotations

import logging
import sqlite3
import urllib.parse
from pathlib import Path

from foresight.core.errors import InputError

logger = logging.getLogger(__name__)


def _uri(path: Path, immutable: bool) -> str:
    quoted = urllib.parse.quote(str(path.resolve()))
    return f"file:{quoted}?mode=ro" + ("&immutable=1" if immutable else "")


def connect_read_only(path: str | Path, schema_version: int) -> sqlite3.Connection:
    """Return a read-only connection to the store at ``path``; InputError if it cannot be
    read or has a schema newer than ``schema_version``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no history store at {path}")
    conn = None
    last: sqlite3.Error | None = None
    for immutable in (False, True):
        try:
            conn = sqlite3.connect(_uri(path, immutable), uri=True, timeout=30.0)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT name, id FROM metric LIMIT 1").fetchall()
            break
        except sqlite3.Error as exc:
            last = exc
            if conn is not None:
                conn.close()
                conn = None
    if conn is None:
        raise InputError(f"cannot read the history store {path}: {last}")
    if immutable:
        logger.info("%s: folder is read-only; reading the store as immutable", path)
    if version > schema_version:
        conn.close()
        raise InputError(
            f"store {path} has schema version {version}; this Foresight reads up to "
            f"version {schema_version}"
        )
    return conn
