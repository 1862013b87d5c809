"""``monitor --source sql``: the SQL source's flags and how it is built.

``--source`` itself and the Prometheus flags are in ``foresight.cli.sources``. Only
argparse here, so ``main.py`` and a local monitor never import SQLAlchemy (13 MB of RSS);
the SQL source is imported and built by ``source_factory`` once it is chosen.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from foresight.core.catalog import SEED_000_COLUMNS as DEFAULT_COLUMNS
from foresight.core.errors import InputError
from foresight.core.settings import Settings
from foresight.store.json_io import NAME_RE

if TYPE_CHECKING:  # the SQL source imports SQLAlchemy: only when it is used
    from foresight.store.metric_store import MetricStore
    from metrics_collector import Collector

SQL_FLAGS = ("sql_table", "sql_column", "sql_time_column")
DEFAULT_TIME_COLUMN = "timestamp"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the SQL source's flags to the root parser (``--source sql``)."""
    group = parser.add_argument_group("SQL source (with --monitor --source sql)")
    group.add_argument(
        "--sql-url",
        metavar="URL",
        help="SQLAlchemy URL of the table's database, e.g. mysql+pymysql://user:pass@host/db, "
        "postgresql+psycopg://..., sqlite:///file.db (or env FORESIGHT_SQL_URL)",
    )
    group.add_argument("--sql-table", metavar="T", help="table to read (schema.table allowed)")
    group.add_argument(
        "--sql-column",
        action="append",
        metavar="METRIC=COLUMN",
        help="store COLUMN as metric METRIC (repeatable; default seed 000's: "
        + ", ".join(f"{m}={c}" for m, c in DEFAULT_COLUMNS.items())
        + ")",
    )
    group.add_argument(
        "--sql-time-column",
        metavar="COLUMN",
        help=f"the rows' time: DATETIME/TIMESTAMP (naive = UTC), epoch seconds or ISO text "
        f"(default {DEFAULT_TIME_COLUMN!r})",
    )


def column_mapping(items: list[str] | None) -> dict[str, str]:
    """``["METRIC=COLUMN", ...]`` as ``{metric: column}`` (None: seed 000's columns)."""
    if not items:
        return dict(DEFAULT_COLUMNS)
    mapping: dict[str, str] = {}
    for item in items:
        metric, sep, column = (part.strip() for part in item.partition("="))
        if not sep or not column or not NAME_RE.match(metric):
            raise InputError(
                f"--sql-column must be METRIC=COLUMN with a metric name of letters, digits "
                f"and _.:- (got {item!r})"
            )
        if metric in mapping:
            raise InputError(f"--sql-column names metric {metric!r} twice (got {item!r})")
        mapping[metric] = column
    return mapping


def source_factory(
    args: argparse.Namespace, settings: Settings
) -> Callable[[MetricStore], Collector] | None:
    """What ``build_services(source=...)`` needs for ``--source``; None for this host.

    Raises InputError for a SQL flag without ``--source sql`` or a missing URL/table.
    """
    source = settings.source
    given = [f"--{f.replace('_', '-')}" for f in SQL_FLAGS if getattr(args, f, None)]
    if getattr(args, "sql_url", None):
        given.insert(0, "--sql-url")
    if source != "sql":
        if given:
            raise InputError(f"{given[0]} needs --source sql (got --source {source})")
        return None
    if settings.sql_url is None:
        raise InputError("--source sql needs --sql-url URL (or env FORESIGHT_SQL_URL)")
    from foresight.core.sql_engine import redacted
    from foresight.sources.sql import SqlSource, SqlSourceConfig

    table = (getattr(args, "sql_table", None) or "").strip()
    if not table:
        raise InputError(
            f"--source sql needs --sql-table T (the table in {redacted(settings.sql_url)})"
        )
    config = SqlSourceConfig(
        url=settings.sql_url,
        table=table,
        columns=column_mapping(getattr(args, "sql_column", None)),
        time_column=(getattr(args, "sql_time_column", None) or DEFAULT_TIME_COLUMN).strip(),
        timeout_s=min(5.0, max(1.0, settings.interval_s)),
    )
    retention_s = settings.retention_days * 86_400.0

    def build(store: MetricStore) -> Collector:
        return SqlSource(config, store=store, retention_s=retention_s)

    return build
