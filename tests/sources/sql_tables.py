"""Seed 000's table in a real database: MariaDB (via PyMySQL) or SQLite, by time type.

``SeedTable.insert(rows)`` writes rows of ``(epoch_s, server_load, db_performance,
api_response_time, storage_capacity)`` with the time in the table's own type.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tests.sources.mariadb_support import MariaDB

# variant -> (backend, SQL type of the time column)
VARIANTS = {
    "mariadb-datetime": ("mariadb", "DATETIME"),
    "mariadb-timestamp": ("mariadb", "TIMESTAMP NULL"),
    "mariadb-epoch": ("mariadb", "DOUBLE"),
    "sqlite-epoch": ("sqlite", "REAL"),
    "sqlite-iso-text": ("sqlite", "TEXT"),
}
Row = tuple[float, float, float, float, float]


def seed_rows(start_s: float, count: int, step_s: float = 60.0) -> list[Row]:
    """``count`` rows every ``step_s`` from ``start_s`` (whole seconds), values by index."""
    return [
        (start_s + i * step_s, 40.0 + i, 120.0 + 2 * i, 90.0 + 0.5 * i, 61.0 + 0.1 * i)
        for i in range(count)
    ]


class SeedTable:
    """A fresh seed-000 table (unique name) in MariaDB or a SQLite file."""

    def __init__(self, variant: str, tmp: Path, mariadb: MariaDB | None) -> None:
        self.backend, self.time_type = VARIANTS[variant]
        self.name = f"seed_{uuid.uuid4().hex[:10]}"
        self.mariadb = mariadb
        self.sqlite_path = tmp / "seed.db"
        ddl = (
            f"CREATE TABLE {self.name} (id INTEGER PRIMARY KEY {'AUTO_INCREMENT' if self.backend == 'mariadb' else ''},"
            f" `timestamp` {self.time_type}, server_load DOUBLE, db_performance DOUBLE,"
            " api_response_time DOUBLE, storage_capacity DOUBLE)"
        )
        self._run([ddl])

    @property
    def url(self) -> str:
        if self.backend == "mariadb":
            assert self.mariadb is not None
            return self.mariadb.url
        return f"sqlite:///{self.sqlite_path}"

    def _time(self, epoch_s: float) -> object:
        if self.time_type.startswith(("DATETIME", "TIMESTAMP")):
            return datetime.fromtimestamp(epoch_s, UTC).replace(tzinfo=None)
        if self.time_type == "TEXT":
            return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return epoch_s

    def insert(self, rows: list[Row]) -> None:
        marker = "%s" if self.backend == "mariadb" else "?"
        sql = (
            f"INSERT INTO {self.name} (`timestamp`, server_load, db_performance, "
            f"api_response_time, storage_capacity) VALUES ({', '.join([marker] * 5)})"
        )
        self._run([sql], [(self._time(r[0]), *r[1:]) for r in rows])

    def _run(self, statements: list[str], params: list[tuple] | None = None) -> None:
        if self.backend == "mariadb":
            assert self.mariadb is not None
            # the writer's session in UTC too, so TIMESTAMP columns hold what we meant
            self.mariadb.execute("SET time_zone = '+00:00'", *statements, params=params)
            return
        conn = sqlite3.connect(self.sqlite_path)
        try:
            for i, sql in enumerate(statements):
                if params is not None and i == len(statements) - 1:
                    conn.executemany(sql, params)
                else:
                    conn.execute(sql)
            conn.commit()
        finally:
            conn.close()
