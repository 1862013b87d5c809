"""The SQL source against real databases: MariaDB (a private mariadbd), PostgreSQL (a
private cluster) and SQLite, parametrised over the backends and time-column types.

Rows are read incrementally by time, with no duplicates across ticks and restarts; new
rows reach ``/api/metrics`` after a cycle; a database outage shows in health while the
monitor keeps sampling, and it catches up when the database is back.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy

import main
from dashboard import create_app
from foresight.core.errors import InputError
from foresight.core.settings import Settings
from foresight.core.sql_engine import make_engine
from foresight.live import services as monitor
from foresight.sources.sql import SqlSource, SqlSourceConfig
from foresight.store.metric_store import MetricStore
from tests.browser.browser_support import get_json, run_monitor, wait_for
from tests.sources.mariadb_support import MariaDB, _free_port
from tests.sources.postgres_support import Postgres
from tests.sources.sql_tables import DRIVERS, SERVER_BACKENDS, VARIANTS, SeedTable, seed_rows

NOW = 1_800_000_000.0  # whole seconds: every time type holds it exactly


@pytest.fixture(params=sorted(VARIANTS))
def table(request: pytest.FixtureRequest, tmp_path: Path) -> SeedTable:
    backend = VARIANTS[request.param][0]
    server = None if backend == "sqlite" else request.getfixturevalue(backend)
    return SeedTable(request.param, tmp_path, server)


def source_for(table: SeedTable, store: MetricStore | None = None, **kw) -> SqlSource:
    return SqlSource(SqlSourceConfig(url=table.url, table=table.name, **kw), store=store)


def expected(rows) -> list[tuple[float, dict[str, float]]]:
    return [
        (
            ts,
            {
                "server_load_percent": load,
                "db_performance_ms": db,
                "api_response_time_ms": api,
                "storage_capacity_percent": storage,
            },
        )
        for ts, load, db, api, storage in rows
    ]


def read(source: SqlSource, now: float) -> list[tuple[float, dict[str, float]]]:
    """One collect: the backlog, then the tick's sample (when not empty)."""
    newest = source.collect(now)
    out = [(s.timestamp, dict(s.values)) for s in source.take_backlog()]
    if newest.values:
        out.append((newest.timestamp, dict(newest.values)))
    return out


def test_reads_seed_rows_incrementally_without_duplicates(table: SeedTable) -> None:
    first = seed_rows(NOW - 600, 5)
    table.insert(first)
    source = source_for(table)
    source.prime()
    try:
        assert read(source, NOW) == expected(first)  # catch-up: every row, oldest first
        assert read(source, NOW + 1) == []  # nothing new: an empty tick, no repeat
        later = seed_rows(NOW - 300, 3)  # the next three minutes
        table.insert(later)
        assert read(source, NOW + 2) == expected(later)
        assert source.problems(NOW + 2) == []
        assert source.state.rows_read == 8
    finally:
        source.close()


def test_catch_up_is_spread_over_ticks_in_batches(table: SeedTable) -> None:
    rows = seed_rows(NOW - 3600, 7)
    table.insert(rows)
    source = source_for(table, batch_rows=3)
    source.prime()
    try:
        got = [read(source, NOW + i) for i in range(4)]
        assert [len(g) for g in got] == [3, 3, 1, 0]
        assert [p for g in got for p in g] == expected(rows)
    finally:
        source.close()


def test_restart_resumes_after_the_stored_rows(table: SeedTable, tmp_path: Path) -> None:
    rows = seed_rows(NOW - 600, 4)
    table.insert(rows)
    settings = Settings(data_dir=tmp_path / "data", live_models=False, live_scaling=False)
    svc = monitor.build_services(settings, now=NOW, source=lambda s: source_for(table, s))
    svc.collector.prime()
    monitor.run_cycle(svc, NOW)
    monitor.stop(svc)
    table.insert(seed_rows(NOW - 360, 2))  # two newer rows while it was down
    svc = monitor.build_services(settings, now=NOW + 5, source=lambda s: source_for(table, s))
    try:
        svc.collector.prime()
        monitor.run_cycle(svc, NOW + 5)
        stored = svc.store.raw_rows(NOW - 10_000, NOW + 10)
        times = [ts for ts, values in stored if "server_load_percent" in values]
        assert times == [r[0] for r in rows] + [NOW - 360, NOW - 300]  # each once
    finally:
        monitor.stop(svc)


