"""The SQL table source (seed 000): rows of a user's table, read incrementally by time.

``monitor --source sql --sql-url URL --sql-table T`` reads a table with one time column
and one column per metric, through SQLAlchemy: MySQL/MariaDB (PyMySQL), PostgreSQL
(psycopg) and SQLite by URL. Each ``collect(now)`` reads the rows newer than the last one
read (``WHERE time > :last ORDER BY time LIMIT batch``), so a restart or an outage
catches up without duplicates: the first read after start resumes after the newest
value already in the store (or ``retention`` ago, whichever is later).

``collect`` returns the newest row as the tick's ``Sample`` (an empty one when no row is
new); the older new rows wait in ``take_backlog()`` for the cycle to store first. A
database that cannot be reached, or a table that went away, never raises out of
``collect``: it shows in ``problems(now)`` (the health endpoint's reasons) until a read
succeeds again.

Time columns may be ``DATETIME``/``TIMESTAMP`` (naive values are UTC), numbers (epoch
seconds) or ISO 8601 text. Rows must be written in time order with distinct times: a
row inserted later with an older time than one already read is not seen.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import sqlalchemy
from sqlalchemy.engine import Engine
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from foresight.core.catalog import SEED_000_COLUMNS
from foresight.core.errors import InputError
from foresight.core.sql_engine import error_text, make_engine, redacted
from foresight.store.metric_store import MetricStore
from metrics_collector import VALUE_DECIMALS, Sample

logger = logging.getLogger(__name__)

DEFAULT_COLUMNS: Mapping[str, str] = MappingProxyType(dict(SEED_000_COLUMNS))
DEFAULT_TIME_COLUMN = "timestamp"
BATCH_ROWS = 10_000  # rows read per tick at most: a long catch-up spreads over ticks
STORE_FAULTS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, InputError)


@dataclass(frozen=True, slots=True)
class SqlSourceConfig:
    """Where the rows are: URL, table (``schema.table`` allowed) and column mapping."""

    url: str
    table: str
    columns: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_COLUMNS))
    time_column: str = DEFAULT_TIME_COLUMN
    timeout_s: float = 5.0
    batch_rows: int = BATCH_ROWS

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        if not self.columns:
            raise InputError("the SQL source needs at least one --sql-column METRIC=COLUMN")
        if self.batch_rows < 1:
            raise InputError(f"batch_rows must be >= 1 (got {self.batch_rows})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": redacted(self.url),
            "table": self.table,
            "columns": dict(self.columns),
            "time_column": self.time_column,
        }


@dataclass(slots=True)
class SourceState:
    """What health reports: the current failure (if any) and what was read."""

    error: str | None = None
    since: float | None = None
    failures: int = 0
    rows_read: int = 0
    last_row_at: float | None = None
    skipped_values: int = field(default=0)


def _epoch(value: Any) -> float | None:
    """Epoch seconds of a time column's value (None when it is not a time)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        try:
            return _epoch(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class SqlSource:
    """Read new rows of one table each tick; ``collect(now)`` returns the newest."""

    def __init__(
        self,
        config: SqlSourceConfig,
        *,
        store: MetricStore | None = None,
        retention_s: float | None = None,
    ) -> None:
        self.config = config
        self.store = store  # where to resume from after a restart
        self.retention_s = retention_s
        self.state = SourceState()
        self.counters: dict[str, float] = {}  # no byte counters (the /metrics collector)
        self._engine: Engine = make_engine(config.url, config.timeout_s)
        # built by _prepare from the reflected table
        self._select: sqlalchemy.Select[Any] | None = None
        self._time_col: Any = None
        self._time_name = config.time_column
        self._columns: dict[str, str] = {}  # metric -> the column's name as the table has it
        self._time_kind = "number"
        self._cursor: Any = None  # the last time value read, as the database returned it
        self._after: float | None = None  # epoch seconds already read or stored
        self._resumed = False
        self._backlog: list[Sample] = []
        self._lock = threading.Lock()

    # -- the collector interface ---------------------------------------------------
    def prime(self) -> None:
        """Check the table and its columns; a wrong name raises InputError (exit 2).

        A database that cannot be reached is not an error here: the monitor starts,
        health says why it has no rows, and the first successful read catches up.
        """
        with self._lock:
            try:
                self._prepare()
            except NoSuchTableError:
                raise InputError(
                    f"--sql-table {self.config.table!r} does not exist in "
                    f"{redacted(self.config.url)}"
                ) from None
            except SQLAlchemyError as exc:  # unreachable: health says so until it answers
                self._failed(None, exc)

    def collect(self, now: float) -> Sample:
        """Read rows newer than the last one; return the newest as a Sample.

        No new row (or a failed read) gives an empty Sample at ``now``.
        """
        with self._lock:
            try:
                if self._select is None:
                    self._prepare()
                if not self._resumed:
                    self._resume(now)
                rows = self._fetch()
            except (SQLAlchemyError, InputError) as exc:  # down, or the table changed
                self._failed(now, exc)
                return Sample(round(now, 3), {})
            if self.state.error is not None:
                logger.info("SQL source %s readable again", redacted(self.config.url))
            self.state.error = self.state.since = None
            samples = self._samples(rows)
        if not samples:
            return Sample(round(now, 3), {})
        self._backlog.extend(samples[:-1])
        return samples[-1]

    def take_backlog(self) -> list[Sample]:
        """The older rows read by the last ``collect``, oldest first (then forgotten)."""
        backlog, self._backlog = self._backlog, []
        return backlog

    def problems(self, now: float) -> list[str]:
        """Why the source is not delivering rows, for health (empty when it is)."""
        if self.state.error is None:
            return []
        since = "" if self.state.since is None else f" for {max(0.0, now - self.state.since):.0f} s"
        return [
            f"the SQL source {redacted(self.config.url)} table {self.config.table!r} "
            f"cannot be read{since}: {self.state.error}"
        ]

    def close(self) -> None:
        self._engine.dispose()

    # -- reading -------------------------------------------------------------------
    def _prepare(self) -> None:
        """Reflect the table's columns and build the incremental SELECT."""
        schema, _, name = self.config.table.rpartition(".")
        with self._engine.connect() as conn:
            inspector = sqlalchemy.inspect(conn)
            try:
                reflected = inspector.get_columns(name, schema=schema or None)
            except NoSuchTableError:
                name = self._table_by_fold(inspector, name, schema or None)
                reflected = inspector.get_columns(name, schema=schema or None)
        types = {c["name"]: c["type"] for c in reflected}
        by_fold = {n.casefold(): n for n in types}
        wanted = [self.config.time_column, *self.config.columns.values()]
        missing = [c for c in wanted if c not in types and c.casefold() not in by_fold]
        if missing:
            raise InputError(
                f"table {self.config.table!r} has no column {missing[0]!r} "
                f"(it has {', '.join(sorted(types))})"
            )
        actual = [c if c in types else by_fold[c.casefold()] for c in dict.fromkeys(wanted)]
        table = sqlalchemy.table(
            name, *(sqlalchemy.column(c, types[c]) for c in actual), schema=schema or None
        )
        time_col = table.c[actual[0]]
        self._time_kind = _kind(types[actual[0]])
        self._columns = {
            metric: table.c[c if c in types else by_fold[c.casefold()]].name
            for metric, c in self.config.columns.items()
        }
        self._time_name = time_col.name
        self._select = (
            sqlalchemy.select(*table.c)
            .where(time_col.is_not(None))
            .order_by(time_col)
            .limit(self.config.batch_rows)
        )
        self._time_col = time_col

    def _table_by_fold(self, inspector: Any, name: str, schema: str | None) -> str:
        """The one table or view named ``name`` up to case, else NoSuchTableError.

        ``CREATE TABLE Metrics`` makes ``metrics`` in PostgreSQL (unquoted names fold to
        lower case), while MariaDB keeps ``Metrics`` and compares case-sensitively: the
        name the user wrote in either database's DDL finds the table. Two candidates
        (``"Metrics"`` and ``metrics``) are an InputError naming both.
        """
        if schema is not None and not inspector.has_schema(schema):
            raise NoSuchTableError(name)  # MySQL would fail to list an unknown database
        names = [*inspector.get_table_names(schema), *inspector.get_view_names(schema)]
        matches = sorted({n for n in names if n.casefold() == name.casefold()})
        if len(matches) > 1:
            raise InputError(
                f"--sql-table {self.config.table!r} matches {len(matches)} tables that differ "
                f"only in case ({', '.join(matches)}): name one exactly"
            )
        if not matches:
            raise NoSuchTableError(name)
        logger.info("SQL source: table %r is %r in the database", name, matches[0])
        return matches[0]

    def _resume(self, now: float) -> None:
        """Start after the newest stored value of our metrics, or the retention edge."""
        floor = None if self.retention_s is None else now - self.retention_s
        stored = None
        if self.store is not None:
            try:
                latest = self.store.latest()
            except STORE_FAULTS as exc:
                logger.warning("SQL source: cannot read where to resume: %s", exc)
                latest = {}
            times = [latest[m][0] for m in self.config.columns if m in latest]
            stored = max(times) if times else None
        candidates = [t for t in (floor, stored) if t is not None]
        self._after = max(candidates) if candidates else None
        if self._after is not None:
            self._cursor = _cursor_value(self._time_kind, self._after, self._time_col)
        self._resumed = True

    def _fetch(self) -> Sequence[Any]:
        assert self._select is not None
        stmt = self._select
        if self._cursor is not None:
            stmt = stmt.where(self._time_col > self._cursor)
        with self._engine.connect() as conn:
            return conn.execute(stmt).mappings().all()

    def _samples(self, rows: Sequence[Any]) -> list[Sample]:
        """Rows to Samples, oldest first; advance the cursor past every row read."""
        samples: list[Sample] = []
        for row in rows:
            raw = row[self._time_name]
            self._cursor = raw
            ts = _epoch(raw)
            if ts is None or (self._after is not None and ts <= self._after):
                continue  # unparsable time, or already read before (text cursor, restart)
            values: dict[str, float] = {}
            for metric, column in self._columns.items():
                number = _number(row[column])
                if number is None:
                    if row[column] is not None:  # NULL is a gap; a non-number is skipped
                        self._skipped(column, row[column])
                    continue
                values[metric] = round(number, VALUE_DECIMALS)
            self._after = ts
            if values:
                samples.append(Sample(round(ts, 3), values))
        self.state.rows_read += len(rows)
        if samples:
            self.state.last_row_at = samples[-1].timestamp
        return samples

    def _skipped(self, column: str, value: Any) -> None:
        if self.state.skipped_values == 0:  # once: a text column would say it every row
            logger.warning(
                "SQL source: column %r holds a value that is not a number (%r); skipped",
                column,
                value,
            )
        self.state.skipped_values += 1

    def _failed(self, now: float | None, exc: BaseException) -> None:
        text = error_text(exc)
        if self.state.error is None:
            logger.warning("SQL source %s cannot be read: %s", redacted(self.config.url), text)
        if self.state.since is None:
            self.state.since = now
        self.state.error = text
        self.state.failures += 1


def _kind(column_type: Any) -> str:
    """How the time column's values compare: "datetime", "number" or "text"."""
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return "text"
    if issubclass(python_type, datetime):
        return "datetime"
    if issubclass(python_type, date):
        return "date"
    if issubclass(python_type, (int, float, Decimal)):
        return "number"
    return "text"


def _cursor_value(kind: str, epoch_s: float, column: Any) -> Any:
    """``epoch_s`` as a value of the time column (None: filter in Python only)."""
    if kind == "number":
        return epoch_s
    if kind == "datetime":
        moment = datetime.fromtimestamp(epoch_s, UTC)
        return moment if getattr(column.type, "timezone", False) else moment.replace(tzinfo=None)
    if kind == "date":
        return datetime.fromtimestamp(epoch_s, UTC).date()
    return None  # text: its format is the table's own; rows are skipped by time instead
