"""SQLAlchemy engines for the user's databases: the SQL source and the DB probe.

One place decides how Foresight connects to a database it does not own: every driver
gets a connect timeout (a host that drops packets must not hold a tick for minutes) and
a bound on each query (MySQL's read timeout, PostgreSQL's ``statement_timeout``: a table
locked by someone else's transaction must not hold it either), MySQL/MariaDB sessions
run in UTC (``TIMESTAMP`` columns are converted to the session's zone on the way out),
and a pooled connection that died with its server is replaced rather than failing the
next query (``pool_pre_ping``). Passwords never reach a log line or the health endpoint:
``redacted`` hides them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from foresight.core.errors import InputError

logger = logging.getLogger(__name__)

# The pip package of each SQLAlchemy driver (``dialect+driver://``; a bare ``mysql://``
# means mysqldb, a bare ``postgresql://`` psycopg2 before SQLAlchemy 2.1 and psycopg after).
# Foresight is tested with PyMySQL and psycopg 3, the ``sql`` extra; SQLite needs none.
DRIVER_PACKAGES = {
    "pymysql": "PyMySQL",
    "psycopg": "'psycopg[binary]'",
    "psycopg2": "psycopg2-binary",
    "mysqldb": "mysqlclient",
    "mariadbconnector": "mariadb",
}
LIBPQ_DRIVERS = ("psycopg", "psycopg2")  # they take libpq's connect_timeout and options
TESTED_URLS = "mysql+pymysql://user:pass@host/db, postgresql+psycopg://user:pass@host/db"
# schemes other tools accept for a dialect SQLAlchemy names otherwise
SCHEME_ALIASES = {"postgres": "postgresql+psycopg", "pgsql": "postgresql+psycopg"}


def sql_url(raw: str, name: str) -> str:
    """Check that ``raw`` is a SQLAlchemy URL whose driver is installed; return it.

    ``name`` (a flag or variable) is named in the error, with the URL's password hidden.
    """
    text = raw.strip()
    try:
        url = make_url(text)
    except ArgumentError:
        raise InputError(
            f"{name} must be a SQLAlchemy URL such as mysql+pymysql://user:pass@host/db, "
            f"postgresql+psycopg://... or sqlite:///path.db (got {text!r})"
        ) from None
    try:
        dialect = url.get_dialect()
    except ArgumentError:  # NoSuchModuleError is one
        alias = SCHEME_ALIASES.get(url.drivername)
        hint = f"; PostgreSQL's is {alias}://" if alias else ""
        raise InputError(
            f"{name} names an unknown database dialect {url.drivername!r} "
            f"(in {redacted(text)!r}){hint}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError:
        package = DRIVER_PACKAGES.get(dialect.driver)
        install = f"pip install {package}" if package else "install it"
        raise InputError(
            f"{name}: the driver {dialect.driver!r} of {url.drivername!r} is not installed; "
            f"{install}, or use a tested driver from the 'sql' extra "
            f"(pip install 'foresight-monitor[sql]'): {TESTED_URLS}"
        ) from None
    return text


def redacted(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (for logs and health)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _timeout_args(url: URL, timeout_s: float) -> dict[str, Any]:
    backend = url.get_backend_name()
    seconds = max(1, round(timeout_s))
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": seconds, "read_timeout": seconds, "write_timeout": seconds}
    if backend == "postgresql" and url.get_driver_name() in LIBPQ_DRIVERS:
        # the server cancels a statement that runs (or waits for a lock) longer; the
        # user's own ``?options=`` come after ours, so their statement_timeout wins
        ours = f"-c statement_timeout={round(timeout_s * 1000)}"
        theirs = url.query.get("options", ())
        return {
            "connect_timeout": seconds,
            "options": " ".join([ours, *([theirs] if isinstance(theirs, str) else theirs)]),
        }
    if backend == "sqlite":
        return {"timeout": timeout_s}  # how long to wait for another writer's lock
    return {}


def make_engine(url: str, timeout_s: float, *, pre_ping: bool = True) -> Engine:
    """An engine for ``url`` (checked by ``sql_url``) whose connects time out after
    ``timeout_s`` seconds; nothing connects until the first query.

    ``pre_ping`` False (the probe): a pooled connection is not tested before use, so a
    timed ``SELECT 1`` is one round trip, and a dead connection fails that one probe.
    """
    parsed = make_url(url)
    engine = sqlalchemy.create_engine(
        parsed, connect_args=_timeout_args(parsed, timeout_s), pool_pre_ping=pre_ping
    )
    if parsed.get_backend_name() in ("mysql", "mariadb"):

        @event.listens_for(engine, "connect")
        def _utc_session(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET time_zone = '+00:00'")
            cursor.close()

    return engine


def time_select_one(engine: Engine) -> float:
    """Run ``SELECT 1`` once; return its round trip in milliseconds.

    Raises SQLAlchemy's errors (server down, bad credentials) for the caller to report.
    """
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("SELECT 1")).scalar_one()
    return (time.perf_counter() - started) * 1000.0


def error_text(exc: BaseException) -> str:
    """The driver's own message of a SQLAlchemy error, on one line, at most 300 chars."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]


class DbProbe:
    """Time ``SELECT 1`` on the user's database (``FORESIGHT_DB_PROBE_URL``) each tick.

    ``read(now)`` gives ``db_probe_ms`` and ``db_probe_success`` 1, or only
    ``db_probe_success`` 0 when the query fails; it never raises for a database
    fault. ``problems(now)`` says why while it fails (health's reasons).
    """

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self._engine = make_engine(url, timeout_s, pre_ping=False)
        self.failing: tuple[float, str] | None = None  # (since, why)

    def read(self, now: float) -> dict[str, float]:
        try:
            elapsed_ms = time_select_one(self._engine)
        except SQLAlchemyError as exc:
            why = error_text(exc)
            if self.failing is None:
                logger.warning("DB probe of %s failed: %s", redacted(self.url), why)
            self.failing = (self.failing or (now, ""))[0], why
            return {"db_probe_success": 0.0}
        if self.failing is not None:
            logger.info("DB probe of %s answers again", redacted(self.url))
        self.failing = None
        return {"db_probe_ms": elapsed_ms, "db_probe_success": 1.0}

    def problems(self, now: float) -> list[str]:
        if self.failing is None:
            return []
        since, why = self.failing
        return [f"the DB probe of {redacted(self.url)} fails ({now - since:.0f} s): {why}"]

    def close(self) -> None:
        self._engine.dispose()