@pytest.mark.parametrize("variant", ["mariadb-datetime", "postgres-timestamptz"])
def test_new_rows_appear_in_api_metrics_after_a_cycle(
    variant: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = VARIANTS[variant][0]
    table = SeedTable(variant, tmp_path, request.getfixturevalue(backend))
    settings = Settings(data_dir=tmp_path / "data")  # every stage on: models, scaling, alerts
    svc = monitor.build_services(settings, now=NOW, source=lambda s: source_for(table, s))
    svc.clock = lambda: NOW + 2
    client = create_app({"TESTING": True}, services=svc).test_client()
    try:
        svc.collector.prime()
        monitor.run_cycle(svc, NOW)  # an empty table: no sample yet, nothing fails
        assert svc.stage_errors == 0 and not svc.recent
        table.insert(seed_rows(NOW - 120, 3))
        monitor.run_cycle(svc, NOW + 1)
        body = client.get("/api/metrics?metric=server_load_percent,db_performance_ms").get_json()
        load = body["metrics"]["server_load_percent"]
        assert load["unit"] == "%" and load["critical"] == 90
        assert load["points"] == [[NOW - 120, 40.0], [NOW - 60, 41.0], [NOW, 42.0]]
        assert load["current"] == {"timestamp": NOW, "value": 42.0, "level": "ok"}
        assert body["metrics"]["db_performance_ms"]["unit"] == "ms"
        assert svc.stage_errors == 0
        health = client.get("/api/system/health").get_json()
        assert not [r for r in health["reasons"] if "SQL source" in r]
    finally:
        monitor.stop(svc)


def test_a_missing_table_or_column_is_a_clear_error(tmp_path: Path) -> None:
    table = SeedTable("sqlite-epoch", tmp_path, None)
    with pytest.raises(InputError, match="'nope' does not exist"):
        SqlSource(SqlSourceConfig(url=table.url, table="nope")).prime()
    bad = SqlSource(SqlSourceConfig(url=table.url, table=table.name, columns={"x": "cpu"}))
    with pytest.raises(InputError, match="has no column 'cpu'"):
        bad.prime()


@pytest.mark.parametrize("variant", ["mariadb-datetime", "postgres-timestamptz", "sqlite-epoch"])
def test_the_table_is_found_by_the_name_its_ddl_wrote(
    variant: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``CREATE TABLE Seed_Metrics_…``: PostgreSQL folds it to lower case, MariaDB keeps it."""
    backend = VARIANTS[variant][0]
    server = None if backend == "sqlite" else request.getfixturevalue(backend)
    table = SeedTable(variant, tmp_path, server, prefix="Seed_Metrics_")
    rows = seed_rows(NOW - 120, 2)
    table.insert(rows)
    for name in (table.name, table.name.lower(), table.name.upper()):
        source = SqlSource(SqlSourceConfig(url=table.url, table=name))
        source.prime()
        try:
            assert read(source, NOW) == expected(rows), name
        finally:
            source.close()


@pytest.mark.parametrize(
    "variant,schema", [("mariadb-datetime", "seed"), ("postgres-timestamptz", "monitoring")]
)
def test_a_schema_qualified_table_is_read(
    variant: str, schema: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``--sql-table schema.table``: PostgreSQL's schema, MySQL's database."""
    server = request.getfixturevalue(VARIANTS[variant][0])
    server.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    table = SeedTable(variant, tmp_path, server, prefix=f"{schema}.seed_")
    rows = seed_rows(NOW - 60, 2)
    table.insert(rows)
    source = source_for(table)
    source.prime()
    try:
        assert read(source, NOW) == expected(rows)
    finally:
        source.close()


def test_tables_that_differ_only_in_case_are_named_exactly(postgres: Postgres) -> None:
    postgres.execute(
        'CREATE TABLE "Twin" ("timestamp" timestamptz, server_load float8)',
        'CREATE TABLE twin ("timestamp" timestamptz, server_load float8)',
    )
    columns = {"server_load_percent": "server_load"}
    for name in ("TWIN", "Twin", "twin"):  # an exact name is never ambiguous
        source = SqlSource(SqlSourceConfig(url=postgres.url, table=name, columns=columns))
        try:
            if name == "TWIN":
                with pytest.raises(InputError, match=r"'TWIN' matches 2 tables .* \(Twin, twin\)"):
                    source.prime()
            else:
                source.prime()
        finally:
            source.close()


@pytest.mark.parametrize("variant", ["mariadb-datetime", "postgres-timestamptz"])
def test_a_locked_table_is_a_problem_not_a_hung_tick(
    variant: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Someone else's exclusive lock: the read gives up after the timeout, then catches up."""
    server = request.getfixturevalue(VARIANTS[variant][0])
    table = SeedTable(variant, tmp_path, server)
    rows = seed_rows(NOW - 60, 2)
    table.insert(rows)
    source = source_for(table, timeout_s=1.0)
    source.prime()
    try:
        with table.locked():
            done: list[list] = []
            reader = threading.Thread(target=lambda: done.append(read(source, NOW)), daemon=True)
            reader.start()
            reader.join(timeout=30)  # generous: the bound is 1 s, a hang is forever
            assert not reader.is_alive(), "the read waited on the lock past its timeout"
            assert done == [[]]
            (problem,) = source.problems(NOW + 5)
            assert "cannot be read for 5 s" in problem, problem
        assert read(source, NOW + 6) == expected(rows)  # the lock is gone: caught up
        assert source.problems(NOW + 6) == []
    finally:
        source.close()


@pytest.mark.parametrize(
    "options,search_path,statement_timeout",
    [
        ("", '"$user", public', "1s"),  # ours alone
        ("-c search_path=monitoring", "monitoring", "1s"),  # theirs kept beside ours
        ("-c statement_timeout=7s", '"$user", public', "7s"),  # theirs wins
    ],
)
def test_postgres_sessions_get_a_statement_timeout_and_keep_the_urls_options(
    options: str, search_path: str, statement_timeout: str, postgres: Postgres
) -> None:
    url = postgres.url + (f"?options={quote(options)}" if options else "")
    engine = make_engine(url, timeout_s=1.0)
    try:
        with engine.connect() as conn:
            show = {
                name: conn.execute(sqlalchemy.text(f"SHOW {name}")).scalar_one()
                for name in ("search_path", "statement_timeout")
            }
    finally:
        engine.dispose()
    assert show == {"search_path": search_path, "statement_timeout": statement_timeout}


REFUSALS = {"mariadb": "Can't connect", "postgres": "Connection refused"}  # drivers' words


@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_an_unreachable_database_is_a_problem_not_a_crash(backend: str) -> None:
    refusal = REFUSALS[backend]
    url = f"{DRIVERS[backend]}://u:secret-pw@127.0.0.1:{_free_port()}/seed"  # nobody listens
    source = SqlSource(SqlSourceConfig(url=url, table="t", timeout_s=1.0))
    source.prime()  # the monitor still starts
    sample = source.collect(NOW)
    assert dict(sample.values) == {} and sample.timestamp == NOW
    (problem,) = source.problems(NOW + 30)
    assert "cannot be read for 30 s" in problem and refusal in problem, problem
    assert "secret-pw" not in problem and "***" in problem


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--source", "sql"], "--source sql needs --sql-url"),
        (["--source", "sql", "--sql-url", "sqlite:///x.db"], "needs --sql-table"),
        (["--sql-table", "t"], "--sql-table needs --source sql"),
        (["--source", "sql", "--sql-url", "nonsense", "--sql-table", "t"], "SQLAlchemy URL"),
        (
            [
                "--source",
                "sql",
                "--sql-url",
                "sqlite:///x.db",
                "--sql-table",
                "t",
                "--sql-column",
                "x",
            ],
            "METRIC=COLUMN",
        ),
        (["--source", "prom"], "invalid choice"),
    ],
)
def test_monitor_source_flags_are_checked(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    try:
        code = main.main(["--monitor", "--port", "0", "--data-dir", str(tmp_path / "d"), *argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "d").exists()  # refused before anything was written


# a private server per test (it is stopped mid-test), and the table's variant on it
OUTAGE = {"mariadb": (MariaDB, "mariadb-datetime"), "postgres": (Postgres, "postgres-timestamp")}


@pytest.mark.slow
@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_db_outage_shows_in_health_and_the_monitor_keeps_running(
    backend: str, tmp_path: Path
) -> None:
    server_class, variant = OUTAGE[backend]
    server = server_class(tmp_path / "db")
    server.start()
    try:
        table = SeedTable(variant, tmp_path, server)
        start = float(int(time.time()))
        table.insert(seed_rows(start - 3, 3, step_s=1.0))
        args = ["--source", "sql", "--sql-table", table.name]
        env = {"FORESIGHT_SQL_URL": server.url, "FORESIGHT_LIVE_MODELS": "0"}
        with run_monitor(
            tmp_path, interval_s=0.5, needs_browser=False, extra_env=env, extra_args=args
        ) as base:
            url = f"{base}/api/metrics?metric=server_load_percent&since={start - 10}"
            wait_for(lambda: len(get_json(url)["metrics"]["server_load_percent"]["points"]) == 3)
            server.stop()
            health = wait_for(lambda: sql_reasons(get_json(f"{base}/api/system/health")))
            assert health["status"] == "degraded"
            ticks = health["ticks"]
            time.sleep(1.5)
            assert get_json(f"{base}/api/system/health")["ticks"] > ticks  # still sampling
            server.start()
            table.insert(seed_rows(start + 1, 2, step_s=1.0))
            wait_for(lambda: len(get_json(url)["metrics"]["server_load_percent"]["points"]) == 5)
            wait_for(lambda: not sql_reasons(get_json(f"{base}/api/system/health")))
            points = get_json(url)["metrics"]["server_load_percent"]["points"]
            assert [t for t, _ in points] == [start - 3, start - 2, start - 1, start + 1, start + 2]
    finally:
        server.close()


def sql_reasons(health: dict) -> dict | None:
    return health if [r for r in health["reasons"] if "SQL source" in r] else None
